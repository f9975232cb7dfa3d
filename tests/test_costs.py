"""Cost functions (simulator.costs) against closed forms and published numbers, plus
properties over random layouts and the package's layering rules.

Published numbers used:
- Narayanan et al. 2021 (SC21, arXiv 2104.04473), Eq. 3 (FLOPs per iteration) and
  Sec. 5.1 (end-to-end training time ~ 8 T P / (n X): GPT-3 175B, 300B tokens, 1024
  GPUs at 140 TFLOP/s -> about 34 days; 1T, 450B tokens, 3072 GPUs at 163 TFLOP/s ->
  about 84 days).
- Kaplan et al. 2020, Sec. 2.1: training compute C ~ 6 N FLOP per token.
- Korthikanti et al. 2022 (arXiv 2205.05198), Sec. 4: activation bytes per layer.
- Rajbhandari et al. 2020 (ZeRO), Sec. 3.1 and Fig. 1: 16 bytes/param of model
  states, and 120 / 31.4 / 16.6 / 1.9 GB for Psi = 7.5B on Nd = 64.
- Thakur, Rabenseifner & Gropp 2005: ring all-reduce 2 (p-1)/p n / B,
  all-gather (p-1)/p n / B.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import math
import sys
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.catalog import default_links, find_accelerator
from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.models import builtin_models, find_model
from simulator.core.specs import (
    Attention,
    Cluster,
    Layout,
    Precision,
    Recompute,
    Schedule,
    Transformer,
    Zero,
)
from simulator.core.units import DAY_S, GB
from simulator.costs import collectives as coll
from simulator.costs.flops import hardware_flops_per_step, model_flops_per_step, narayanan_eq3_flops
from simulator.costs.memory import (
    activation_bytes,
    device_memory,
    layer_activation_bytes,
    model_state_bytes,
    zero3_working_bytes,
)
from simulator.costs.step import Infeasible, step_costs
from simulator.engine.step import simulate_step

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "simulator"
SETTINGS = settings(max_examples=30, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

EQ3_MODELS = ["gpt3-175b", "megatron-1t", "mt-nlg-530b"]  # MHA, ffn = 4h


# ------------------------------------------------------------------ FLOPs
@pytest.mark.parametrize("key", EQ3_MODELS)
@pytest.mark.parametrize("batch", [1, 1536, 3072])
def test_flops_equal_narayanan_eq3(key, batch):
    model = find_model(key)
    assert model.ffn == 4 * model.hidden and model.n_kv_heads == model.heads
    assert model_flops_per_step(model, batch) == pytest.approx(
        narayanan_eq3_flops(model, batch, full_recompute=False), rel=1e-9)
    assert hardware_flops_per_step(model, batch, Recompute.FULL) == pytest.approx(
        narayanan_eq3_flops(model, batch, full_recompute=True), rel=1e-9)
    assert hardware_flops_per_step(model, batch, Recompute.NONE) == model_flops_per_step(model, batch)


@pytest.mark.parametrize("key", EQ3_MODELS)
def test_narayanan_eq3_written_out(key):
    """Eq. 3 by hand (so that a wrong `narayanan_eq3_flops` is caught too)."""
    m = find_model(key)
    B, s, l, h, V = 512, m.seq_len, m.layers, m.hidden, m.vocab
    assert narayanan_eq3_flops(m, B, False) == pytest.approx(
        72 * B * s * l * h * h * (1 + s / (6 * h) + V / (12 * l * h)), rel=1e-12)
    assert narayanan_eq3_flops(m, B, True) == pytest.approx(
        96 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h)), rel=1e-12)


def test_six_n_d_rule_for_gpt3():
    """Kaplan et al. 2020: about 6 N training FLOP per token (N = parameters)."""
    gpt3 = find_model("gpt3-175b")
    per_token = model_flops_per_step(gpt3, 1) / gpt3.seq_len
    assert per_token == pytest.approx(6 * gpt3.params, rel=0.05)
    assert per_token == pytest.approx(6 * 175e9, rel=0.05)


@pytest.mark.parametrize("key,tokens,gpus,tflops,days", [
    ("gpt3-175b", 300e9, 1024, 140e12, 34),   # Narayanan 2021 Sec. 5.1
    ("megatron-1t", 450e9, 3072, 163e12, 84),  # Narayanan 2021 Sec. 5.1
])
def test_narayanan_training_time_estimates(key, tokens, gpus, tflops, days):
    """Hardware FLOP per token (full recompute) x tokens / (n X): the paper's days."""
    model = find_model(key)
    per_token = hardware_flops_per_step(model, 1, Recompute.FULL) / model.seq_len
    assert per_token * tokens / (gpus * tflops) / DAY_S == pytest.approx(days, rel=0.05)


