"""Model FLOPs utilization of a candidate run, from the layout search (closed form).

The frontier asks, for one model on n devices of one kind with the techniques of a
date, how fast the best legal layout trains: `best_layout` runs the layout search over
the space those techniques allow (tensor parallelism only once Megatron is known,
pipelining once GPipe is, ZeRO once published, recompute and FlashAttention likewise)
and returns the fastest feasible layout's MFU. Results are cached per search, and the
solver searches device counts that are powers of two (or, under `device_grid`, 2 and 3 x a
power of two: `grid_floor`), so a quarterly frontier reuses most searches.

Devices without a memory bandwidth (the pre-GPU computers) have no roofline: they are
taken as compute-bound at the fitted GEMM efficiency (an assumption, stated in the
README), on one device.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

from simulator.core.specs import (
    Accelerator,
    Attention,
    Cluster,
    Efficiency,
    GenericNetwork,
    Layout,
    Link,
    Precision,
    Reason,
    Recompute,
    Schedule,
    SearchSpace,
    Transformer,
    Zero,
)
from simulator.search.rank import best_layout_closed_form, layout_of

#: Most tensor-parallel ranks the frontier searches by default (a scenario's max_tp sets
#: another): TPU pods are one scale-up domain of 256-8,960 chips, and every tp up to the
#: pod would be tried otherwise. A search-space limit for speed, not a sourced fact.
MAX_TP = 64
#: The techniques that change the layout search (the others decide what a run may do, not how it is laid out).
SEARCHED = frozenset({"pipeline_parallel", "tensor_parallel", "interleaved_pipeline", "activation_recompute",
                      "selective_recompute_sequence_parallel", "sharded_data_parallel", "flash_attention",
                      "expert_parallel"})
#: Stand-in link for one-device clusters (never used: nothing is communicated).
NO_LINK = Link("none (single device)", 1.0, 0.0, "placeholder for a one-device cluster")


@dataclass(frozen=True)
class Fit:
    """The best layout found, or why none was."""

    mfu: float  # model FLOPs / (time x devices used x peak); 0 when infeasible
    layout: Layout | None
    devices_used: int  # tp x pp x dp (the rest of n idle)
    step_time_s: float
    reason: str = ""  # the most common infeasibility when no layout fits
    memory_bound: bool = False  # no layout fits and fewer devices cannot help (only memory or structure failed)
    limit: str = "layout"  # what that reason says limits the device count: LIMIT_OF, or "utilization"


#: What limits a device count, by the search's most common reason (any other: "layout").
LIMIT_OF = {Reason.OUT_OF_MEMORY: "memory", Reason.BATCH_NOT_DIVISIBLE: "batch", Reason.BATCH_ABOVE_LIMIT: "batch",
            Reason.TOO_FEW_MICROBATCHES: "batch"}


def search_space(model, known: set[str], batches: tuple[int, ...], node: int, max_tp: int = MAX_TP,
                 stack: str | None = None, sites: int = 1) -> SearchSpace:
    """The layout space the techniques in `known` allow, trimmed for speed: micro-batches
    of 1-2, ZeRO stage 0 or 1, two virtual stages at most, and only the tp and pp that
    divide heads and layers (the others are infeasible anyway); expert parallelism (the
    experts over the data-parallel ranks, every power of two up to the experts) once known. Tensor parallelism may
    span whole hosts (tp a multiple of the host, up to `max_tp`), its collectives priced on
    the network tier they cross (costs/collectives.tp_group). Over several sites, data
    parallelism or the pipeline may span them."""
    pipeline, tensor = "pipeline_parallel" in known, "tensor_parallel" in known
    schedules = (Schedule.ONE_F_ONE_B,) + ((Schedule.INTERLEAVED,) if "interleaved_pipeline" in known else ())
    recompute = [Recompute.NONE] + ([Recompute.FULL] if "activation_recompute" in known else [])
    selective = "selective_recompute_sequence_parallel" in known
    if selective:
        recompute.append(Recompute.SELECTIVE)
    zero = (Zero.STAGE_0,) + ((Zero.STAGE_1,) if "sharded_data_parallel" in known else ())
    return SearchSpace(global_batches=batches, max_micro_batch=2 if isinstance(model, Transformer) else 1,
                       schedules=schedules, max_virtual_stages=2, recompute=tuple(recompute),
                       sequence_parallel=(False, True) if selective and tensor else (False,), zero=zero,
                       top_k=0, max_tp=max_tp if tensor else 1,
                       expert_parallel=None if "expert_parallel" in known else (1,), max_pp=None if pipeline else 1,
                       divisors_only=True, tp_across_nodes=tensor, stack=stack,
                       site_splits=("dp", "pp") if sites > 1 and pipeline else ("dp",))


def batch_sizes(b_max: float, grid: bool = False) -> tuple[int, ...]:
    """The global batches the frontier searches under a largest batch `b_max`: it, and the power
    of two below it halved twice; with `grid`, the counts of the device grid (`grid_floor`) from the
    one below b_max down to a quarter of it, so a batch divides among as many replicas as a grid
    count of devices holds."""
    top = int(b_max)
    bits = GRID_BITS if grid else 0
    p = first = grid_floor(top, bits)
    out = {p, top}
    while p > 1 and (p := grid_floor(p - 1, bits)) * 4 >= first:
        out.add(p)
    return tuple(sorted(out))


@cache
def replica_span(heads: int, layers: int, node: int, tensor: bool, pipeline: bool, max_tp: int = MAX_TP) -> int:
    """Most devices one replica can span in `search_space`: the largest tp it allows (dividing
    the heads, within the host or a power of two of whole hosts, at most max_tp; 1 without
    tensor parallelism) x the layers (with pipelining; else 1)."""
    tp = 1
    if tensor:
        tp = max(t for t in range(1, max_tp + 1) if heads % t == 0 and (
            node % t == 0 if t <= node else t % node == 0 and (t // node) & (t // node - 1) == 0))
    return tp * (layers if pipeline else 1)


@dataclass(frozen=True)
class Query:
    """One layout search: the fastest feasible layout of `model` on n devices of `acc` (`node`
    per host, joined by `intra` and `inter`), with the techniques in `known`, a global batch
    among `batches`, at `precision`, tp at most `max_tp`, as `stack` runs it (None:
    DeepSpeed's combination rules, gradient reduction overlapped), spread over `sites` sites
    joined by `site_link`; every link and hop latency x `latency_scale`."""

    model: Transformer | GenericNetwork
    acc: Accelerator
    n: int
    node: int
    intra: Link | None
    inter: Link | None
    known: frozenset[str]
    batches: tuple[int, ...]
    precision: Precision
    max_tp: int = MAX_TP
    stack: str | None = None
    sites: int = 1
    site_link: Link | None = None
    latency_scale: float = 1.0

    @property
    def attention(self) -> Attention:
        return Attention.FLASH if "flash_attention" in self.known else Attention.MATERIALIZED

    def key(self) -> tuple:
        """Everything the search depends on: the model itself (not its name: the frontier's sized
        models share a name across sequence lengths), the device by name and memory (its other
        numbers come with its name), only the techniques that change the search."""
        return (self.model, self.acc.name, self.acc.memory_bytes, self.n, self.node, self.intra, self.inter,
                self.known & SEARCHED, self.batches, self.precision, self.attention, self.max_tp, self.stack,
                self.sites, self.site_link if self.sites > 1 else None, self.latency_scale)


class Utilization:
    """Cached best-layout searches (one instance per frontier run)."""

    def __init__(self, eff: Efficiency):
        self.eff = eff
        self._cache: dict[tuple, Fit] = {}
        self.searches = 0

    def best_layout(self, q: Query) -> Fit:
        """The fastest feasible layout of the query (`Query`), searched once per key."""
        key = q.key()
        if key not in self._cache:
            self._cache[key] = self._search(q)
        return self._cache[key]

    def _search(self, q: Query) -> Fit:
        acc, model = q.acc, q.model
        if acc.memory_bandwidth_bytes_per_s is None:  # pre-GPU computer: compute-bound, one device
            return Fit(self.eff.gemm_for(acc.name, q.precision), Layout(global_batch=q.batches[-1],
                                                                        precision=q.precision), 1, float("nan"))
        self.searches += 1
        intra, inter, site_link = q.intra, q.inter, q.site_link
        eff = self.eff
        if q.latency_scale != 1.0:
            intra, inter, site_link = (None if x is None else replace(x, latency_s=x.latency_s * q.latency_scale)
                                       for x in (intra, inter, site_link))
            eff = replace(eff, hop_latency_s=eff.hop_latency_s * q.latency_scale)
        node, sites = max(1, min(q.node, q.n)), max(1, q.sites)
        cluster = Cluster(acc, q.n, node, intra or NO_LINK, inter or NO_LINK, sites, site_link if sites > 1 else None)
        base = Layout(global_batch=q.batches[-1], precision=q.precision, attention=q.attention)
        found = best_layout_closed_form(model, cluster, base, search_space(model, q.known & SEARCHED, q.batches, node,
                                                                           q.max_tp, q.stack, sites), eff)
        if found.row is None:
            counts = found.reason_counts
            helpless = {Reason.OUT_OF_MEMORY.value, Reason.TP_NOT_DIVIDING_HEADS.value, Reason.TP_ABOVE_DOMAIN.value,
                        Reason.PP_NOT_DIVIDING_LAYERS.value, Reason.ZERO_WITH_PIPELINE.value, Reason.EP_NOT_DIVIDING.value}
            top = max(counts, key=counts.get) if counts else None
            return Fit(0.0, None, 0, float("nan"), top or "no candidate layout",
                       memory_bound=bool(counts) and Reason.OUT_OF_MEMORY.value in counts and set(counts) <= helpless,
                       limit=LIMIT_OF.get(Reason(top), "layout") if top else "layout")
        row = found.row
        layout = layout_of(row, base)
        used = int(row["devices"])
        # search MFU is over the devices used; idle devices count against the run
        return Fit(float(row["mfu"]) * used / q.n, layout, used, float(row["step_time_s"]))


#: Device counts the solver searches under `device_grid` (frontier/config.py): 1, then m x 2^e with
#: m among 2^GRID_BITS ... 2^(GRID_BITS+1) - 1 (GRID_BITS 1: 2, 3, 4, 6, 8, 12, 16, 24 ...), and the
#: global batches likewise (`batch_sizes`), so a grid count of devices can hold as many replicas as
#: a batch divides into; the run uses exactly the count searched. Without it, powers of two (bits 0).
GRID_BITS = 1


def grid_floor(n: float, bits: int = GRID_BITS) -> int:
    """The largest count <= n of the form m x 2^e, m in 2^bits ... 2^(bits+1) - 1 (bits 0: the
    largest power of two): a power of two times one small odd factor, as layouts' tp, pp, dp are."""
    k = max(1, int(n))
    e = max(0, k.bit_length() - 1 - bits)
    return (k >> e) << e


def grid_below(n: int, bits: int = GRID_BITS) -> tuple[int, ...]:
    """The grid's counts in the doubling below n, largest first (bits 1: 96 -> 64, 48; bits 0: n // 2
    for a power of two)."""
    out, m = [], n
    while len(out) < 2**bits and m > 1:
        m = grid_floor(m - 1, bits)
        out.append(m)
    return tuple(out)
