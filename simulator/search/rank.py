"""The fastest feasible layout: score every candidate in closed form, re-simulate the best.

Stage 1 scores all legal candidates with numpy arrays through the same cost
functions as the engine (`costs.step.unit_costs`, `costs.closed_form.step_time`).
Stage 2 re-simulates the top k with the event engine and ranks them by its answer.
Candidates are ranked by throughput (tokens/s), which orders them as step time does
when the global batch is fixed and stays meaningful across a batch range.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulator.catalog.stacks import find_stack
from simulator.core.specs import (
    DIMENSION_KEYS,
    Cluster,
    Efficiency,
    GenericNetwork,
    Layout,
    Reason,
    Recompute,
    Schedule,
    SearchSpace,
    Transformer,
    Zero,
)
from simulator.core.units import GB
from simulator.costs.closed_form import compute_floor, step_time
from simulator.costs.compute import LayerTime, rates, transformer_layer_time
from simulator.costs.flops import model_flops_per_step
from simulator.costs.memory import device_memory
from simulator.costs.step import unit_costs
from simulator.engine.step import StepResult, simulate_step
from simulator.search.space import CODE, REASONS, Group, Plan, groups, plans, structural_reasons

COLUMNS = [
    "devices", *DIMENSION_KEYS, "micro_batch", "schedule", "virtual_stages", "recompute",
    "sequence_parallel", "zero", "offload", "site_split", "global_batch", "reason", "memory_gb", "step_time_s",
    "tokens_per_s", "mfu",
]  # fmt: skip
#: Skip the candidates whose compute alone is slower than the best so far (tests switch it off).
FLOOR_PRUNE = True
#: Relative slack of the compute-floor pruning in `best_layout_closed_form`: a candidate is skipped only
#: when its bound is below the best so far by more than this (the bound is exact; this is a safety margin).
PRUNE_MARGIN = 1e-9


@dataclass
class SearchResult:
    """All candidates (`frame`, ranked), the engine's view of the top k, reason counts."""

    frame: pd.DataFrame
    top: list[tuple[Layout, StepResult]] = field(default_factory=list)
    evaluated: int = 0
    scoring_s: float = 0.0
    total_s: float = 0.0

    @property
    def best(self) -> tuple[Layout, StepResult] | None:
        """The fastest feasible layout and its simulated step; None when none is feasible."""
        return self.top[0] if self.top else None

    @property
    def reason_counts(self) -> dict[str, int]:
        """Infeasible candidates per reason, most common first."""
        bad = self.frame[self.frame.reason != ""]
        return {str(k): int(v) for k, v in bad.reason.value_counts().items()}

    @property
    def n_feasible(self) -> int:
        """Candidates that passed every rule."""
        return int((self.frame.reason == "").sum())

    def rank_of(self, layout: Layout) -> int | None:
        """1-based closed-form rank of a layout among the feasible candidates."""
        ok = self.frame[self.frame.reason == ""].reset_index(drop=True)
        hit = ok[
            (ok.tp == layout.tp) & (ok.pp == layout.pp) & (ok.dp == layout.dp)
            & (ok.micro_batch == layout.micro_batch) & (ok.schedule == layout.schedule.value)
            & (ok.virtual_stages == layout.virtual_stages) & (ok.recompute == layout.recompute.value)
            & (ok.sequence_parallel == layout.sequence_parallel) & (ok.zero == layout.zero.stage)
            & (ok.global_batch == layout.global_batch) & (ok.cp == layout.cp) & (ok.ep == layout.ep)
            & (ok.offload == layout.offload) & (ok.site_split == layout.site_split)
        ]  # fmt: skip
        return int(hit.index[0]) + 1 if len(hit) else None


def used_cluster(cluster: Cluster, layout: Layout) -> Cluster:
    """The part of the cluster a layout runs on (idle devices left out)."""
    return dataclasses.replace(cluster, n_devices=layout.n_devices)