# ------------------------------------------------------------------ random layouts
A100 = find_accelerator("a100-80gb")
INTRA, INTER, PER_NODE = default_links("a100-80gb")
GPT22 = find_model("gpt-22b")
CLUSTER64 = Cluster(A100, 64, PER_NODE, INTRA, INTER)
BATCH64 = 128


@cache
def layouts_22b(feasible_only: bool) -> tuple[Layout, ...]:
    """All structurally valid (and, if asked, memory-feasible) layouts of gpt-22b on
    64 A100s at global batch 128."""
    eff = default_efficiency()
    out = []
    for tp in (1, 2, 4, 8):
        for pp in (1, 2, 4, 8, 16):
            if 64 % (tp * pp) or GPT22.layers % pp:
                continue
            dp = 64 // (tp * pp)
            for mb in (1, 2, 4):
                for schedule, v in ((Schedule.ONE_F_ONE_B, 1), (Schedule.GPIPE, 1), (Schedule.INTERLEAVED, 2)):
                    if v > 1 and pp == 1:
                        continue
                    for rc in Recompute:
                        for zero in (Zero.STAGE_0, Zero.STAGE_1, Zero.STAGE_3):
                            lay = Layout(global_batch=BATCH64, dp=dp, tp=tp, pp=pp, micro_batch=mb,
                                         schedule=schedule, virtual_stages=v, recompute=rc,
                                         sequence_parallel=tp > 1, zero=zero, precision=Precision.BF16)
                            c = step_costs(GPT22, CLUSTER64, lay, eff)
                            if isinstance(c, Infeasible) or (feasible_only and not c.memory.fits):
                                continue
                            out.append(lay)
    return tuple(out)


def test_layout_enumeration_is_rich_enough():
    assert len(layouts_22b(True)) >= 100
    assert {lay.pp for lay in layouts_22b(True)} >= {1, 2, 4, 8, 16}


@SETTINGS
@given(data=st.data())
def test_model_flops_do_not_depend_on_the_layout(data):
    lay = data.draw(st.sampled_from(layouts_22b(False)))
    costs = step_costs(GPT22, CLUSTER64, lay, default_efficiency())
    assert costs.model_flops == pytest.approx(narayanan_eq3_flops(GPT22, BATCH64, False), rel=1e-9)
    full = narayanan_eq3_flops(GPT22, BATCH64, True)
    if lay.recompute is Recompute.FULL:
        assert costs.hardware_flops == pytest.approx(full, rel=1e-9)
    elif lay.recompute is Recompute.NONE:
        assert costs.hardware_flops == costs.model_flops
    else:
        assert costs.model_flops < costs.hardware_flops < full


def _scaled(cluster: Cluster, intra: float, inter: float) -> Cluster:
    return dataclasses.replace(
        cluster,
        intra_link=dataclasses.replace(cluster.intra_link,
                                       bandwidth_bytes_per_s=cluster.intra_link.bandwidth_bytes_per_s * intra),
        inter_link=dataclasses.replace(cluster.inter_link,
                                       bandwidth_bytes_per_s=cluster.inter_link.bandwidth_bytes_per_s * inter),
    )


