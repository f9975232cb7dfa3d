"""The event engine (simulator.engine) against closed forms of pipeline schedules.

Closed forms (uniform stages, no communication; t_f, t_b = forward and backward time
of one micro-batch on one device, m micro-batches, p stages, v chunks per device):

- GPipe (Huang et al. 2019) and 1F1B (Narayanan et al. 2021, Sec. 2.2.1):
  step = (m + p - 1)(t_f + t_b); bubble fraction (p - 1) / (m + p - 1).
- Interleaved 1F1B (Narayanan et al. 2021, Sec. 2.2.2): the bubble shrinks by v,
  step = m (t_f + t_b) + (p - 1)(t_f + t_b) / v.
- 1F1B with a slowest last stage: that stage never idles once its first micro-batch
  arrives, so step = sum over stages (t_f + t_b) + (m - 1) max stage (t_f + t_b).

Times in the synthetic cases are arbitrary numbers; nothing here depends on
catalog/efficiency.toml except through closed forms computed from the same costs.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import Counter
from pathlib import Path

import pytest

from simulator.catalog import default_links, find_accelerator
from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.models import find_model
from simulator.catalog.scenario import load_scenario
from simulator.core.specs import Cluster, Layout, Link, Recompute, Schedule
from simulator.costs.memory import Memory, inflight_microbatches
from simulator.costs.step import Infeasible, StepCosts, step_costs
from simulator.engine.pipeline import BACKWARD, DP_REDUCE, FORWARD, SEND, simulate
from simulator.engine.step import BREAKDOWN_KEYS, breakdown, simulate_step

ROOT = Path(__file__).resolve().parents[1]
REL = 1e-9


def synthetic(
    p: int,
    m: int,
    fwd: float | list[float] = 1.0,
    bwd: float | list[float] = 2.0,
    schedule: Schedule = Schedule.ONE_F_ONE_B,
    v: int = 1,
    **changes,
) -> StepCosts:
    """StepCosts of a p-stage pipeline with m micro-batches and no communication.

    `fwd`/`bwd` are per-device times of one micro-batch through all of the device's
    layers (a float: the same on every device; a list: one value per device); each of
    the v chunks of a device takes 1/v of it.
    """
    n = p * v
    f = [fwd] * p if isinstance(fwd, (int, float)) else list(fwd)
    b = [bwd] * p if isinstance(bwd, (int, float)) else list(bwd)
    assert len(f) == len(b) == p
    layout = Layout(global_batch=m, pp=p, schedule=schedule, virtual_stages=v)
    base = StepCosts(
        layout=layout,
        fwd_compute_s=tuple(f[g % p] / v for g in range(n)),
        bwd_compute_s=tuple(b[g % p] / v for g in range(n)),
        fwd_tp_s=(0.0,) * n,
        bwd_tp_s=(0.0,) * n,
        p2p_s=0.0,
        p2p_inter=False,
        dp_reduce_s=0.0,
        dp_gather_s=0.0,
        dp_inter=False,
        dp_overlap=True,
        zero3_fwd=(),
        zero3_bwd=(),
        layers_per_chunk=1,
        optimizer_s=0.0,
        comm_processor_usage=0.0,
        memory=Memory(0.0, 0.0, 0.0, 0.0, 1.0),
        model_flops=0.0,
        hardware_flops=0.0,
    )
    return dataclasses.replace(base, **changes)


def no_comm(costs: StepCosts) -> StepCosts:
    """The same costs with every communication and the optimizer step removed."""
    zeros = (0.0,) * costs.n_virtual
    return dataclasses.replace(
        costs, p2p_s=0.0, dp_reduce_s=0.0, dp_gather_s=0.0, zero3_fwd=(), zero3_bwd=(),
        optimizer_s=0.0, fwd_tp_s=zeros, bwd_tp_s=zeros,
    )


def free_links_cluster(n_devices: int, per_node: int = 8) -> Cluster:
    """A100s joined by links of (practically) infinite bandwidth and zero latency."""
    fast = Link("ideal", 1e30, 0.0)
    return Cluster(find_accelerator("a100-80gb"), n_devices, per_node, fast, fast)


# -------------------------------------------------------------- GPipe and 1F1B
_rng = random.Random(20240611)
GRID = sorted({(p, m) for p, m in ((_rng.randint(1, 8), _rng.randint(1, 24)) for _ in range(14))}
              | {(4, 1), (4, 2), (8, 3), (5, 5), (1, 1), (2, 16)})


@pytest.mark.parametrize("schedule", [Schedule.ONE_F_ONE_B, Schedule.GPIPE], ids=lambda s: s.value)
@pytest.mark.parametrize("p,m", GRID)
def test_uniform_pipeline_step_time(schedule, p, m):
    t_f, t_b = 1.3, 2.9
    run = simulate(synthetic(p, m, t_f, t_b, schedule))
    assert run.step_time_s == pytest.approx((m + p - 1) * (t_f + t_b), rel=REL)


@pytest.mark.parametrize("p,m", [(2, 1), (4, 3), (4, 8), (8, 8), (6, 23)])
def test_bubble_of_a_real_model_with_uniform_stages(p, m):
    """gpt-22b's real per-layer costs, comm zeroed, all stages made equal: the breakdown
    puts (p - 1) / (m + p - 1) of the step into the pipeline bubble."""
    model = find_model("gpt-22b")
    layout = Layout(global_batch=m, pp=p, tp=8, dp=1, recompute=Recompute.FULL)
    costs = step_costs(model, free_links_cluster(8 * p), layout, default_efficiency())
    assert not isinstance(costs, Infeasible), costs
    n = costs.n_virtual
    costs = dataclasses.replace(
        no_comm(costs), fwd_compute_s=(costs.fwd_compute_s[0],) * n, bwd_compute_s=(costs.bwd_compute_s[0],) * n
    )
    run = simulate(costs)
    parts = breakdown(costs, run)
    assert set(parts) == set(BREAKDOWN_KEYS)
    assert sum(parts.values()) == pytest.approx(run.step_time_s, rel=REL)
    assert parts["pipeline_bubble_s"] / run.step_time_s == pytest.approx((p - 1) / (m + p - 1), rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("p,m", [(4, 8), (8, 16), (2, 5)])
def test_bubble_fraction_of_simulate_step_with_free_links(p, m):
    """simulate_step on a cluster with free links: the last stage (with the logit
    layer) is the slowest, so step = sum_s t_s + (m - 1) t_last + optimizer and the
    first stage, which finishes last, idles step - m t_0 - optimizer."""
    model = find_model("gpt-22b")
    cluster = free_links_cluster(8 * p)
    layout = Layout(global_batch=m, pp=p, tp=8, dp=1, recompute=Recompute.FULL)
    eff = dataclasses.replace(default_efficiency(), hop_latency_s=0.0)
    costs = step_costs(model, cluster, layout, eff)
    result = simulate_step(model, cluster, layout, eff)
    assert result.feasible, result.detail
    t = [costs.fwd_compute_s[s] + costs.bwd_compute_s[s] for s in range(p)]
    assert t[-1] == max(t)
    step = sum(t) + (m - 1) * t[-1] + costs.optimizer_s
    assert result.step_time_s == pytest.approx(step, rel=1e-6)
    bubble = sum(t) + (m - 1) * t[-1] - m * t[0]
    assert result.bubble_fraction == pytest.approx(bubble / step, rel=1e-6, abs=1e-9)
    assert sum(result.breakdown_s.values()) == pytest.approx(result.step_time_s, rel=1e-9)


# -------------------------------------------------------------- interleaved
@pytest.mark.parametrize("p,v,k", [(2, 2, 1), (2, 4, 3), (3, 2, 2), (4, 2, 1), (4, 3, 2), (8, 2, 2), (6, 4, 1)])
def test_interleaved_bubble_shrinks_by_v(p, v, k):
    m = k * p  # Megatron's interleaved schedule needs m divisible by p
    t_f, t_b = 1.7, 3.1
    run = simulate(synthetic(p, m, t_f, t_b, Schedule.INTERLEAVED, v))
    assert run.step_time_s == pytest.approx(m * (t_f + t_b) + (p - 1) * (t_f + t_b) / v, rel=REL)


def _check_records(costs: StepCosts, run) -> None:
    """Every op once, no overlap on a device, and dependency order (with p2p delay)."""
    p, n, m = costs.layout.pp, costs.n_virtual, costs.layout.n_microbatches
    recs = [r for r in run.op_records() if r.op in (FORWARD, BACKWARD)]
    assert len(recs) == 2 * m * n
    keys = Counter((r.op, r.chunk * p + r.stage, r.micro_batch) for r in recs)
    expected = {(op, g, i) for op in (FORWARD, BACKWARD) for g in range(n) for i in range(m)}
    assert set(keys) == expected and set(keys.values()) == {1}
    for s in range(p):
        mine = sorted((r for r in recs if r.stage == s), key=lambda r: r.start_s)
        for a, b in itertools.pairwise(mine):
            assert b.start_s >= a.end_s - 1e-12, (a, b)
    at = {(r.op, r.chunk * p + r.stage, r.micro_batch): r for r in recs}
    c = costs.p2p_s
    for i in range(m):
        for g in range(n):
            f, b = at[FORWARD, g, i], at[BACKWARD, g, i]
            assert f.end_s - f.start_s == pytest.approx(costs.fwd_compute_s[g] + costs.fwd_tp_s[g], rel=REL)
            assert b.end_s - b.start_s == pytest.approx(costs.bwd_compute_s[g] + costs.bwd_tp_s[g], rel=REL)
            assert b.start_s >= f.end_s - 1e-12
            if g > 0:
                assert f.start_s >= at[FORWARD, g - 1, i].end_s + c - 1e-12
            if g < n - 1:
                assert b.start_s >= at[BACKWARD, g + 1, i].end_s + c - 1e-12


def test_interleaved_records_and_dependencies():
    rng = random.Random(7)
    p, v, m = 3, 2, 6
    costs = synthetic(p, m, [rng.uniform(1, 2) for _ in range(p)], [rng.uniform(2, 4) for _ in range(p)],
                      Schedule.INTERLEAVED, v, p2p_s=0.05)
    run = simulate(costs)
    _check_records(costs, run)
    sends = [r for r in run.op_records() if r.op == SEND]
    assert len(sends) == 2 * m * (p * v - 1)  # every op but the ends sends once


@pytest.mark.parametrize("schedule,v", [(Schedule.ONE_F_ONE_B, 1), (Schedule.GPIPE, 1)], ids=["1f1b", "gpipe"])
def test_records_and_dependencies(schedule, v):
    rng = random.Random(11)
    p, m = 4, 7
    costs = synthetic(p, m, [rng.uniform(1, 2) for _ in range(p)], [rng.uniform(2, 4) for _ in range(p)],
                      schedule, v, p2p_s=0.1)
    _check_records(costs, simulate(costs))


# -------------------------------------------------------------- imbalanced stages
@pytest.mark.parametrize("seed", range(8))
def test_slow_last_stage_1f1b(seed):
    rng = random.Random(seed)
    p, m = rng.randint(2, 8), rng.randint(1, 16)
    fwd = [rng.uniform(0.5, 1.5) for _ in range(p)]
    bwd = [rng.uniform(1.0, 3.0) for _ in range(p)]
    fwd[-1] = max(fwd) * rng.uniform(1.0, 1.5)
    bwd[-1] = max(bwd) * rng.uniform(1.0, 1.5)
    t = [f + b for f, b in zip(fwd, bwd)]
    run = simulate(synthetic(p, m, fwd, bwd))
    assert run.step_time_s == pytest.approx((m - 1) * max(t) + sum(t), rel=REL)


# -------------------------------------------------------------- DP sharing the link
@pytest.mark.parametrize("p", [1, 2, 4])
def test_dp_reduction_sharing_the_p2p_link(p):
    """p2p and the DP gradient reduction on the same inter-node link: a larger DP
    reduction never shortens the step and is exposed by at most its own duration."""
    m = 2 * p
    previous = 0.0
    for dp_reduce in (0.0, 0.01, 0.3, 1.0, 5.0, 50.0, 500.0):
        costs = synthetic(p, m, 1.0, 2.0, p2p_s=0.3 if p > 1 else 0.0, p2p_inter=True, dp_inter=True,
                          dp_reduce_s=dp_reduce, layers_per_chunk=4, optimizer_s=0.05)
        run = simulate(costs)
        exposed = breakdown(costs, run)["dp_comm_exposed_s"]
        assert run.step_time_s >= previous * (1 - REL)
        assert -1e-12 <= exposed <= dp_reduce * (1 + REL) + 1e-12
        if dp_reduce > 100:  # far longer than the last backward: nearly all exposed
            assert exposed >= dp_reduce - 2.0
        reduce_time = sum(r.end_s - r.start_s for r in run.op_records() if r.op == DP_REDUCE and r.stage == 0)
        assert reduce_time == pytest.approx(dp_reduce, rel=1e-9, abs=1e-12)
        previous = run.step_time_s


def test_dp_reduction_sharing_the_link_real_costs():
    """gpt-22b, tp 8 x pp 4 x dp 2 on 64 A100s: both the p2p and the DP groups cross
    nodes, so they share the InfiniBand link; scale the DP reduction up."""
    intra, inter, per_node = default_links("a100-80gb")
    cluster = Cluster(find_accelerator("a100-80gb"), 64, per_node, intra, inter)
    layout = Layout(global_batch=64, tp=8, pp=4, dp=2, recompute=Recompute.FULL)
    costs = step_costs(find_model("gpt-22b"), cluster, layout, default_efficiency())
    assert not isinstance(costs, Infeasible)
    assert costs.p2p_inter and costs.dp_inter and costs.dp_reduce_s > 0 and costs.p2p_s > 0
    previous = 0.0
    for factor in (0.0, 1.0, 10.0, 100.0, 1000.0):
        scaled = dataclasses.replace(costs, dp_reduce_s=costs.dp_reduce_s * factor)
        run = simulate(scaled)
        exposed = breakdown(scaled, run)["dp_comm_exposed_s"]
        assert run.step_time_s >= previous * (1 - REL)
        assert exposed <= scaled.dp_reduce_s * (1 + REL) + 1e-12
        previous = run.step_time_s


# -------------------------------------------------------------- Megatron 1T at scale
def test_megatron_1t_dp6_and_dp600_take_about_the_same_step():
    """Weak scaling over data parallelism (same per-replica work, 100x the replicas):
    only the DP all-reduce changes, and across nodes it is bandwidth-bound, so the
    step time may not move by more than 20%."""
    sc = load_scenario(ROOT / "scenarios" / "megatron-1t-3072.toml")
    eff = default_efficiency()
    small = simulate_step(sc.model, sc.cluster, sc.layout, eff)
    cluster = dataclasses.replace(sc.cluster, n_devices=307_200)
    layout = dataclasses.replace(sc.layout, dp=600, global_batch=307_200)
    big = simulate_step(sc.model, cluster, layout, eff)
    assert small.feasible and big.feasible
    assert layout.n_microbatches == sc.layout.n_microbatches == 512
    assert big.step_time_s == pytest.approx(small.step_time_s, rel=0.20)
    assert big.step_time_s >= small.step_time_s * (1 - REL)  # more replicas never help one step


# -------------------------------------------------------------- in-flight micro-batches
def _max_in_flight(run, stage: int) -> int:
    """Most micro-batches (x chunks) whose forward ran on `stage` and whose backward
    had not yet started: what the stage must keep activations for."""
    events = []
    for r in run.op_records():
        if r.stage == stage and r.op == FORWARD:
            events.append((r.start_s, 1))
        elif r.stage == stage and r.op == BACKWARD:
            events.append((r.start_s, -1))
    level = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):  # a backward frees first
        level += delta
        peak = max(peak, level)
    return peak


@pytest.mark.parametrize("p,m", [(4, 2), (4, 4), (4, 9), (8, 16)])
def test_in_flight_micro_batches(p, m):
    """1F1B keeps at most p - s micro-batches in flight on stage s (Narayanan 2021
    Sec. 2.2.1: p - s - 1 warm-up forwards); GPipe keeps all m."""
    one = simulate(synthetic(p, m, 1.0, 2.0))
    gpipe = simulate(synthetic(p, m, 1.0, 2.0, Schedule.GPIPE))
    for s in range(p):
        assert _max_in_flight(one, s) == min(m, p - s)
        assert _max_in_flight(gpipe, s) == m


@pytest.mark.parametrize("p,v,k", [(2, 2, 2), (4, 2, 2), (4, 3, 1)])
def test_in_flight_interleaved(p, v, k):
    """Megatron's interleaved warm-up: (p - s - 1) * 2 + (v - 1) * p forwards, then
    one forward per backward."""
    m = k * p
    run = simulate(synthetic(p, m, 1.0, 2.0, Schedule.INTERLEAVED, v))
    for s in range(p):
        assert _max_in_flight(run, s) == min(m * v, (p - s - 1) * 2 + (v - 1) * p + 1)


def test_p2p_on_the_dp_link_delays_the_reduction():
    """The last stage sends its final gradient while its DP reduction is still queued
    on the same link: the reduction (and that device) ends one transfer later than
    with the two on different links."""
    p, m, c = 4, 8, 0.3
    kw = {"p2p_s": c, "p2p_inter": True, "dp_reduce_s": 20.0, "layers_per_chunk": 4, "optimizer_s": 0.05}
    shared = simulate(synthetic(p, m, 1.0, 2.0, dp_inter=True, **kw))
    apart = simulate(synthetic(p, m, 1.0, 2.0, dp_inter=False, **kw))
    assert shared.last_compute_end_s == pytest.approx(apart.last_compute_end_s, rel=REL)
    assert shared.device_end_s[p - 1] == pytest.approx(apart.device_end_s[p - 1] + c, rel=REL)
    assert shared.device_end_s[0] == pytest.approx(apart.device_end_s[0], rel=REL)  # stage 0 sends nothing then
    assert shared.step_time_s >= apart.step_time_s * (1 - REL)


@pytest.mark.parametrize("schedule,p,v,m", [
    (Schedule.ONE_F_ONE_B, 4, 1, 2), (Schedule.ONE_F_ONE_B, 4, 1, 12), (Schedule.GPIPE, 4, 1, 6),
    (Schedule.INTERLEAVED, 4, 2, 4), (Schedule.INTERLEAVED, 4, 2, 12), (Schedule.INTERLEAVED, 3, 4, 6),
])
def test_memory_model_holds_what_the_schedule_holds(schedule, p, v, m):
    """costs.memory.inflight_microbatches (micro-batches of activations on the first
    stage) equals the peak the simulated schedule keeps on stage 0 (in chunks / v)."""
    costs = synthetic(p, m, 1.0, 2.0, schedule, v)
    run = simulate(costs)
    assert inflight_microbatches(costs.layout) == pytest.approx(_max_in_flight(run, 0) / v, rel=1e-12)
