"""Context and expert parallelism, MoE and MLA models, torus collectives and per-stack
overlap: each checked against its closed form or a published figure."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from simulator import catalog
from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.models import find_model
from simulator.catalog.stacks import find_stack
from simulator.core.specs import Cluster, Layout, Reason, Recompute, Schedule, SearchSpace, Transformer, Zero
from simulator.costs import collectives as coll
from simulator.costs.closed_form import step_time
from simulator.costs.flops import layer_forward_flops, model_flops_per_step
from simulator.costs.memory import device_memory, layer_activation_bytes
from simulator.costs.step import check_layout, step_costs, unit_costs
from simulator.engine.pipeline import simulate
from simulator.engine.step import simulate_step
from simulator.search.rank import search_layouts

EFF = default_efficiency()


def cluster_of(accelerator: str, devices: int) -> Cluster:
    acc = catalog.find_accelerator(accelerator)
    intra, inter, per_node = catalog.default_links(accelerator)
    return Cluster(acc, devices, per_node, intra, inter)


# ------------------------------------------------------------------ models
@pytest.mark.parametrize("key, active", [("mixtral-8x7b", 12.9e9), ("deepseek-v3", 37e9)])
def test_active_parameters_match_the_published_figure(key, active):
    """Mixtral: 12.9B active of 46.7B (Jiang et al. 2024); DeepSeek-V3: 37B of 671B."""
    m = find_model(key)
    per_layer = sum(i * o for i, o in m.attention_mats()) + m.active_mlp_params
    got = m.layers * per_layer + m.embedding_params
    assert abs(got / active - 1) < 0.02, got


def test_moe_flops_count_the_routed_and_shared_experts_and_router():
    m = find_model("deepseek-v3")
    f = layer_forward_flops(m, 1)
    s, h = m.seq_len, m.hidden
    moe = (m.top_k + m.shared_experts) * 3 * h * m.expert_ffn + h * m.experts
    dense = 3 * h * m.ffn
    mlp = (m.dense_layers * dense + (m.layers - m.dense_layers) * moe) / m.layers
    attn = h * m.q_lora_rank + m.q_lora_rank * m.heads * 192 + h * 576 + 512 * m.heads * 256 + m.heads * 128 * h
    assert f.dense == pytest.approx(2 * s * (attn + mlp), rel=1e-12)
    assert f.attention_core == pytest.approx(2 * s * s * m.heads * (192 + 128), rel=1e-12)


def test_dense_models_are_unchanged_by_the_generalisation():
    """A dense model with multi-head attention: 24 B s h^2 + 4 B s^2 h per layer forward."""
    m = find_model("gpt3-175b")
    f = layer_forward_flops(m, 1)
    assert f.dense == 24 * m.seq_len * m.hidden**2
    assert f.attention_core == 4 * m.seq_len**2 * m.hidden


# ------------------------------------------------------------------ collectives
def test_all_to_all_closed_form():
    intra = coll.Tier(100e9, 5e-6)
    inter = coll.Tier(25e9, 10e-6)
    n = 64e6
    inside = coll.Group(8, 8, intra, inter)
    assert inside.all_to_all(n) == pytest.approx(5e-6 + n * 7 / 8 / 100e9)
    across = coll.Group(32, 8, intra, inter)  # 4 nodes: 7/32 stays in the node, 24/32 leaves
    assert across.all_to_all(n) == pytest.approx(10e-6 + max(n * 7 / 32 / 100e9, n * 24 / 32 / 25e9))
    assert coll.Group(1, 1, intra, inter).all_to_all(n) == 0.0


def test_torus_collectives_use_the_dimensions_they_span():
    """A group on one dimension of a 16x16x16 torus uses 1/3 of the chip's links and
    crosses 15 hops; the whole torus uses all links and 3 x 15 hops, not 4095."""
    bw, hop = 300e9, 1e-6
    torus = coll.Tier(bw, 0.0, hop, (16, 16, 16))
    switched = coll.Tier(bw, 0.0, hop)
    n = 1e9
    assert torus.all_gather(n, 16) == pytest.approx(15 * hop + 15 / 16 * n / (bw / 3))
    assert torus.all_gather(n, 4096) == pytest.approx(45 * hop + 4095 / 4096 * n / bw)
    assert torus.all_reduce(n, 4096) == pytest.approx(2 * (45 * hop + 4095 / 4096 * n / bw))
    ring = 2 * (4095 * hop + 4095 / 4096 * n / bw)
    assert switched.all_reduce(n, 4096) <= ring  # a switch may use the tree instead
    assert torus.p2p(n) == pytest.approx(n / (bw / 6))


def test_tpu_links_carry_their_torus():
    assert catalog.find_link("tpu-v4-ici").torus == (16, 16, 16)
    assert len(catalog.find_link("tpu-v3-ici").torus) == 2


# ------------------------------------------------------------------ context parallelism
def long_model(seq: int = 32768) -> Transformer:
    return dataclasses.replace(find_model("llama2-70b"), seq_len=seq)


def test_context_parallel_splits_compute_and_activations():
    m, c1, c2 = long_model(), cluster_of("h100-sxm", 64), cluster_of("h100-sxm", 128)
    base = Layout(global_batch=8, dp=8, tp=8, pp=1, sequence_parallel=True, recompute=Recompute.SELECTIVE)
    cp2 = dataclasses.replace(base, cp=2)
    assert check_layout(m, c2, cp2) is None
    u1, u2 = unit_costs(m, c1, base, EFF), unit_costs(m, c2, cp2, EFF)
    # half the tokens per device: half the projections, half the attention core (queries
    # of s/2 against all s keys), half the stored activations
    assert u2.layer_fwd_s == pytest.approx(u1.layer_fwd_s / 2, rel=0.02)
    act1, act2 = layer_activation_bytes(m, base, 1), layer_activation_bytes(m, cp2, 1)
    assert act2 == pytest.approx(act1 / 2, rel=1e-12)
    # the model FLOPs of the step do not depend on the split
    assert u1.model_flops == u2.model_flops == model_flops_per_step(m, 8)


def test_ring_attention_exchange_is_hidden_behind_attention_when_it_can_be():
    """Exposed ring time is max(one pass, (cp - 1) passes - the attention it overlaps)."""
    m, c = long_model(131072), cluster_of("h100-sxm", 128)
    lay = Layout(global_batch=8, dp=1, tp=8, pp=1, cp=16, sequence_parallel=True)
    u = unit_costs(m, c, lay, EFF)
    cpg = coll.cp_group(c, lay, EFF)
    one = cpg.ring_pass(m.seq_len / 16 * m.kv_width * 2 / 8)
    assert cpg.crosses_nodes  # 16 ranks, 8 apart: the ring leaves the node
    tp_only = 2 * coll.tp_group(c, lay, EFF).all_reduce(m.seq_len / 16 * m.hidden * 2)  # on s / cp tokens
    assert u.layer_fwd_tp_s - tp_only == pytest.approx(one)  # 8k queries of attention hide 14 passes
    short = dataclasses.replace(m, seq_len=4096)
    us = unit_costs(short, c, lay, EFF)
    one_s = cpg.ring_pass(4096 / 16 * m.kv_width * 2 / 8)
    assert us.layer_fwd_tp_s - 2 * coll.tp_group(c, lay, EFF).all_reduce(4096 / 16 * m.hidden * 2) > one_s


def test_cp_must_split_the_sequence_evenly():
    m, c = long_model(4098), cluster_of("h100-sxm", 64)
    bad = check_layout(m, c, Layout(global_batch=8, dp=4, tp=8, cp=2))
    assert bad is not None and bad.reason is Reason.CP_NOT_DIVIDING_SEQ
    mlm = find_stack("megatron-lm-2021")
    m2 = long_model(8192)
    bad = check_layout(m2, c, Layout(global_batch=8, dp=4, tp=8, cp=2), mlm)
    assert bad is not None and bad.reason is Reason.STACK_UNSUPPORTED and "context" in bad.detail


# ------------------------------------------------------------------ experts
def test_expert_parallelism_shards_the_experts_and_adds_all_to_alls():
    m, c = find_model("mixtral-8x7b"), cluster_of("h100-sxm", 64)
    one = Layout(global_batch=256, dp=16, tp=1, pp=4, micro_batch=1)
    eight = dataclasses.replace(one, ep=8)
    assert check_layout(m, c, eight) is None
    m1, m8 = device_memory(m, one, 80e9), device_memory(m, eight, 80e9)
    routed = math.ceil(m.layers / 4) * m.routed_layer_params
    assert m1.weights - m8.weights == pytest.approx(routed * (1 - 1 / 8) * 2, rel=1e-9)
    u1, u8 = unit_costs(m, c, one, EFF), unit_costs(m, c, eight, EFF)
    a2a = coll.ep_group(c, eight, EFF).all_to_all(m.seq_len * m.top_k * m.hidden * 2)
    assert a2a > 0
    assert u8.layer_fwd_tp_s - u1.layer_fwd_tp_s == pytest.approx(2 * a2a)
    # experts of 8 ranks' tokens on one rank: fewer, fuller GEMMs; the FLOPs stay the same
    assert u8.model_flops == u1.model_flops


def test_capacity_factor_pads_the_expert_work():
    m, c = find_model("mixtral-8x7b"), cluster_of("h100-sxm", 8)
    lay = Layout(global_batch=8, dp=8, ep=8)
    padded = dataclasses.replace(m, capacity_factor=2.0)
    assert unit_costs(padded, c, lay, EFF).layer_fwd_s > unit_costs(m, c, lay, EFF).layer_fwd_s


def test_ep_needs_experts_dividing_and_a_moe_model():
    c = cluster_of("h100-sxm", 64)
    bad = check_layout(find_model("llama2-70b"), c, Layout(global_batch=64, dp=8, tp=8, ep=2))
    assert bad is not None and bad.reason is Reason.EP_NOT_DIVIDING
    bad = check_layout(find_model("mixtral-8x7b"), c, Layout(global_batch=64, dp=64, ep=16))
    assert bad is not None and bad.reason is Reason.EP_NOT_DIVIDING


# ------------------------------------------------------------------ engine vs closed form
CASES = {
    "mixtral ep8 pp4 interleaved": ("mixtral-8x7b", "h100-sxm", 64,
                                    Layout(global_batch=256, dp=16, pp=4, ep=8, schedule=Schedule.INTERLEAVED,
                                           virtual_stages=2, zero=Zero.STAGE_1)),
    "deepseek-v3 ep64 pp16": ("deepseek-v3", "h800-sxm", 2048,
                              Layout(global_batch=1024, dp=128, pp=16, ep=64, zero=Zero.STAGE_1,
                                     recompute=Recompute.FULL)),
    "llama2 cp4 tp8": (long_model(32768), "h100-sxm", 256,
                       Layout(global_batch=64, dp=8, tp=8, cp=4, sequence_parallel=True,
                              recompute=Recompute.SELECTIVE)),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("stack", [None, "megatron-lm-2021", "megatron-core-2024", "torchtitan-fsdp2"])
def test_closed_form_matches_engine_on_new_dimensions(case, stack):
    model, acc, n, lay = CASES[case]
    model = find_model(model) if isinstance(model, str) else model
    st = find_stack(stack)
    c = cluster_of(acc, n)
    costs = step_costs(model, c, lay, EFF, st)
    if not hasattr(costs, "fwd_compute_s"):  # this stack cannot run it: a reason, not a crash
        assert costs.reason in (Reason.STACK_UNSUPPORTED, Reason.ZERO_WITH_PIPELINE, Reason.PP_NOT_DIVIDING_LAYERS)
        return
    engine = simulate(costs).step_time_s
    closed = float(step_time(unit_costs(model, c, lay, EFF, st), lay, EFF.comm_processor_usage))
    assert closed == pytest.approx(engine, rel=0.03)


# ------------------------------------------------------------------ stacks
def test_tp_overlap_hides_tp_collectives_behind_the_gemms():
    m, c = find_model("gpt3-175b"), cluster_of("h100-sxm", 64)
    lay = Layout(global_batch=64, dp=1, tp=8, pp=8, sequence_parallel=True)
    plain = unit_costs(m, c, lay, EFF, find_stack("megatron-core-2024"))
    nemo = find_stack("nemo-2024")
    over = unit_costs(m, c, lay, EFF, nemo)
    assert nemo.tp_overlap
    u = EFF.comm_processor_usage
    from simulator.costs.compute import rates, transformer_layer_time

    g = transformer_layer_time(m, lay, rates(c.accelerator, lay.precision, EFF), EFF).gemm_forward
    comm = plain.layer_fwd_tp_s
    assert over.layer_fwd_tp_s == pytest.approx(max(comm - g, 0) + u * min(comm, g))
    assert over.layer_fwd_tp_s < plain.layer_fwd_tp_s
    # without sequence parallelism there is nothing to pipeline (Megatron-Core asserts it)
    nosp = dataclasses.replace(lay, sequence_parallel=False)
    assert unit_costs(m, c, nosp, EFF, nemo).layer_fwd_tp_s == unit_costs(m, c, nosp, EFF).layer_fwd_tp_s


def test_gradient_reduction_without_overlap_is_fully_exposed():
    """Megatron-LM 2021 reduces all gradients after the last backward: step = pipeline +
    v x reduction + optimizer, in the closed form and the engine alike."""
    m, c = find_model("gpt-22b"), cluster_of("a100-80gb", 512)
    lay = Layout(global_batch=512, dp=64, tp=8, pp=1, recompute=Recompute.FULL)
    old = find_stack("megatron-lm-2021")
    assert not old.dp_overlap
    u_old, u_new = unit_costs(m, c, lay, EFF, old), unit_costs(m, c, lay, EFF)
    t_old = float(step_time(u_old, lay, EFF.comm_processor_usage))
    t_new = float(step_time(u_new, lay, EFF.comm_processor_usage))
    assert t_old > t_new
    r_old = simulate_step(m, c, lay, EFF, old)
    assert r_old.breakdown_s["dp_comm_exposed_s"] == pytest.approx(float(u_old.dp_reduce_s), rel=1e-6)
    assert t_old == pytest.approx(r_old.step_time_s, rel=0.03)


# ------------------------------------------------------------------ search
def test_search_finds_expert_and_context_parallel_layouts():
    m, c = find_model("mixtral-8x7b"), cluster_of("h100-sxm", 64)
    space = SearchSpace(global_batches=(256,), max_micro_batch=2, top_k=3, stack="megatron-core-2024")
    res = search_layouts(m, c, Layout(global_batch=256), space, EFF)
    assert res.best is not None and res.best[1].feasible
    ok = res.frame[res.frame.reason == ""]
    assert (ok.ep > 1).any() and set(np.unique(res.frame.ep)) == {1, 2, 4, 8}
    long = long_model(131072)
    space = SearchSpace(global_batches=(16,), max_micro_batch=1, top_k=2, context_parallel=(1, 2, 4, 8, 16),
                        recompute=(Recompute.FULL,), zero=(Zero.STAGE_1,))
    res = search_layouts(long, cluster_of("h100-sxm", 256), Layout(global_batch=16), space, EFF)
    assert set(np.unique(res.frame.cp)) == {1, 2, 4, 8, 16}
    assert res.best is not None and res.best[0].cp > 1  # at 128k tokens splitting the sequence wins


# ------------------------------------------------------------------ validate
def _row(**kw) -> dict:
    base = {"id": "R1", "model": "llama3-405b", "hardware": "h100-sxm", "n_devices": "1024",
            "global_batch_seqs": "512", "tp": "8", "pp": "8", "cp": "2", "virtual_pipeline_stages": "8",
            "precision": "fp8", "tokens_per_s_per_device": "300"}
    return {**base, **kw}


def test_validate_reads_the_stack_and_fills_its_defaults():
    from simulator.measure.measurement import parse_row

    row, spec = parse_row(_row(source="NVIDIA NeMo performance summary"))
    assert row.stack is not None and row.stack.key == "nemo-2024"  # named in the row's text
    _, _, lay = spec
    assert lay.sequence_parallel and lay.zero is Zero.STAGE_1 and lay.cp == 2 and lay.dp == 8
    assert any("nemo-2024 default" in d for d in row.defaulted)
    row, spec = parse_row(_row(stack="torchtitan-fsdp2", sharding="FSDP"))
    assert spec[2].zero is Zero.STAGE_2  # FSDP keeps the weights through a pipeline (reshard_after_forward)
    row, spec = parse_row(_row(stack="no-such-stack"))
    assert spec is None and "unknown stack" in row.skipped


def test_validate_predicts_tokens_per_second_per_device():
    from simulator.measure.validation import complete, predicted

    row, spec = complete(_row(stack="nemo-2024"), EFF)
    result = simulate_step(*spec, EFF, row.stack)
    assert row.metric == "tokens_per_s_per_device"
    assert predicted(row.metric, result) == pytest.approx(512 * 8192 / result.step_time_s / 1024)


def test_fp8_keeps_attention_and_the_output_layer_in_bf16():
    from simulator.costs.compute import logits_time, rates, transformer_layer_time

    m, acc = find_model("llama3-405b"), catalog.find_accelerator("h100-sxm")
    lay = Layout(global_batch=8, dp=1, tp=8)
    r8 = rates(acc, lay.precision.FP8, EFF)
    assert r8.kept_flops_per_s == pytest.approx(acc.peak(lay.precision.BF16) * EFF.gemm_for(acc.name, lay.precision.BF16))
    bf, f8 = lay, dataclasses.replace(lay, precision=lay.precision.FP8)
    rb = rates(acc, bf.precision, EFF)
    core_b = transformer_layer_time(m, bf, rb, EFF).attention_core_forward
    core_8 = transformer_layer_time(m, f8, r8, EFF).attention_core_forward
    assert core_8 == pytest.approx(core_b)  # same kernel, same rate
    assert logits_time(m, f8, r8, EFF).forward == pytest.approx(logits_time(m, bf, rb, EFF).forward, rel=0.05)


def test_a_flash_attention_core_costs_two_and_a_half_forwards_backward():
    """A fused attention kernel keeps no s x s matrix, so its backward recomputes the scores:
    five matmuls against the forward's two (Dao 2023, FlashAttention-2, Sec. 4.1). Every other
    part of a layer, and a materialised core, costs twice its forward backward."""
    from simulator.core.specs import Attention
    from simulator.costs.compute import rates, transformer_layer_time

    m, acc = find_model("llama3-405b"), catalog.find_accelerator("h100-sxm")
    flash = Layout(global_batch=8, dp=1, tp=8, attention=Attention.FLASH)
    r = rates(acc, flash.precision, EFF)
    lt = transformer_layer_time(m, flash, r, EFF)
    assert lt.attention_core_forward > 0
    assert lt.backward - 2 * lt.forward == pytest.approx(0.5 * lt.attention_core_forward)
    mat = transformer_layer_time(m, dataclasses.replace(flash, attention=Attention.MATERIALIZED), r, EFF)
    assert mat.backward == pytest.approx(2 * mat.forward)
    full = transformer_layer_time(m, dataclasses.replace(flash, recompute=Recompute.FULL), r, EFF)
    assert full.backward - 3 * full.forward == pytest.approx(0.5 * full.attention_core_forward)


# ------------------------------------------------------------------ optimizer offload
def test_offload_moves_the_optimizer_to_the_host_at_its_closed_form_cost():
    """ZeRO-Offload (Ren et al. 2021): no optimizer state on the device; the step costs the
    partition's fp32 gradients down and 16-bit weights up over PCIe plus Adam's 28 bytes per
    parameter through the host's memory, shared by the node's GPUs."""
    from simulator.catalog.hardware import host_of
    from simulator.costs.compute import ADAM_BYTES_PER_PARAM
    from simulator.costs.memory import stage_params

    m, c = find_model("gpt-22b"), cluster_of("a100-80gb", 8)
    on = Layout(global_batch=8, dp=8, zero=Zero.STAGE_2, recompute=Recompute.FULL, offload=True)
    off = dataclasses.replace(on, offload=False)
    assert simulate_step(m, c, off, EFF).reason is Reason.OUT_OF_MEMORY
    r = simulate_step(m, c, on, EFF)
    assert r.feasible and r.memory.optimizer == 0
    link, host_bw = host_of(c.accelerator.name)
    local = stage_params(m, on) / 8
    want = 6 * local / link.bandwidth_bytes_per_s + ADAM_BYTES_PER_PARAM * local / (host_bw / c.devices_per_node)
    assert r.breakdown_s["optimizer_s"] == pytest.approx(want)


def test_offload_needs_zero_a_documented_host_and_a_stack_that_has_it():
    m = find_model("gpt-22b")
    bad = check_layout(m, cluster_of("a100-80gb", 8), Layout(global_batch=8, dp=8, offload=True))
    assert bad is not None and bad.reason is Reason.OFFLOAD_UNSUPPORTED  # ZeRO-0
    bad = check_layout(m, cluster_of("b200", 8), Layout(global_batch=8, dp=8, zero=Zero.STAGE_1, offload=True))
    assert bad is not None and bad.reason is Reason.OFFLOAD_UNSUPPORTED  # no host row
    lay = Layout(global_batch=8, dp=8, zero=Zero.STAGE_1, offload=True)
    assert check_layout(m, cluster_of("a100-80gb", 8), lay, find_stack("megatron-deepspeed-2022")) is None
    bad = check_layout(m, cluster_of("a100-80gb", 8), lay, find_stack("megatron-core-2024"))
    assert bad is not None and bad.reason is Reason.STACK_UNSUPPORTED


def test_search_tries_offload_when_asked():
    m, c = find_model("gpt-22b"), cluster_of("a100-80gb", 8)
    space = SearchSpace(global_batches=(8,), max_micro_batch=1, top_k=1, offload=(False, True))
    res = search_layouts(m, c, Layout(global_batch=8), space, EFF)
    f = res.frame
    assert set(f.offload) == {False, True} and not (f.offload & (f.zero == 0)).any()
    assert (f[f.offload & (f.reason == "")].memory_gb < 80).all()


def test_a_tpu_pod_runs_fsdp_with_tp_of_any_size_under_jax():
    """On a torus any tp forms rings along the mesh axes (no node to split), and JAX on
    TPU (MaxText) shards FSDP-style with pipelines too (stack_evidence.csv jax-tpu rows)."""
    m, c = find_model("gpt3-175b"), cluster_of("tpu-v4", 3072)
    lay = Layout(global_batch=1536, dp=256, tp=12, zero=Zero.STAGE_3, recompute=Recompute.FULL)
    jax = find_stack("jax-tpu")
    assert check_layout(m, c, lay, jax) is None
    r = simulate_step(m, c, lay, EFF, jax)
    assert r.feasible and 0 < r.mfu < 1
    assert check_layout(m, c, dataclasses.replace(lay, dp=128, pp=2), jax) is None  # ZeRO-3 with a pipeline


# ------------------------------------------------------------------ training across sites
def two_sites(per_site_gb_s: float, km: float = 1000.0, n: int = 16384) -> Cluster:
    from simulator.core.specs import Link
    from simulator.core.units import FIBRE_S_PER_KM

    c = cluster_of("h100-sxm", n)
    return dataclasses.replace(c, sites=2, site_link=Link("wan", per_site_gb_s * 1e9, km * FIBRE_S_PER_KM))


def test_fibre_delay_is_about_5_us_per_km():
    from simulator.core.units import FIBRE_S_PER_KM

    assert FIBRE_S_PER_KM == pytest.approx(4.9e-6, rel=0.01)


def test_gradients_cross_sites_hierarchically_at_the_closed_form():
    """Reduce-scatter inside each site, all-reduce of the 1/(ranks per site) shard between
    the sites over their link (shared by the site's devices), all-gather inside."""
    c = two_sites(1250.0)  # 10 Tb/s per site and direction
    lay = Layout(global_batch=2048, tp=8, pp=16, dp=128)
    g = coll.dp_group(c, lay, EFF)
    assert isinstance(g, coll.SiteGroup) and g.ranks == 128 and g.sites == 2
    inner = coll._group(c, EFF, 64, 8)
    wan = coll.site_tier(c, EFF)
    assert wan.bandwidth_bytes_per_s == pytest.approx(1250e9 * EFF.inter_link / 8192)
    n = 1e9
    assert g.all_reduce(n) == pytest.approx(2 * inner.all_gather(n) + wan.all_reduce(n / 64, 2))


def test_a_slower_link_between_sites_slows_the_step_and_sites_must_divide_dp():
    m = find_model("llama3-405b")
    lay = Layout(global_batch=2048, tp=8, pp=16, dp=128, sequence_parallel=True, zero=Zero.STAGE_1,
                 recompute=Recompute.FULL)
    one = simulate_step(m, cluster_of("h100-sxm", 16384), lay, EFF)
    fast, slow = simulate_step(m, two_sites(12500.0), lay, EFF), simulate_step(m, two_sites(125.0), lay, EFF)
    assert one.feasible and fast.feasible and slow.feasible
    assert one.step_time_s <= fast.step_time_s < slow.step_time_s
    closed = float(step_time(unit_costs(m, two_sites(125.0), lay, EFF), lay, EFF.comm_processor_usage))
    assert closed == pytest.approx(slow.step_time_s, rel=0.03)
    three = dataclasses.replace(two_sites(125.0, n=16384), sites=3)
    bad = check_layout(m, three, lay)
    assert bad is not None and bad.reason is Reason.SITES_NOT_DIVIDING


def test_scenario_two_sites_1000_km_apart(tmp_path):
    from simulator.catalog.scenario import ScenarioError, load_scenario

    text = (Path(__file__).resolve().parents[1] / "scenarios" / "two-sites-1000km.toml").read_text()
    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "two-sites-1000km.toml")
    assert sc.cluster.sites == 2 and sc.cluster.site_link.latency_s == pytest.approx(4.9e-3, rel=0.01)
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("site_distance_km = 1000\n", ""))
    with pytest.raises(ScenarioError, match="site_distance_km"):
        load_scenario(bad)