@SETTINGS
@given(data=st.data(),
       intra=st.sampled_from([1.0, 1.05, 2.0, 10.0]) | st.floats(1.0, 100.0),
       inter=st.sampled_from([1.0, 1.05, 2.0, 10.0]) | st.floats(1.0, 100.0))
def test_more_link_bandwidth_is_never_slower(data, intra, inter):
    lay = data.draw(st.sampled_from(layouts_22b(True)))
    eff = default_efficiency()
    base = simulate_step(GPT22, CLUSTER64, lay, eff)
    fast = simulate_step(GPT22, _scaled(CLUSTER64, intra, inter), lay, eff)
    assert base.feasible and fast.feasible
    assert fast.step_time_s <= base.step_time_s * (1 + 1e-9)


TRANSFORMERS = sorted(k for k, m in builtin_models().items() if isinstance(m, Transformer))


def _divisors(n: int, limit: int) -> list[int]:
    return [d for d in range(1, min(n, limit) + 1) if n % d == 0]


@SETTINGS
@given(data=st.data())
def test_zero3_memory_strictly_decreases_with_dp(data):
    model = find_model(data.draw(st.sampled_from(TRANSFORMERS)))
    tp = data.draw(st.sampled_from(_divisors(model.heads, 8)))
    pp = data.draw(st.sampled_from(_divisors(model.layers, 64)))
    dp1 = data.draw(st.integers(1, 512))
    dp2 = data.draw(st.integers(dp1 + 1, 1024))
    mb, m = data.draw(st.sampled_from([1, 2, 4])), data.draw(st.integers(1, 32))
    rc = data.draw(st.sampled_from(list(Recompute)))

    def total(dp):  # same per-replica work at both dp (global batch grows with dp)
        lay = Layout(global_batch=dp * mb * m, dp=dp, tp=tp, pp=pp, micro_batch=mb, recompute=rc, zero=Zero.STAGE_3)
        return device_memory(model, lay, 80 * GB).total

    assert total(dp2) < total(dp1)


