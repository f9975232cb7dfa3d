"""The frontier's lean search (`best_layout_closed_form`) against the full search.

`best_layout_closed_form` takes its structural verdicts from a cache (`space.plans`),
computes memory once per plan and prices only the candidates that fit; it must still
return exactly what scoring every group with `score_group` returns: the same winner
(ties broken the same way, every column of the same value and numpy type), the same
infeasible counts per reason in the same order, and the same count of candidates.
Checked here against that group-by-group reference, against the ranked frame of
`search_layouts`, and on searches repeated so the cache answers.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from simulator import catalog
from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.models import find_model
from simulator.core.specs import Cluster, Layout, Link, Precision, Recompute, Schedule, SearchSpace, Zero
from simulator.search import space as space_mod
from simulator.search.rank import COLUMNS, best_layout_closed_form, score_group, search_layouts
from simulator.search.space import REASONS, groups

EFF = default_efficiency()


def cluster_of(accelerator: str, devices: int, node: int | None = None, sites: int = 1) -> Cluster:
    acc = catalog.find_accelerator(accelerator)
    intra, inter, per_node = catalog.default_links(accelerator)
    return Cluster(acc, devices, node or per_node, intra, inter, sites=sites)


def reference(model, cluster, base, space, eff):
    """The lean search as it was: every group scored by `score_group`, the best kept."""
    names = np.array([""] + [r.value for r in REASONS])
    counts = np.zeros(len(names), dtype=np.int64)
    best, best_key, evaluated = None, (-np.inf, np.inf), 0
    for g in groups(model, cluster, space):
        cols = score_group(model, cluster, base, g, space, eff)
        counts += np.bincount(cols["_code"], minlength=len(names))
        evaluated += len(g)
        ok = np.flatnonzero(cols["reason"] == "")
        if not len(ok):
            continue
        tps, mem = cols["tokens_per_s"][ok], cols["memory_gb"][ok]
        i = ok[np.lexsort((mem, -tps))[0]]
        key = (float(cols["tokens_per_s"][i]), float(cols["memory_gb"][i]))
        if key[0] > best_key[0] or (key[0] == best_key[0] and key[1] < best_key[1]):
            best, best_key = {c: cols[c][i] for c in COLUMNS}, key
    reasons = {str(names[k]): int(v) for k, v in enumerate(counts) if k and v}
    return best, reasons, evaluated


def same_value(a, b) -> bool:
    return type(a) is type(b) and (a == b or (_nan(a) and _nan(b)))


def _nan(x) -> bool:
    try:
        return bool(math.isnan(x))
    except TypeError:
        return False


def assert_same(found, ref):
    row, reasons, evaluated = ref
    assert found.evaluated == evaluated
    assert found.reason_counts == reasons
    assert list(found.reason_counts) == list(reasons)  # same order
    if row is None:
        assert found.row is None
        return
    assert found.row is not None
    assert list(found.row) == list(row)
    bad = {k: (found.row[k], row[k]) for k in row if not same_value(found.row[k], row[k])}
    assert not bad


FRONTIER_LIKE = {"max_micro_batch": 4, "schedules": (Schedule.ONE_F_ONE_B, Schedule.INTERLEAVED),
                 "max_virtual_stages": 2, "recompute": (Recompute.NONE, Recompute.FULL, Recompute.SELECTIVE),
                 "zero": (Zero.STAGE_0, Zero.STAGE_1), "top_k": 0, "divisors_only": True, "tp_across_nodes": True}

CASES = {
    # (model, cluster, base layout, space)
    "gpt3-a100-1024": ("gpt3-175b", cluster_of("a100-80gb", 1024), Layout(global_batch=1536),
                       SearchSpace(global_batches=(512, 1024, 1536), max_tp=16, **FRONTIER_LIKE)),
    "llama2-h100-odd-devices": ("llama2-70b", cluster_of("h100-sxm", 5128), Layout(global_batch=1024),
                                SearchSpace(global_batches=(1024,), max_micro_batch=2, top_k=0, max_pp=10,
                                            schedules=(Schedule.ONE_F_ONE_B, Schedule.GPIPE, Schedule.INTERLEAVED))),
    "gpt2-v100-stack": ("gpt2-1.5b", cluster_of("v100-32gb", 64), Layout(global_batch=512, precision=Precision.FP16),
                        SearchSpace(global_batches=(256, 512), top_k=0, stack="megatron-lm-2021", max_pp=8,
                                    offload=(False, True), max_global_batch=300)),
    "mixtral-moe-ep-cp": ("mixtral-8x7b", cluster_of("h100-sxm", 256), Layout(global_batch=256),
                          SearchSpace(global_batches=(128, 256), max_micro_batch=2, top_k=0, max_pp=8,
                                      context_parallel=(1, 2), zero=(Zero.STAGE_0, Zero.STAGE_1))),
    "llama3-two-sites": ("llama3-405b", dataclasses.replace(cluster_of("h100-sxm", 2048), sites=2,
                                                            site_link=Link("fibre", 3.2e12, 5e-3)),
                         Layout(global_batch=2048), SearchSpace(global_batches=(2048,), **FRONTIER_LIKE)),
    "gpt3-tpu-torus": ("gpt3-175b", cluster_of("tpu-v4", 512, node=4), Layout(global_batch=512),
                       SearchSpace(global_batches=(512,), max_micro_batch=2, top_k=0, max_tp=16, max_pp=16)),
    "nothing-fits": ("megatron-1t", cluster_of("v100-16gb", 8), Layout(global_batch=64, precision=Precision.FP16),
                     SearchSpace(global_batches=(32, 64), max_micro_batch=2, top_k=0)),
    "resnet-generic": ("resnet50", cluster_of("a100-40gb", 16), Layout(global_batch=1024),
                       SearchSpace(global_batches=(256, 1024), top_k=0)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_lean_search_matches_the_group_by_group_reference(name):
    model_key, cluster, base, space = CASES[name]
    model = find_model(model_key)
    ref = reference(model, cluster, base, space, EFF)
    space_mod._PLANS.clear()
    space_mod._HELD[0] = 0
    assert_same(best_layout_closed_form(model, cluster, base, space, EFF), ref)  # plans built
    assert_same(best_layout_closed_form(model, cluster, base, space, EFF), ref)  # plans and memory from the cache
    if name == "nothing-fits":
        assert ref[0] is None and ref[1]  # the case is what it says
    else:
        assert ref[0] is not None


@pytest.mark.parametrize("name", ["gpt3-a100-1024", "mixtral-moe-ep-cp", "nothing-fits", "gpt2-v100-stack"])
def test_lean_search_matches_the_full_frame(name):
    model_key, cluster, base, space = CASES[name]
    model = find_model(model_key)
    frame = search_layouts(model, cluster, base, space, EFF).frame
    found = best_layout_closed_form(model, cluster, base, space, EFF)
    assert found.evaluated == len(frame)
    assert found.reason_counts == {k: v for k, v in frame[frame.reason != ""].reason.value_counts().items()}
    ok = frame[frame.reason == ""]
    if not len(ok):
        assert found.row is None
        return
    first = ok.iloc[0]
    assert found.row["tokens_per_s"] == first.tokens_per_s and found.row["memory_gb"] == first.memory_gb
    ties = ok[(ok.tokens_per_s == first.tokens_per_s) & (ok.memory_gb == first.memory_gb)]
    if len(ties) == 1:  # a unique winner: every column agrees
        for col in COLUMNS:
            assert found.row[col] == first[col], col


def test_cache_is_shared_by_clusters_of_one_shape_and_kept_apart_otherwise():
    model = find_model("gpt3-175b")
    space = CASES["gpt3-a100-1024"][3]
    base = Layout(global_batch=1536)
    a100, h100 = cluster_of("a100-80gb", 1024), cluster_of("h100-sxm", 1024)
    for cluster in (a100, h100, a100, dataclasses.replace(a100, devices_per_node=4), cluster_of("a100-40gb", 1024)):
        assert_same(best_layout_closed_form(model, cluster, base, space, EFF), reference(model, cluster, base, space, EFF))
    # other precisions reuse the plans but not their memory
    for prec in (Precision.FP16, Precision.BF16):
        lay = dataclasses.replace(base, precision=prec)
        assert_same(best_layout_closed_form(model, a100, lay, space, EFF), reference(model, a100, lay, space, EFF))


def test_groups_are_unchanged_by_the_candidate_refactor():
    """`groups` (used by `search_layouts`) yields the candidates in itertools.product order."""
    import itertools

    model, cluster = find_model("llama2-70b"), cluster_of("h100-sxm", 96)
    space = SearchSpace(global_batches=(96, 192), max_micro_batch=3, top_k=0, max_pp=8, context_parallel=(1, 2))
    splits = [(t, p, c, 1) for t, p in space_mod.model_splits(model, cluster, space) for c in (1, 2)
              if t * p * c <= cluster.n_devices]
    rows = [(t, p, c, e, m, b) for (t, p, c, e), m, b in itertools.product(splits, range(1, 4), (96, 192))]
    first = next(groups(model, cluster, space))
    expect = np.array(rows)
    assert first.schedule is Schedule.ONE_F_ONE_B and first.zero is Zero.STAGE_0 and not first.sequence_parallel
    for k, col in enumerate(("tp", "pp", "cp", "ep", "micro_batch", "global_batch")):
        assert np.array_equal(getattr(first, col), expect[:, k]), col
    assert np.array_equal(first.dp, cluster.n_devices // (expect[:, 0] * expect[:, 1] * expect[:, 2]))


def test_model_splits_with_divisors_only_are_the_filtered_pairs():
    for key, n in (("mt-nlg-530b", 5128), ("gpt3-175b", 12), ("llama3-405b", 100_000)):
        model, cluster = find_model(key), cluster_of("h100-sxm", n)
        for across in (False, True):
            space = SearchSpace(global_batches=(1,), tp_across_nodes=across, max_tp=64)
            every = space_mod.model_splits(model, cluster, space)
            lean = space_mod.model_splits(model, cluster, dataclasses.replace(space, divisors_only=True))
            assert lean == [(t, p) for t, p in every if model.heads % t == 0 and model.layers % p == 0]


@pytest.mark.parametrize("name", ["gpt3-a100-1024", "mixtral-moe-ep-cp", "gpt2-v100-stack"])
def test_ties_are_broken_as_the_reference_breaks_them(name, monkeypatch):
    """With every step taking one second, throughput ties within and across groups: the
    winner is the least memory among the most tokens/s, then the first in group order."""
    from simulator.search import rank

    monkeypatch.setattr(rank, "step_time", lambda u, lay, usage: np.ones(np.shape(lay.tp)))
    monkeypatch.setattr(rank, "FLOOR_PRUNE", False)  # a made-up step time has no compute floor
    model_key, cluster, base, space = CASES[name]
    model = find_model(model_key)
    ref = reference(model, cluster, base, space, EFF)
    assert_same(best_layout_closed_form(model, cluster, base, space, EFF), ref)


@pytest.mark.parametrize("name", sorted(set(CASES) - {"resnet-generic"}))
def test_compute_floor_bounds_the_step_time(name):
    """`closed_form.compute_floor`, which the lean search prunes with, is never above the
    step time of a candidate it applies to (one site, no ZeRO-3), elementwise."""
    from simulator.catalog.stacks import find_stack
    from simulator.costs.closed_form import compute_floor, step_time
    from simulator.costs.compute import rates, transformer_layer_time
    from simulator.costs.step import unit_costs
    from simulator.search.space import structural_reasons

    model_key, cluster, base, space = CASES[name]
    model = find_model(model_key)
    r = rates(cluster.accelerator, base.precision, EFF)
    checked = 0
    for g in groups(model, cluster, space):
        ok = structural_reasons(model, g, space, cluster) == 0
        if not ok.any() or g.zero.stage >= 3 or g.site_split == "pp":
            continue
        lay = Layout(global_batch=g.global_batch[ok], dp=g.dp[ok], tp=g.tp[ok], pp=g.pp[ok],
                     micro_batch=g.micro_batch[ok], schedule=g.schedule, virtual_stages=g.virtual_stages,
                     recompute=g.recompute, sequence_parallel=g.sequence_parallel, zero=g.zero,
                     precision=base.precision, attention=base.attention, cp=g.cp[ok], ep=g.ep[ok],
                     offload=g.offload, site_split=g.site_split)
        t = step_time(unit_costs(model, cluster, lay, EFF, find_stack(space.stack)), lay, EFF.comm_processor_usage)
        floor = compute_floor(model, lay, transformer_layer_time(model, lay, r, EFF))
        assert np.all(floor <= t) and np.all(floor > 0)
        checked += int(ok.sum())
    assert checked


@pytest.mark.parametrize("name", sorted(CASES))
def test_floor_pruning_changes_nothing(name, monkeypatch):
    """The lean search with and without the compute-floor pruning: the same answer."""
    from simulator.search import rank

    model_key, cluster, base, space = CASES[name]
    model = find_model(model_key)
    monkeypatch.setattr(rank, "FLOOR_PRUNE", False)
    full = best_layout_closed_form(model, cluster, base, space, EFF)
    monkeypatch.setattr(rank, "FLOOR_PRUNE", True)
    pruned = best_layout_closed_form(model, cluster, base, space, EFF)
    assert_same(pruned, (full.row, full.reason_counts, full.evaluated))
