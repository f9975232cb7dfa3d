"""The largest feasible training run at a date, and what stops it from being larger.

For a date the solver tries every workload family of the date, every device on sale
(with its price, precision and interconnect), and every model size of the family; for
each it takes the most devices the constraints allow, finds the best layout with the
layout search (`utilization`), and turns it into a run:

    devices n = min(budget / (price x longest run), largest cluster or one host or one
                device (by the techniques known), batch limit / per-device batch)
    FLOP      = n x peak x MFU x goodput x duration

where goodput is the exact expected share of wall time kept under exponential
failures with Young's checkpoint interval (costs/failures.py); a synchronous job
fails as a whole, independent actors one at a time. A family whose
technique lets independent actors run (self-play, architecture search) needs no
interconnect and fails one actor at a time, but its actors are bound to a batch-bound
learner (actors_per_learner, AlphaZero's 5,000 : 64). When no layout fits the
device count it halves the count. The largest FLOP wins; then each constraint is
relaxed 2x in turn and the run re-solved: a constraint binds when relaxing it enlarges
the run (more than BIND_TOLERANCE). `binding` lists them by gain, the longest-run
duration last (it binds whenever the budget does not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.eras import precision_for, precision_of_era, techniques_known
from simulator.costs import batch as cb
from simulator.costs import failures as cf
from simulator.frontier import sizing
from simulator.frontier.config import CHECKPOINT_BYTES_PER_PARAM, FrontierConfig, stack_at
from simulator.frontier.market import Caps, Offer, caps_at, market_at, node_of
from simulator.frontier.utilization import MAX_TP, Fit, Utilization, pow2_floor
from simulator.frontier.workloads import Family, families_at
from simulator.specs import Precision, Recompute, Schedule, Transformer
from simulator.units import HOUR_S, PFS_DAY_FLOP

CONSTRAINTS = ("budget", "supply", "host", "batch", "duration", "memory", "data")
#: The projection splits supply into a site's power and the chips made, and adds the sites
#: a run may span and the latency of links (halved by its relaxation).
PROJECTION_CONSTRAINTS = ("budget", "power", "chips", "sites", "host", "batch", "latency", "duration", "memory",
                          "data")
__all__ = ["CONSTRAINTS", "PROJECTION_CONSTRAINTS", "Caps", "Run", "best_run", "caps_at", "solve"]
BIND_TOLERANCE = 0.02  # a 2x relaxation that enlarges the run by more than 2% binds
MAX_HALVINGS = 16


@dataclass(frozen=True)
class Run:
    """One candidate (or the winner) at a date; infeasible runs carry `reason`."""

    at: date
    feasible: bool
    reason: str = ""
    family: str = ""
    model: str = ""
    device: str = ""
    device_name: str = ""
    precision: str = ""
    peak_flops_per_s: float = 0.0
    n_devices: int = 0
    sites: int = 1  # sites the run spans
    days: float = 0.0
    flop: float = 0.0
    mfu: float = 0.0
    goodput: float = 1.0
    useful_fraction: float = 1.0
    global_batch: int = 0
    critical_batch: float = math.nan
    layout: str = ""
    ended_by: str = ""  # "duration" (the accepted run length) or "data" (the sized model used all the data)
    params: float = math.nan
    fall_reason: str = ""  # why the frontier is below the previous date's, or that the earlier run was carried
    price_usd_per_hour: float = math.nan
    cost_usd: float = math.nan
    devices_limited_by: str = ""
    techniques_used: tuple[str, ...] = ()
    caps: Caps | None = None
    binding: tuple[str, ...] = ()
    gains: dict = field(default_factory=dict)

    @property
    def pfs_days(self) -> float:
        return self.flop / PFS_DAY_FLOP

    @property
    def useful_flop(self) -> float:
        return self.flop * self.useful_fraction


def _batch(fam: Family, model, at: date, known: set[str], config: FrontierConfig) -> tuple[float, float]:
    """(critical batch, largest batch allowed) in examples (sequences for transformers)."""
    if fam.kaplan and isinstance(model, Transformer):
        crit = _kaplan_batch(model) * config.critical_batch_scale
    else:
        step = fam.batch_limit(at, known)
        crit = (step.examples if step else float(fam.per_device_batch)) * config.critical_batch_scale
    return crit, _largest_batch(crit, config.max_waste)


@cache
def _kaplan_batch(model: Transformer) -> float:
    tokens = cb.kaplan_critical_batch_tokens(cb.kaplan_loss_nats(model.layers * model.layer_params))
    return tokens / model.seq_len


@cache
def _largest_batch(crit: float, max_waste: float) -> float:
    return float(cb.largest_useful_batch(crit, max_waste))


def _batches(b_max: float, n: int, per_device: int, transformer: bool) -> tuple[int, ...]:
    top = int(b_max)
    if transformer:
        p = pow2_floor(top)
        return tuple(sorted({max(1, p // 4), max(1, p // 2), p, top}))
    return tuple(sorted({max(1, min(top, n * per_device)), max(1, top // n * n) if top >= n else 1}))


def _techniques_used(fam: Family, fit: Fit, n: int, node: int, batch_free: bool, known: set[str],
                     at: date, config: FrontierConfig) -> tuple[str, ...]:
    lay = fit.layout
    used = {"single_device"} if n == 1 else set()
    if n > 1:
        if batch_free and n > node:
            used.add(fam.batch_free_with)
        elif n <= node and "intra_machine_split" in fam.techniques:
            used.add("intra_machine_split")
        else:
            used.add("sync_data_parallel_multi_node")
    if lay is not None:
        base = [s for s in fam.batch_limits if s.technique is None and s.since <= at]
        if base and lay.global_batch > max(s.examples for s in base) * config.critical_batch_scale:
            used.add("large_batch")
        used |= {"pipeline_parallel"} if lay.pp > 1 else set()
        used |= {"tensor_parallel"} if lay.tp > 1 else set()
        used |= {"sharded_data_parallel"} if lay.zero.stage else set()
        used |= {"activation_recompute"} if lay.recompute is Recompute.FULL else set()
        used |= {"selective_recompute_sequence_parallel"} if (lay.recompute is Recompute.SELECTIVE
                                                              or lay.sequence_parallel) else set()
        used |= {"interleaved_pipeline"} if lay.schedule is Schedule.INTERLEAVED else set()
        used |= {"flash_attention"} if "flash_attention" in known and isinstance(fam.models[0], Transformer) else set()
    return tuple(sorted(used))


def _layout_text(fit: Fit) -> str:
    lay = fit.layout
    if lay is None:
        return ""
    return (f"dp{lay.dp} tp{lay.tp} pp{lay.pp} mb{lay.micro_batch} B{lay.global_batch} {lay.schedule.value}"
            f"{'' if lay.virtual_stages == 1 else f' v{lay.virtual_stages}'} rc={lay.recompute.value}"
            f"{' sp' if lay.sequence_parallel else ''} zero{lay.zero.stage}"
            f"{' pp-across-sites' if lay.site_split == 'pp' else ''}")


def _model_parallel(model: Transformer, node: int, known: set[str], config: FrontierConfig) -> int:
    """Most devices one replica of `model` can span: the largest tp the search may use
    (dividing the heads, within the host or whole hosts, at most max_tp) x the layers."""
    tp = 1
    if "tensor_parallel" in known:
        cap = int(config.max_tp or MAX_TP)
        ok = [t for t in range(1, cap + 1) if model.heads % t == 0 and (node % t == 0 if t <= node else t % node == 0
                                                                         and (t // node) & (t // node - 1) == 0)]
        tp = max(ok)
    return tp * (model.layers if "pipeline_parallel" in known else 1)


def _evaluate(at, fam: Family, known: set[str], offer: Offer, acc, model, caps: Caps,
              config: FrontierConfig, util: Utilization, precision: Precision, floor: float = 0.0,
              flop_needed: float | None = None, sites: int = 1) -> Run | None:
    """The run of `model` on `acc`, or None when even at MFU 1 it could not beat `floor`.

    `flop_needed`: the most compute the model can use (a sized model's tokens that exist);
    a run that gets there before the accepted duration stops there. `sites`: the sites the
    devices are spread over (data parallelism spans them)."""
    admitted = fam.techniques & known
    batch_free = fam.batch_free_with in admitted
    key, price, intra, inter = offer.key, offer.price, offer.intra, offer.inter
    host = max(1, int(caps.host_devices or 1))
    node = node_of(offer.node_default, intra, host)
    limits: dict[str, float] = {}
    multi_node = "sync_data_parallel_multi_node" in admitted and intra is not None and inter is not None
    asynchronous = (not batch_free and "async_data_parallel" in admitted and inter is not None
                    and caps.async_replicas is not None and not isinstance(model, Transformer))
    supply = caps.supply_devices(offer.watts, sites)
    if batch_free or multi_node or asynchronous:  # actors need no interconnect; other jobs need both links
        limits["supply"] = max(supply or host, 1)
    elif admitted & {"intra_machine_split", "sync_data_parallel_multi_node"} and intra is not None:
        limits["host"] = node
    else:
        limits["technique"] = 1  # one device: no multi-device technique, or no documented interconnect
    crit, b_max = _batch(fam, model, at, known, config)
    learners = max(1.0, b_max // fam.per_device_batch)
    replica = 1
    if asynchronous:  # independent replicas of one host each (Downpour SGD), at most the sourced count
        replica = int(min(node, learners))
        limits["batch"] = max(learners, replica * caps.async_replicas)
    elif not batch_free and not isinstance(model, Transformer):
        limits["batch"] = learners
    elif isinstance(model, Transformer):  # each data-parallel rank needs a sequence of the batch
        limits["batch"] = max(1.0, b_max) * _model_parallel(model, node, known, config)
    elif batch_free and fam.actors_per_learner:  # the learner stays batch-bound; actors scale with it
        limits["batch"] = learners * (1 + fam.actors_per_learner)
    hours = caps.max_duration_days * 24
    if caps.budget_usd is not None:
        limits["budget"] = caps.budget_usd / (price * hours)
    limited_by = min(limits, key=limits.get)  # never empty: supply, host or technique is always set
    n = max(1, int(min(limits.values())))
    if caps.budget_usd is not None and price * hours > caps.budget_usd:  # not one device for the longest run
        hours = caps.budget_usd / price
    if min(n * acc.peak(precision) * hours * HOUR_S, flop_needed or math.inf) <= floor:
        return None
    async_run = asynchronous and n > learners
    tries = 0

    stack = stack_at(at, config)

    def fit_on(k: int) -> Fit:
        batches = _batches(b_max, k, fam.per_device_batch, isinstance(model, Transformer))
        return util.best_layout(model, acc, k, min(node, k), intra, inter, known, batches, precision,
                                int(config.max_tp or MAX_TP), stack, sites if k >= sites else 1, caps.site_link,
                                config.latency_scale)

    while True:
        if async_run:  # the replica size (up to one host) with the best utilization
            sizes = [2 ** i for i in range(pow2_floor(min(n, replica)).bit_length())]
            fit = max((fit_on(k) for k in sizes), key=lambda f: f.mfu)
        else:
            fit = fit_on(1 if batch_free else pow2_floor(n))
        if fit.layout is not None and config.min_utilization and fit.mfu < config.min_utilization * util.eff.gemm:
            fit = Fit(0.0, None, 0, math.nan, f"utilization {fit.mfu:.2f} below {config.min_utilization:g} x the "
                      f"device's best ({util.eff.gemm:.2f}, a large matrix multiply)")
        # fewer devices never shard the model more: when every layout ran out of memory (or broke a
        # structural rule), halving cannot help
        if fit.layout is not None or n == 1 or tries >= MAX_HALVINGS or fit.memory_bound:
            if fit.layout is None and fit.memory_bound:
                limited_by = "memory"
            break
        limited_by = "memory" if "memory" in fit.reason else "batch" if "batch" in fit.reason or "micro" in fit.reason \
            else "utilization" if "utilization" in fit.reason else "layout"
        n, tries = max(1, n // 2), tries + 1
    common = {"at": at, "family": fam.key, "model": model.name, "device": key, "device_name": acc.name,
              "precision": precision.value, "caps": caps}
    if fit.layout is None:
        return Run(feasible=False, reason=f"{model.name} on {acc.name}: {fit.reason}", **common)
    peak = acc.peak(precision)

    def goodput_of(job: int) -> float:
        return _goodput(job, float(model.params), config.failure_rate_per_device_hour, config.checkpoint_bytes_per_s,
                        config.restart_s)

    independent = batch_free or async_run
    goodput = goodput_of(fit.devices_used if independent else n)
    flop = n * peak * fit.mfu * goodput * hours * HOUR_S

    def halved(m: int):
        """(fit, goodput, FLOP) of the same synchronous run on m devices, or None."""
        smaller = fit_on(pow2_floor(m))
        if smaller.layout is None:
            return None
        g = goodput_of(m)
        return smaller, g, m * peak * smaller.mfu * g * hours * HOUR_S

    # a synchronous job may do more with fewer devices (better MFU, fewer failures): halve while that helps
    while not independent and n >= 2 * max(node, 2) and (h := halved(n // 2)) is not None and h[2] > flop:
        n, (fit, goodput, flop), limited_by = n // 2, h, "utilization"
    ended_by = "duration"
    if flop_needed is not None and flop_needed < flop:  # trained before the accepted duration runs out
        # the data is all used: take the fewest devices that still finish in time
        if independent:
            m = max(1, math.ceil(n * flop_needed / flop))
            goodput = goodput_of(fit.devices_used if batch_free else max(1, m))
            n, flop, limited_by = m, m * peak * fit.mfu * goodput * hours * HOUR_S, "data"
        while not independent and n >= 2 and (h := halved(n // 2)) is not None and h[2] >= flop_needed:
            n, (fit, goodput, flop), limited_by = n // 2, h, "data"
        hours *= flop_needed / flop
        flop, ended_by = flop_needed, "data"
    used = _techniques_used(fam, fit, n, node, batch_free, known, at, config)
    if async_run:
        used = tuple(sorted((set(used) - {"sync_data_parallel_multi_node"}) | {"async_data_parallel"}))
    return Run(feasible=True, peak_flops_per_s=peak, n_devices=n, days=hours / 24, flop=flop, mfu=fit.mfu,
               goodput=goodput, useful_fraction=float(cb.useful_fraction(fit.layout.global_batch, crit)),
               global_batch=fit.layout.global_batch, critical_batch=crit, layout=_layout_text(fit),
               price_usd_per_hour=price, cost_usd=n * price * hours, devices_limited_by=limited_by,
               techniques_used=used, ended_by=ended_by, params=float(model.params), sites=sites if n >= sites else 1,
               **common)


@cache
def _goodput(job: int, params: float, rate: float, checkpoint_bytes_per_s: float, restart_s: float) -> float:
    """Share of wall time a job of `job` devices keeps: a synchronous job stops when any
    device fails (independent actors or replicas lose only their own work, job = 1 each)."""
    if not rate:
        return 1.0
    mtbf = cf.cluster_mtbf_s(rate, job)
    ckpt = params * CHECKPOINT_BYTES_PER_PARAM / checkpoint_bytes_per_s
    return float(cf.expected_goodput(cf.young_daly_interval_s(ckpt, mtbf), ckpt, restart_s, mtbf))


def _sized(at, fam: Family, known: set[str], offer: Offer, acc, caps: Caps, config: FrontierConfig,
           util: Utilization, precision: Precision, floor: float, sites: int = 1) -> list[Run]:
    """The run of the family's largest sized model that trains compute-optimally within the
    accepted duration (frontier/sizing.py), trained on all the tokens the duration allows
    up to the data that exists; sizes are tried from the largest that could fit down."""
    hours = caps.max_duration_days * 24
    n_ub = caps.supply_devices(offer.watts, sites) or caps.host_devices or 1.0
    if caps.budget_usd is not None:
        n_ub = min(n_ub, max(1.0, caps.budget_usd / (offer.price * hours)))
    ub = n_ub * acc.peak(precision) * hours * HOUR_S  # no run on this device exceeds this (MFU 1)
    if ub <= floor:
        return []
    tried: list[Run] = []
    tokens = fam.tokens_available * config.data_scale
    most = sizing.max_params(tokens, fam.max_epochs, fam.tokens_per_param)
    sizes = sizing.sizes_up_to(most)

    def run_of(params: float) -> Run | None:
        model = sizing.shape(params)
        data_cap = sizing.data_flop(model, tokens, fam.max_epochs)
        return _evaluate(at, fam, known, offer, acc, model, caps, config, util, precision, floor, data_cap, sites)

    node = node_of(offer.node_default, offer.intra, max(1, int(caps.host_devices or 1)))

    def bound(model) -> float:  # MFU 1 with as many devices as the batch lets one model use
        _, b_max = _batch(fam, model, at, known, config)
        return min(n_ub, max(1.0, b_max) * _model_parallel(model, node, known, config)) * acc.peak(precision) \
            * hours * HOUR_S

    for i in range(len(sizes) - 1, -1, -1):
        model = sizing.shape(sizes[i])
        optimal = sizing.optimal_flop(model, fam.tokens_per_param)
        if optimal > bound(model):
            continue
        run = run_of(sizes[i])
        if run is None:
            break  # smaller models cannot beat the floor either
        if run.feasible and run.flop >= optimal:
            # the next smaller size, trained on more tokens, may use the devices better
            smaller = run_of(sizes[i - 1]) if i else None
            return tried[-1:] + [run] + ([smaller] if smaller is not None and smaller.feasible else [])
        tried.append(run)
    return [r for r in tried if not r.feasible][-1:]


def _candidates(at, fams, known, offer: Offer, acc, caps: Caps, config: FrontierConfig, util: Utilization,
                precision: Precision, floor: float, sites: int) -> list[Run]:
    out = []
    for fam in fams:
        if fam.sized:
            for run in _sized(at, fam, known, offer, acc, caps, config, util, precision, floor, sites):
                out.append(run)
                floor = max(floor, run.flop)
            continue
        examples = fam.examples_at(at)
        for model in fam.models_at(at):
            # a supervised model trains on the examples that exist, for the epochs of its time
            data_cap = None if examples is None else 3 * model.flops_per_example * examples * config.data_scale
            run = _evaluate(at, fam, known, offer, acc, model, caps, config, util, precision, floor, data_cap, sites)
            if run is not None:
                out.append(run)
                floor = max(floor, run.flop)
    return out


def best_run(at: date, config: FrontierConfig, util: Utilization, market=market_at) -> tuple[Run, list[Run]]:
    """The largest run at `at` and every candidate tried (feasible or not). `market(at,
    config)` gives (caps, offers, why none): the catalog's by default, a projected year's
    in the projection. When a site's power limits the run and the caps allow more sites,
    the run is spread over 2, 4, ... sites while that enlarges it."""
    known = {t.key for t in techniques_known(min(at, config.techniques_frozen_at or at))}
    caps, offers, no_offer = market(at, config)
    era = precision_of_era(at)
    tried: list[Run] = []
    fams = [f for f in families_at(at) if config.families is None or f.key in config.families]
    floor = 0.0
    for offer in sorted(offers, key=lambda o: -(o.acc.peak(precision_for(o.acc, at)) or 0)):
        acc0 = offer.acc
        precision = precision_for(acc0, at)
        if not acc0.peak(precision):
            tried.append(Run(at, False, f"{acc0.name}: no peak at {era.value} or fp32", device=offer.key))
            continue
        if caps.budget_usd is not None and not math.isfinite(offer.price):
            tried.append(Run(at, False, f"{acc0.name}: no price ({offer.why_no_price})", device=offer.key))
            continue
        acc = replace(acc0, memory_bytes=acc0.memory_bytes * config.memory_scale)
        sites, best = 1, 0.0
        while True:
            runs = _candidates(at, fams, known, offer, acc, caps, config, util, precision, floor, sites)
            tried += runs
            top = max((r for r in runs if r.feasible), key=lambda r: r.flop, default=None)
            if top is None or top.flop <= best * (1 + 1e-9):
                break
            best = floor = max(floor, top.flop)
            more = min(2 * sites, caps.sites)  # more sites help only where the sites' power set the supply
            if not (more > sites and top.devices_limited_by == "supply"
                    and (caps.supply_devices(offer.watts, more) or 0) > (caps.supply_devices(offer.watts, sites) or 0)):
                break
            sites = more
    ok = [r for r in tried if r.feasible]
    if not ok:
        why = "; ".join(dict.fromkeys(r.reason for r in tried)) or no_offer or f"no workload family at {at}"
        return Run(at, False, why, caps=caps), tried
    return max(ok, key=lambda r: (r.flop, -r.n_devices)), tried


def solve(at: date, config: FrontierConfig, util: Utilization | None = None, relax: bool = True,
          market=market_at, constraints: tuple[str, ...] = CONSTRAINTS) -> Run:
    """The largest feasible run at `at` with the binding constraints and 2x-relaxation gains
    (each of `constraints` relaxed 2x in turn)."""
    util = util or Utilization(default_efficiency())
    run, _ = best_run(at, config, util, market)
    if not (relax and run.feasible):
        return run
    gains = {}
    for c in constraints:
        if c == "budget" and run.caps.budget_usd is None:
            continue
        bigger, _ = best_run(at, config.relaxed(c, 2.0, run.caps.scales()), util, market)
        gains[c] = bigger.flop / run.flop if bigger.feasible else math.nan
    # the longest run binds whenever the budget does not (every run lasts as long as
    # allowed), so it is listed last: the first entry is the informative constraint
    binding = tuple(sorted((c for c, g in gains.items() if g > 1 + BIND_TOLERANCE),
                           key=lambda c: (c == "duration", -gains[c])))
    return replace(run, gains=gains, binding=binding)
