"""Legal layouts as arrays: generators of options and predicates that rule them out.

A candidate is (tp, pp, cp, ep, micro-batch, global batch) x (schedule, virtual stages,
recompute, sequence parallel, ZeRO stage, offload, the dimension spread over the sites); dp = devices // (tp x pp x cp), so a split that
does not divide the device count leaves the remainder idle (5128 GPUs can run 105
layers as tp 8 x pp 35 x dp 18 on 5040 of them). Options that mean nothing are not
generated (sequence parallelism without tensor parallelism, ZeRO without data
parallelism, interleaving without a pipeline); options that are meaningful but
cannot run are kept and marked with the first reason that rules them out, so a
search can count candidates per reason.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from simulator.catalog.hardware import cluster_host
from simulator.catalog.stacks import find_stack
from simulator.core.specs import (
    Cluster,
    GenericNetwork,
    Reason,
    Recompute,
    Schedule,
    SearchSpace,
    Transformer,
    Zero,
)
from simulator.costs.rules import ORDER, RULES, Context, applies

#: Reasons in the order they are checked (costs/rules.py), memory last; index + 1 is the code (0 = feasible).
REASONS = (*ORDER, Reason.OUT_OF_MEMORY)
CODE = {reason: i + 1 for i, reason in enumerate(REASONS)}


@dataclass(frozen=True)
class Group:
    """Candidates sharing their categorical options; numeric fields are arrays."""

    schedule: Schedule
    virtual_stages: int
    recompute: Recompute
    sequence_parallel: bool
    zero: Zero
    tp: np.ndarray
    pp: np.ndarray
    dp: np.ndarray
    micro_batch: np.ndarray
    global_batch: np.ndarray
    cp: np.ndarray
    ep: np.ndarray
    offload: bool = False
    site_split: str = "dp"  # the dimension spread over the cluster's sites

    def __len__(self) -> int:
        return len(self.tp)


def model_splits(
    model: Transformer | GenericNetwork, cluster: Cluster, space: SearchSpace | None = None
) -> list[tuple[int, int]]:
    """(tp, pp) pairs: every tp up to the node size (and, with tp_across_nodes, power-of-two
    multiples of it), every pp up to the layers that
    leaves at least one replica (dp = devices // (tp pp); the rest stay idle), within
    the space's max_tp / max_pp."""
    n = cluster.n_devices
    if isinstance(model, GenericNetwork):
        return [(1, 1)]
    node = cluster.devices_per_node
    max_tp = min(node, n, space.max_tp or n) if space else min(node, n)
    tps = list(range(1, max_tp + 1))
    if space is not None and space.tp_across_nodes:  # whole nodes: 2, 4, 8 ... x the node size
        t = 2 * node
        while t <= min(n, space.max_tp or n):
            tps.append(t)
            t *= 2
    max_pp = min(model.layers, space.max_pp or model.layers) if space else model.layers
    if space is not None and space.divisors_only:  # filter the factors first: the same pairs in the same order
        heads, layers = model.heads, model.layers
        pps = [p for p in range(1, max_pp + 1) if layers % p == 0]
        return [(t, p) for t in tps if heads % t == 0 for p in pps if p <= n // t]
    return [(t, p) for t in tps for p in range(1, min(max_pp, n // t) + 1)]


def expert_options(model: Transformer | GenericNetwork, space: SearchSpace) -> list[int]:
    """ep degrees: the space's, or every power of two up to the experts (1 for dense models)."""
    if not isinstance(model, Transformer) or not model.moe:
        return [1]
    if space.expert_parallel is not None:
        return list(space.expert_parallel)
    out, e = [], 1
    while e <= model.experts:
        out.append(e)
        e *= 2
    return out


def schedule_options(space: SearchSpace) -> list[tuple[Schedule, int]]:
    """(schedule, virtual stages) pairs of the search space."""
    out = []
    for sched in space.schedules:
        if sched is Schedule.INTERLEAVED:
            out += [(sched, v) for v in range(2, space.max_virtual_stages + 1)]
        else:
            out.append((sched, 1))
    return out


def _candidates(model: Transformer | GenericNetwork, cluster: Cluster, space: SearchSpace):
    """(tp, pp, dp, micro-batch, global batch, cp, ep) arrays of every numeric candidate
    (split-major, then micro-batch, then global batch) and, lazily, each meaningful
    combination of the categorical options with the mask of the candidates it keeps."""
    generic = isinstance(model, GenericNetwork)
    cps = [1] if generic else list(space.context_parallel)
    eps = expert_options(model, space)
    n = cluster.n_devices
    # with divisors_only, only the ep that divide the experts and dp x cp (the others fail costs/rules.py's rule)
    splits = np.array([(t, p, c, e) for t, p in model_splits(model, cluster, space) for c in cps
                       for e in eps if t * p * c <= n and not (
                           space.divisors_only and e > 1 and (model.experts % e or (n // (t * p * c) * c) % e))])
    mbs = np.arange(1, space.max_micro_batch + 1)
    batches = np.array(space.global_batches)
    ns, nm, nb = len(splits), len(mbs), len(batches)
    if not ns * nm * nb:
        raise IndexError("no candidate layouts: no split, micro-batch or global batch to combine")
    si = np.repeat(np.arange(ns), nm * nb)  # the order of itertools.product(splits, mbs, batches)
    tp_all, pp_all, cp_all, ep_all = (splits[si, k] for k in range(4))
    mb_all = np.tile(np.repeat(mbs, nb), ns)
    b_all = np.tile(batches, ns * nm)
    dp_all = cluster.n_devices // (tp_all * pp_all * cp_all)
    arrays = (tp_all, pp_all, dp_all, mb_all, b_all, cp_all, ep_all)

    def combos():
        """Every combination of the non-numeric layout fields."""
        for (sched, v), rc, sp, zero, off, split in itertools.product(
            schedule_options(space), space.recompute, space.sequence_parallel, space.zero, space.offload,
            space.site_splits,
        ):
            if split != "dp" and cluster.sites == 1:  # no sites to spread over
                continue
            if off and not zero.stage:  # offload moves ZeRO's optimizer partitions: meaningless without ZeRO
                continue
            if generic and (sp or sched is Schedule.INTERLEAVED):
                continue
            keep = np.ones(len(tp_all), bool)
            if sp:
                keep &= tp_all > 1
            if zero.stage:
                keep &= dp_all * cp_all > 1
            if sched is Schedule.INTERLEAVED:
                keep &= pp_all > 1
            if sched is Schedule.GPIPE:
                keep &= pp_all > 1  # with one stage GPipe is 1F1B
            if keep.any():
                yield (sched, v, rc, sp, zero, off, split), keep

    return arrays, combos()


def _group(options: tuple, arrays: tuple, keep: np.ndarray | None = None) -> Group:
    """The group of `options` over the candidates at indices `keep` (all: None)."""
    sched, v, rc, sp, zero, off, split = options
    tp, pp, dp, mb, b, cp, ep = arrays if keep is None else (a.take(keep) for a in arrays)
    return Group(sched, v, rc, sp, zero, tp, pp, dp, mb, b, cp, ep, off, split)


def groups(model: Transformer | GenericNetwork, cluster: Cluster, space: SearchSpace):
    """Yield every candidate group (meaningless combinations left out)."""
    arrays, combos = _candidates(model, cluster, space)
    for options, keep in combos:
        yield _group(options, arrays, np.flatnonzero(keep))


def structural_reasons(model: Transformer | GenericNetwork, g: Group, space: SearchSpace, cluster: Cluster) -> np.ndarray:
    """Reason code per candidate for every rule except memory (0 = none): the rules of
    costs/rules.py over arrays, in its order (those of `costs.step.check_layout`), with
    the search space's limits (tp across nodes, the batch limit)."""
    code = np.zeros(len(g), np.int8)
    ctx = Context(model, cluster, find_stack(space.stack), space)
    for rule in RULES:
        if not applies(rule, model):
            continue
        mask = rule.fails(g, ctx)
        if isinstance(mask, np.ndarray) and mask.ndim:
            if mask.any():
                code[(code == 0) & mask] = CODE[rule.reason]
        elif mask:  # a verdict shared by the whole group
            code[code == 0] = CODE[rule.reason]
    return code


@dataclass(frozen=True, kw_only=True)
class Plan(Group):
    """One group's structural verdict: its options, its size, candidates per reason code
    (`counts[0]`: those no rule but memory rules out) and, as arrays, the fields of those
    candidates in the group's order."""

    size: int  # candidates in the group
    counts: np.ndarray
    devices: np.ndarray  # tp x pp x dp x cp of each
    memory: dict = field(default_factory=dict, compare=False, repr=False)  # filled by the search: per-device bytes


#: Structural plans by what they depend on, oldest dropped first past MAX_PLANS entries
#: or MAX_PLAN_CANDIDATES candidates held (about 80 bytes each with their memory).
_PLANS: dict[tuple, tuple[Plan, ...]] = {}
_HELD = [0]
MAX_PLANS = 4096
MAX_PLAN_CANDIDATES = 1_000_000


def _held(found: tuple[Plan, ...]) -> int:
    return sum(len(p.tp) for p in found)


def _build_plans(model: Transformer | GenericNetwork, cluster: Cluster, space: SearchSpace) -> tuple[Plan, ...]:
    arrays, combos = _candidates(model, cluster, space)
    codes: dict[tuple, np.ndarray] = {}  # the rules read every option but recompute, candidate by candidate
    out = []
    for options, keep in combos:
        sched, v, rc, sp, zero, off, split = options
        shared = (sched, v, sp, zero, off, split)
        if shared not in codes:
            codes[shared] = structural_reasons(model, _group(options, arrays), space, cluster)
        keep = np.flatnonzero(keep)
        code = codes[shared].take(keep)
        ok = keep[code == 0]
        tp, pp, dp, mb, b, cp, ep = (a.take(ok) for a in arrays)
        fields = (tp, pp, dp, mb, b, cp, ep, tp * pp * dp * cp)
        for a in fields:
            a.flags.writeable = False  # shared by every search that hits the cache
        out.append(Plan(schedule=sched, virtual_stages=v, recompute=rc, sequence_parallel=sp, zero=zero, tp=tp,
                        pp=pp, dp=dp, micro_batch=mb, global_batch=b, cp=cp, ep=ep, offload=off, site_split=split,
                        size=len(keep),
                        counts=np.bincount(code, minlength=len(REASONS) + 1), devices=fields[-1]))
    return tuple(out)


def plans(model: Transformer | GenericNetwork, cluster: Cluster, space: SearchSpace) -> tuple[Plan, ...]:
    """`groups` with `structural_reasons` applied, cached: the verdicts depend on the
    cluster only through its device count, node size, sites (and whether a link joins them), torus and whether the host
    of its accelerator is documented (when the space offloads), so searches of one model
    over many devices share them (and, in `Plan.memory`, the memory of their candidates)."""
    try:
        hostless = cluster_host(cluster) is None if any(space.offload) else None
        key = (model, cluster.n_devices, cluster.devices_per_node, cluster.sites, cluster.site_link is None,
               bool(cluster.intra_link.torus), hostless, space)
        hash(key)
    except TypeError:  # an unhashable field: no caching
        return _build_plans(model, cluster, space)
    found = _PLANS.get(key)
    if found is None:
        found = _build_plans(model, cluster, space)
        _HELD[0] += _held(found)
        _PLANS[key] = found
        while len(_PLANS) > MAX_PLANS or (_HELD[0] > MAX_PLAN_CANDIDATES and len(_PLANS) > 1):
            _HELD[0] -= _held(_PLANS.pop(next(iter(_PLANS))))
    return found