def layout_of(row, base: Layout) -> Layout:
    """The Layout of one frame row (a Series, a named tuple or a mapping of its columns); what the
    frame does not vary (precision, attention) from the base. The one row -> Layout codec
    (the frontier and the search use it)."""
    if hasattr(row, "_asdict"):  # a row of DataFrame.itertuples
        row = row._asdict()
    return dataclasses.replace(
        base, global_batch=int(row["global_batch"]), **{k: int(row[k]) for k in DIMENSION_KEYS},
        micro_batch=int(row["micro_batch"]), schedule=Schedule.parse(row["schedule"]),
        virtual_stages=int(row["virtual_stages"]), recompute=Recompute.parse(row["recompute"]),
        sequence_parallel=bool(row["sequence_parallel"]), zero=Zero.parse(str(row["zero"])),
        offload=bool(row["offload"]), site_split=str(row["site_split"]),
    )  # fmt: skip


def score_group(
    model: Transformer | GenericNetwork, cluster: Cluster, base: Layout, g: Group,
    space: SearchSpace, eff: Efficiency,
) -> dict:  # fmt: skip
    """Closed-form columns of one group of candidates."""
    code = structural_reasons(model, g, space, cluster)
    n = len(g)
    mem, t = np.full(n, np.nan), np.full(n, np.nan)
    ok = code == 0
    if ok.any():
        lay = Layout(
            global_batch=g.global_batch[ok], dp=g.dp[ok], tp=g.tp[ok], pp=g.pp[ok], micro_batch=g.micro_batch[ok],
            schedule=g.schedule, virtual_stages=g.virtual_stages, recompute=g.recompute,
            sequence_parallel=g.sequence_parallel, zero=g.zero, precision=base.precision, attention=base.attention,
            cp=g.cp[ok], ep=g.ep[ok], offload=g.offload, site_split=g.site_split,
        )  # fmt: skip
        u = unit_costs(model, cluster, lay, eff, find_stack(space.stack))  # uses the node size, not the device count
        total = np.broadcast_to(u.memory.total, (ok.sum(),))
        mem[ok] = total
        t[ok] = np.broadcast_to(step_time(u, lay, eff.comm_processor_usage), (ok.sum(),))
        oom = np.zeros(n, bool)
        oom[ok] = total > cluster.accelerator.memory_bytes
        code[oom] = CODE[Reason.OUT_OF_MEMORY]
    seq = model.seq_len if isinstance(model, Transformer) else 1
    peak = cluster.accelerator.peak(base.precision)
    tokens = g.global_batch * seq / t
    flops = model_flops_per_step(model, 1.0)  # per sequence (example)
    used = g.tp * g.pp * g.dp * g.cp
    return {
        "devices": used, **{k: getattr(g, k) for k in DIMENSION_KEYS}, "micro_batch": g.micro_batch,
        "schedule": np.full(n, g.schedule.value), "virtual_stages": np.full(n, g.virtual_stages),
        "recompute": np.full(n, g.recompute.value), "sequence_parallel": np.full(n, g.sequence_parallel),
        "zero": np.full(n, g.zero.stage), "offload": np.full(n, g.offload),
        "site_split": np.full(n, g.site_split), "global_batch": g.global_batch,
        "reason": np.array([""] + [r.value for r in REASONS])[code],
        "memory_gb": mem / GB, "step_time_s": t, "tokens_per_s": np.where(code == 0, tokens, np.nan),
        "mfu": np.where(code == 0, flops * g.global_batch / (t * used * peak), np.nan),
        "_code": code,
    }  # fmt: skip