@SETTINGS
@given(data=st.data())
def test_zero_stage_ordering(data):
    """Rajbhandari 2020: each stage keeps no more than the one before. The ZeRO-3
    working set (two gathered layers) is extra, so the comparison uses stages of at
    least 4 layers, where sharding saves more than two layers hold."""
    model = find_model(data.draw(st.sampled_from(TRANSFORMERS)))
    tp = data.draw(st.sampled_from(_divisors(model.heads, 8)))
    pp = data.draw(st.sampled_from([d for d in _divisors(model.layers, 64) if model.layers // d >= 4]))
    dp = data.draw(st.integers(2, 1024))  # dp = 1: see test_zero3_without_data_parallelism
    mb, m = data.draw(st.sampled_from([1, 2, 4])), data.draw(st.integers(1, 32))
    rc = data.draw(st.sampled_from(list(Recompute)))
    sched = data.draw(st.sampled_from([Schedule.ONE_F_ONE_B, Schedule.GPIPE]))
    base = Layout(global_batch=dp * mb * m, dp=dp, tp=tp, pp=pp, micro_batch=mb, recompute=rc, schedule=sched)
    mems = [device_memory(model, dataclasses.replace(base, zero=z), 80 * GB) for z in Zero]
    totals = [mem.total for mem in mems]
    assert totals[3] < totals[2] < totals[1] < totals[0]
    assert len({mem.activations for mem in mems}) == 1  # sharding leaves activations alone


@pytest.mark.parametrize("key", ["gpt-22b", "chinchilla-70b"])
def test_zero3_without_data_parallelism(key):
    model = find_model(key)
    lay = Layout(global_batch=8, dp=1, tp=8, pp=1, recompute=Recompute.FULL)
    totals = {z: device_memory(model, dataclasses.replace(lay, zero=z), 80 * GB).total for z in Zero}
    assert len(set(totals.values())) == 1, totals  # Rajbhandari: Nd = 1 shards nothing


def test_zero3_working_set_at_most_the_chunk_weights():
    lay = Layout(global_batch=96, tp=1, pp=48, dp=2, zero=Zero.STAGE_3, recompute=Recompute.FULL)
    layers_per_stage = GPT22.layers // lay.pp
    assert layers_per_stage == 1
    chunk_bytes = layers_per_stage * GPT22.layer_params / lay.tp * lay.precision.bytes
    assert zero3_working_bytes(GPT22, lay) <= chunk_bytes


# ------------------------------------------------------------------ memory closed forms
GPT3 = find_model("gpt3-175b")


def _act(tp=1, sp=False, rc=Recompute.NONE, attention=Attention.MATERIALIZED, b=1, precision=Precision.FP16):
    lay = Layout(global_batch=8, tp=tp, sequence_parallel=sp, recompute=rc, attention=attention,
                 precision=precision)
    return layer_activation_bytes(GPT3, lay, b)


@pytest.mark.parametrize("b", [1, 4])
def test_korthikanti_activation_per_layer(b):
    s, h, a = GPT3.seq_len, GPT3.hidden, GPT3.heads
    sbh = s * b * h
    assert _act(b=b) == pytest.approx(sbh * (34 + 5 * a * s / h), rel=1e-12)
    for t in (2, 4, 8):
        # tensor parallel only (Korthikanti Eq. 3): sbh (10 + 24/t + 5as/(ht))
        assert _act(tp=t, b=b) == pytest.approx(sbh * (10 + 24 / t + 5 * a * s / (h * t)), rel=1e-12)
        # + sequence parallel (Eq. 4): sbh (34/t + 5as/(ht))
        assert _act(tp=t, sp=True, b=b) == pytest.approx(sbh * (34 / t + 5 * a * s / (h * t)), rel=1e-12)
        # selective recompute + SP (Eq. 6): sbh 34/t
        assert _act(tp=t, sp=True, rc=Recompute.SELECTIVE, b=b) == pytest.approx(sbh * 34 / t, rel=1e-12)
        # selective without SP: sbh (10 + 24/t)
        assert _act(tp=t, rc=Recompute.SELECTIVE, b=b) == pytest.approx(sbh * (10 + 24 / t), rel=1e-12)
    # full recompute keeps the layer input only: 2 sbh
    assert _act(rc=Recompute.FULL, b=b) == pytest.approx(2 * sbh, rel=1e-12)
    assert _act(tp=8, rc=Recompute.FULL, b=b) == pytest.approx(2 * sbh, rel=1e-12)
    # FlashAttention keeps no s x s matrix: the 5as/h term vanishes
    assert _act(tp=8, sp=True, attention=Attention.FLASH, b=b) == pytest.approx(sbh * 34 / 8, rel=1e-12)
    # bf16 elements are 2 bytes too
    assert _act(b=b, precision=Precision.BF16) == _act(b=b)


@pytest.mark.parametrize("p", [2, 8, 16])
def test_activations_held_by_schedule(p):
    """Korthikanti et al. 2022 Sec. 4.2.3: with 1F1B the first stage holds p
    micro-batches (L layers' worth) however many micro-batches there are; GPipe holds
    all m; the interleaved schedule L (1 + (p - 1) / (p v)) layers' worth (at most m
    micro-batches)."""
    model = find_model("gpt3-175b")

    def act(m, schedule=Schedule.ONE_F_ONE_B, v=1):
        lay = Layout(global_batch=m, tp=8, pp=p, schedule=schedule, virtual_stages=v, recompute=Recompute.NONE,
                     attention=Attention.MATERIALIZED, precision=Precision.FP16)
        return activation_bytes(model, lay)

    per_mb = model.layers / p * layer_activation_bytes(
        model, Layout(global_batch=1, tp=8, pp=p, attention=Attention.MATERIALIZED, precision=Precision.FP16), 1)
    for m in (p, 2 * p, 10 * p):
        assert act(m) == pytest.approx(p * per_mb, rel=1e-12)
        assert act(m, Schedule.GPIPE) == pytest.approx(m * per_mb, rel=1e-12)
        for v in (2, 3):
            held = min(m, p * (1 + (p - 1) / (p * v)))  # never more than the m micro-batches there are
            assert act(m, Schedule.INTERLEAVED, v) == pytest.approx(held * per_mb, rel=1e-12)
    for m in range(1, p):  # (with few micro-batches the last stage's fp32 logits may dominate)
        assert act(m) == act(m, Schedule.GPIPE) >= m * per_mb


def test_zero_paper_figure_1():
    """Rajbhandari et al. 2020 Fig. 1: Psi = 7.5B, Nd = 64, K = 12 (mixed-precision Adam)."""
    published = {Zero.STAGE_0: 120, Zero.STAGE_1: 31.4, Zero.STAGE_2: 16.6, Zero.STAGE_3: 1.9}
    for zero, gb in published.items():
        total = sum(model_state_bytes(7.5e9, Layout(global_batch=64, dp=64, zero=zero, precision=Precision.FP16)))
        assert round(total / GB, 1) == gb, zero


@pytest.mark.parametrize("precision", [Precision.FP16, Precision.BF16])
@pytest.mark.parametrize("dp", [1, 2, 7, 64, 1000])
def test_model_state_bytes_per_param(precision, dp):
    n = 1e9
    expected = {  # bytes per parameter: weights, gradients, optimizer (2 + 2 + 12)
        Zero.STAGE_0: (2, 2, 12),
        Zero.STAGE_1: (2, 2, 12 / dp),
        Zero.STAGE_2: (2, 2 / dp, 12 / dp),
        Zero.STAGE_3: (2 / dp, 2 / dp, 12 / dp),
    }
    for zero, per_param in expected.items():
        got = model_state_bytes(n, Layout(global_batch=dp, dp=dp, zero=zero, precision=precision))
        assert got == pytest.approx(tuple(x * n for x in per_param), rel=1e-12)
    assert sum(model_state_bytes(n, Layout(global_batch=dp, dp=dp, precision=precision))) == 16 * n


# ------------------------------------------------------------------ collectives
BW = 25e9


@pytest.mark.parametrize("p", [2, 3, 8, 64, 1000])
@pytest.mark.parametrize("n", [1e3, 1e6, 4e9])
def test_ring_collectives_without_latency(p, n):
    tier = coll.Tier(BW, 0.0)
    assert tier.all_reduce(n, p) == pytest.approx(2 * (p - 1) / p * n / BW, rel=1e-12)
    assert tier.all_gather(n, p) == pytest.approx((p - 1) / p * n / BW, rel=1e-12)
    assert tier.all_reduce(n, 1) == tier.all_gather(n, 1) == 0.0
    assert tier.p2p(n) == pytest.approx(n / BW)


@pytest.mark.parametrize("p", [2, 8, 64, 1024])
@pytest.mark.parametrize("n,latency,hop", [(1e3, 20e-6, 1.5e-6), (1e6, 20e-6, 1.5e-6), (1e9, 20e-6, 0.0),
                                           (1e9, 1.0, 1e-3), (64, 1e-3, 1e-4)])
def test_all_reduce_is_min_of_ring_and_tree(p, n, latency, hop):
    """Ring: 2 phases, each one launch latency + (p - 1) hops; tree: 2 log2 p hops."""
    tier = coll.Tier(BW, latency, hop)
    ring = 2 * latency + 2 * (p - 1) * hop + 2 * (p - 1) / p * n / BW
    tree = 2 * latency + 2 * math.log2(p) * hop + 2 * n / BW
    assert tier.all_reduce(n, p) == pytest.approx(min(ring, tree), rel=1e-12)


def test_tree_wins_for_small_messages_on_many_ranks():
    tier = coll.Tier(BW, 20e-6, 1.5e-6)
    p, n = 1024, 1e3
    ring = 2 * 20e-6 + 2 * (p - 1) * 1.5e-6 + 2 * (p - 1) / p * n / BW
    assert tier.all_reduce(n, p) < ring


@pytest.mark.parametrize("ranks", [2, 6, 48])
def test_hierarchical_with_one_rank_per_node_is_flat_inter(ranks):
    intra, inter = coll.Tier(300e9, 10e-6), coll.Tier(BW, 20e-6)
    g = coll.Group(ranks, 1, intra, inter)
    n = 3e8
    assert g.crosses_nodes
    assert g.all_reduce(n) == pytest.approx(inter.all_reduce(n, ranks), rel=1e-12)
    assert g.all_gather(n) == pytest.approx(inter.all_gather(n, ranks), rel=1e-12)


@pytest.mark.parametrize("ranks,local", [(16, 8), (64, 4), (8, 8)])
def test_hierarchical_closed_form(ranks, local):
    """reduce-scatter in the node, all-reduce of n/local across nodes, all-gather in
    the node (zero latency)."""
    b_in, b_out, n = 300e9, BW, 1e9
    g = coll.Group(ranks, local, coll.Tier(b_in, 0.0), coll.Tier(b_out, 0.0))
    nodes = ranks // local
    expected = 2 * (local - 1) / local * n / b_in + 2 * (nodes - 1) / nodes * (n / local) / b_out
    assert g.all_reduce(n) == pytest.approx(expected, rel=1e-12)


def test_dp_group_spanning_two_nodes_crosses_nodes():
    eff = default_efficiency()
    cluster = Cluster(A100, 12, 8, INTRA, INTER)
    lay = Layout(global_batch=6, tp=2, dp=6)
    group = coll.dp_group(cluster, lay, eff)
    assert group.local == 4  # ranks 0,2,4,6 on node 0; 8,10 on node 1 (tp innermost)
    assert group.nodes == 2 and group.crosses_nodes


def test_dp_and_tp_groups_follow_megatron_placement():
    eff = default_efficiency()
    cluster = Cluster(A100, 1024, 8, INTRA, INTER)
    lay = Layout(global_batch=1024, tp=8, pp=8, dp=16)
    tp, dp = coll.tp_group(cluster, lay, eff), coll.dp_group(cluster, lay, eff)
    assert (tp.ranks, tp.local, tp.crosses_nodes) == (8, 8, False)
    assert (dp.ranks, dp.local, dp.nodes) == (16, 1, 16)
    assert coll.pp_crosses_nodes(cluster, lay)
    small = Layout(global_batch=8, tp=2, pp=2, dp=2)
    assert not coll.pp_crosses_nodes(Cluster(A100, 8, 8, INTRA, INTER), small)


# ------------------------------------------------------------------ layering
LAYERS = ["core.units", "core.pool", "core.specs", "catalog", "costs", "engine", "search", "frontier", "trend",
          "measure.rowtext", "measure.measurement", "measure.validation", "measure.calibrate", "measure.kernels",
          "report",
          "app.sweep", "app.runs", "app.api", "cli"]
#: Folders whose modules are layers of their own (the others are one layer each).
GROUPS = ("core", "measure", "app")
HEAVY = {"simpy", "pandas", "matplotlib", "typer", "rich"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> int | None:
    """Layer of a simulator module; None for the bare package `simulator`. A module of a
    folder in GROUPS is its own layer (core.units, core.specs ...); its folder's package sits
    at the lowest of them."""
    parts = module.split(".")
    if parts[0] != "simulator" or len(parts) == 1:
        return None
    top = parts[1]
    if top == "__main__":
        return LAYERS.index("cli")
    if top in GROUPS:
        if len(parts) == 2:
            return min(i for i, name in enumerate(LAYERS) if name.startswith(f"{top}."))
        top = f"{top}.{parts[2]}"
    if top not in LAYERS:
        raise AssertionError(f"{module}: not in a known layer; add it to the layering test")
    return LAYERS.index(top)


def _imports_of(source: str, module: str, is_package: bool = False) -> set[str]:
    """Absolute names imported anywhere in `source` of `module` (inside functions
    too); for `from pkg import name`, both pkg and pkg.name."""
    package = module if is_package else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)
    return out


def _real_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _violations(me: str, imported: set[str]) -> list[str]:
    """The layering rules that module `me` breaks by importing `imported`."""
    bad = []
    third_party = {name.split(".")[0] for name in imported if name.split(".")[0] != "simulator"}
    if me.startswith("simulator.costs"):
        bad += [f"{me} imports {t}" for t in sorted(third_party & HEAVY)]
    if not me.startswith("simulator.engine") and "simpy" in third_party:
        bad.append(f"{me} imports simpy outside simulator.engine")
    mine = _layer(me)
    for name in sorted(n for n in imported if n.split(".")[0] == "simulator" and _real_module(n)):
        theirs = _layer(name)
        if theirs is None or mine is None:
            continue
        if theirs > mine:
            bad.append(f"{me} (layer {LAYERS[mine]}) imports {name} (layer {LAYERS[theirs]})")
        if me == "simulator.catalog.scenario" and name.split(".")[1] not in ("catalog", "core"):
            bad.append(f"scenario imports {name}")
    return bad


SOURCES = sorted(PKG.rglob("*.py"))


def test_every_module_has_a_layer():
    names = {_module_name(p) for p in SOURCES}
    assert {"simulator.costs.step", "simulator.engine.pipeline", "simulator.cli", "simulator.catalog.scenario"} <= names
    for name in names - {"simulator"}:
        assert _layer(name) is not None


def test_the_architecture_page_lists_the_layers_in_order():
    """docs/architecture.md's layer table is this test's LAYERS, in order, and names modules that exist."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = page.split("| layer | modules |")[1].split("\n\n")[0]
    rows = [r.split("|")[1:3] for r in table.strip().splitlines()[2:]]  # after the header and its rule
    assert [name.strip() for name, _ in rows] == LAYERS
    for _, modules in rows:
        for m in modules.replace("`", "").split(","):
            assert (ROOT / "simulator" / m.strip()).exists(), m


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_layering(path):
    me = _module_name(path)
    imported = _imports_of(path.read_text(encoding="utf-8"), me, path.name == "__init__.py")
    assert _violations(me, imported) == []


@pytest.mark.parametrize("me,source,expected", [
    ("simulator.costs.flops", "import simpy\nfrom . import memory\n", ["imports simpy"]),
    ("simulator.costs.flops", "def f():\n    from rich.console import Console\n", ["imports rich"]),
    ("simulator.costs.flops", "from simulator.engine import pipeline\n", ["imports simulator.engine"]),
    ("simulator.core.specs", "from ..catalog import models\n", ["imports simulator.catalog"]),
    ("simulator.core.units", "from simulator.core.specs import Layout\n", ["imports simulator.core.specs"]),
    ("simulator.measure.validation", "import simpy.events\n", ["simpy outside"]),
    ("simulator.catalog.scenario", "from simulator.costs.flops import LayerFlops\n", ["scenario imports"]),
    ("simulator.engine.step", "from ..report import trace\n", ["imports simulator.report"]),
    ("simulator.costs.step", "from simulator.costs import collectives\nfrom ..core.specs import Layout\n", []),
])
def test_layering_checker_itself(me, source, expected):
    found = _violations(me, _imports_of(source, me))
    for text in expected:
        assert any(text in v for v in found), found
    if not expected:
        assert found == []


MODULES = [p for p in SOURCES if p.name != "__main__.py"]  # __main__ exists to run the CLI


def _snapshot(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".venv" not in p.parts
            and ".pytest_cache" not in p.parts}


def test_importing_modules_has_no_side_effects(tmp_path, monkeypatch, capsys):
    """Execute every module's top-level code afresh (a copy under a private name, so
    already-imported modules are not replaced): nothing printed, no file written."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    before = _snapshot(ROOT)
    for path in MODULES:
        name = "_fresh_copy_" + _module_name(path).replace(".", "_")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        try:
            spec.loader.exec_module(module)
        finally:
            del sys.modules[name]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert list(tmp_path.iterdir()) == []
    assert _snapshot(ROOT) == before