def search_layouts(
    model: Transformer | GenericNetwork, cluster: Cluster, base: Layout, space: SearchSpace,
    eff: Efficiency, progress=None,
) -> SearchResult:  # fmt: skip
    """Every legal layout scored and ranked; the top k re-simulated by the engine.

    `base` gives precision and attention; `progress(done, total)` is called per group.

    >>> import simulator as sim
    >>> intra, inter, per_node = sim.default_links("a100-80gb")
    >>> cluster = sim.Cluster(sim.find_accelerator("a100-80gb"), 8, per_node, intra, inter)
    >>> res = search_layouts(sim.find_model("gpt2-1.5b"), cluster, sim.Layout(global_batch=64),
    ...                      sim.SearchSpace(global_batches=(64,)), sim.default_efficiency())
    >>> layout, result = res.best
    >>> res.n_feasible > 0, result.feasible, layout.tp * layout.pp * layout.dp
    (True, True, 8)
    """
    t0 = time.perf_counter()
    if cluster.accelerator.peak(base.precision) is None:
        raise ValueError(f"{cluster.accelerator.name} has no peak at {base.precision.value}")
    all_groups = list(groups(model, cluster, space))
    parts = []
    for i, g in enumerate(all_groups):
        parts.append(score_group(model, cluster, base, g, space, eff))
        if progress is not None:
            progress(i + 1, len(all_groups))
    cols = {c: np.concatenate([p[c] for p in parts]) if parts else np.array([]) for c in COLUMNS}
    frame = pd.DataFrame(cols, columns=COLUMNS)
    frame = frame.sort_values(["tokens_per_s", "memory_gb"], ascending=[False, True], na_position="last")
    frame = frame.reset_index(drop=True)
    scoring = time.perf_counter() - t0
    top = []
    for _, row in frame[frame.reason == ""].head(space.top_k).iterrows():
        layout = layout_of(row, base)
        top.append((layout, simulate_step(model, used_cluster(cluster, layout), layout, eff, find_stack(space.stack))))
    top.sort(key=lambda lr: -lr[1].tokens_per_s if lr[1].feasible else 0.0)
    return SearchResult(frame, top, len(frame), scoring, time.perf_counter() - t0)


@dataclass(frozen=True)
class Best:
    """The fastest feasible candidate of a search (closed form), without the full table."""

    row: dict | None  # the COLUMNS of the best candidate; None when none is feasible
    reason_counts: dict[str, int]  # infeasible candidates per reason
    evaluated: int


def best_layout_closed_form(
    model: Transformer | GenericNetwork, cluster: Cluster, base: Layout, space: SearchSpace, eff: Efficiency,
) -> Best:  # fmt: skip
    """The first row `search_layouts` would rank (most tokens/s, then least memory), found
    group by group with numpy and no DataFrame: the frontier solver runs thousands of
    searches and needs only the winner and why the others failed.

    The structural verdicts come cached from `space.plans`; only the candidates that pass
    them are costed (`unit_costs`, `step_time` on exactly the arrays `score_group` passes,
    so every number is the one `search_layouts` computes), and only the winner's row is built.
    Candidates whose compute floor (`closed_form.compute_floor`, a lower bound of the step
    time) is already slower than the best of the groups before are not costed (FLOOR_PRUNE):
    they could neither win nor tie, so the winner is the same."""
    peak = cluster.accelerator.peak(base.precision)
    if peak is None:
        raise ValueError(f"{cluster.accelerator.name} has no peak at {base.precision.value}")
    counts = np.zeros(len(REASONS) + 1, dtype=np.int64)
    best, best_key, evaluated = None, (-np.inf, np.inf), 0
    stack = find_stack(space.stack)
    capacity = cluster.accelerator.memory_bytes
    seq = model.seq_len if isinstance(model, Transformer) else 1
    flops = None
    oom_code = CODE[Reason.OUT_OF_MEMORY]
    floor_rates = rates(cluster.accelerator, base.precision, eff, stack) if isinstance(model, Transformer) else None
    for p in plans(model, cluster, space):
        counts += p.counts
        n_ok = len(p.tp)
        evaluated += p.size
        if not n_ok:
            continue
        total, fit, lay = _fitting(model, p, _plan_layout(p, base), base, capacity)
        counts[oom_code] += n_ok - len(fit)
        if not len(fit):
            continue  # nothing fits: no step time needed
        lt = None
        if FLOOR_PRUNE and best is not None and floor_rates is not None and p.zero.stage < 3 and p.site_split != "pp":
            # a candidate whose compute alone (closed_form.compute_floor) leaves it slower than the best
            # so far cannot win or tie: it is not costed (the answer is the same, found sooner)
            kept = _above_floor(model, lay, floor_rates, eff, seq, best_key[0] * (1 - PRUNE_MARGIN))
            if kept is None:
                continue
            keep, lt = kept
            if keep is not None:
                fit, lay = fit[keep], _subset(lay, keep)
        u = unit_costs(model, cluster, lay, eff, stack, totals=False, lt=lt)
        t = np.broadcast_to(step_time(u, lay, eff.comm_processor_usage), (len(fit),))
        mem_gb = total[fit] / GB
        tps = lay.global_batch * seq / t
        j = np.lexsort((mem_gb, -tps))[0]
        key = (float(tps[j]), float(mem_gb[j]))
        if key[0] > best_key[0] or (key[0] == best_key[0] and key[1] < best_key[1]):
            if flops is None:
                flops = model_flops_per_step(model, 1.0)  # per sequence (example)
            best, best_key = _row(p, fit[j], mem_gb[j], t[j], tps[j], flops, peak), key
    names = [""] + [r.value for r in REASONS]
    reasons = {names[k]: int(v) for k, v in enumerate(counts) if k and v}
    return Best(best, reasons, evaluated)


def _plan_layout(p: Plan, base: Layout) -> Layout:
    """The candidates of a plan as one layout whose numeric fields are arrays."""
    return Layout(
        global_batch=p.global_batch, dp=p.dp, tp=p.tp, pp=p.pp, micro_batch=p.micro_batch,
        schedule=p.schedule, virtual_stages=p.virtual_stages, recompute=p.recompute,
        sequence_parallel=p.sequence_parallel, zero=p.zero, precision=base.precision, attention=base.attention,
        cp=p.cp, ep=p.ep, offload=p.offload, site_split=p.site_split,
    )  # fmt: skip


def _subset(lay: Layout, keep: np.ndarray) -> Layout:
    """The candidates at `keep` of a plan's layout (its numeric fields are arrays)."""
    return dataclasses.replace(lay, global_batch=lay.global_batch[keep], dp=lay.dp[keep], tp=lay.tp[keep],
                               pp=lay.pp[keep], micro_batch=lay.micro_batch[keep], cp=lay.cp[keep], ep=lay.ep[keep])


def _fitting(model, p: Plan, lay: Layout, base: Layout, capacity: float):
    """(memory per device of every candidate, indices of those that fit, their layout). The
    memory depends on the model and layout alone (not the accelerator): computed once per plan."""
    total = p.memory.get((base.precision, base.attention))
    if total is None:
        total = np.broadcast_to(device_memory(model, lay, capacity).total, (len(p.tp),))
        total.flags.writeable = False
        p.memory[(base.precision, base.attention)] = total
    oom = total > capacity
    if not oom.any():
        return total, np.arange(len(p.tp)), lay
    fit = np.flatnonzero(~oom)
    # costs are elementwise in the candidates: those of the ones that fit are the numbers the
    # whole group's arrays give
    return total, fit, _subset(lay, fit) if len(fit) else lay


def _above_floor(model, lay: Layout, r, eff: Efficiency, seq: int, bar: float):
    """(indices of the candidates whose tokens/s at their compute floor is not below `bar`,
    None for all, and their layer times), or None when none is."""
    lt = transformer_layer_time(model, lay, r, eff)
    ceiling = lay.global_batch * seq / compute_floor(model, lay, lt)
    may = ~(ceiling < bar)
    if may.all():
        return None, lt
    if not may.any():
        return None
    keep = np.flatnonzero(may)
    return keep, LayerTime(*(_take(getattr(lt, f.name), keep) for f in dataclasses.fields(lt)))


def _take(x, keep: np.ndarray):
    """The candidates at `keep` of a cost (a scalar shared by all stays as it is)."""
    return x[keep] if np.ndim(x) else x


def _scalar(value):
    """`value` as the numpy scalar a `score_group` column of it holds."""
    return np.full(1, value)[0]


def _row(p: Plan, i: int, mem_gb, t, tps, flops: float, peak: float) -> dict:
    """The COLUMNS of candidate i of a plan, as `score_group` fills them."""
    used, gb = p.devices[i], p.global_batch[i]
    row = {
        "devices": used, **{k: getattr(p, k)[i] for k in DIMENSION_KEYS},
        "micro_batch": p.micro_batch[i], "schedule": _scalar(p.schedule.value),
        "virtual_stages": _scalar(p.virtual_stages), "recompute": _scalar(p.recompute.value),
        "sequence_parallel": _scalar(p.sequence_parallel), "zero": _scalar(p.zero.stage),
        "offload": _scalar(p.offload), "site_split": _scalar(p.site_split), "global_batch": gb, "reason": _scalar(""), "memory_gb": mem_gb,
        "step_time_s": t, "tokens_per_s": tps, "mfu": flops * gb / (t * used * peak),
    }  # fmt: skip
    return {c: row[c] for c in COLUMNS}
