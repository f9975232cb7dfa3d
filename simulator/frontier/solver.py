"""The largest feasible training run at a date, and what stops it from being larger.

The frontier at a date is the largest run over the actors of the date
(frontier/actors.py), each with its own budget, sites, chips and prices. For an actor
and a workload family the run's length is a decision (frontier/duration.py: the
economic optimum, capped by the research turnaround before the actor trains flagship
models), so the run starts that long before the date, with the devices, prices and
techniques of its start. For each device on offer the solver takes the most devices the
constraints allow:

    devices n = min(budget / price, the actor's largest site (power / device power) or
                one host or one device (by the techniques known), batch limit / per-device batch)
    FLOP      = n x peak x MFU x goodput x duration

An unsized family (frontier/workloads.py) runs at the drawn utilization of its era; a
sized transformer is sized by the compute-optimal rule of its date (frontier/sizing.py)
and laid out by the layout search (`utilization`), halving the device count while that
enlarges the run; a mixture-of-experts family is sized over active parameters with the
published design in force at the run's start (experts, top-k, shared experts), its
experts spread by expert parallelism once known. Nothing favours one family: the largest
run in FLOP wins. Goodput is the exact expected share of wall time kept under
exponential failures with Young's checkpoint interval (costs/failures.py), each failure
costing the recovery time of the run's start and actor (`FrontierConfig.recovery`); a
synchronous job fails as a whole, independent actors one at a time. The largest FLOP
wins; then each constraint is relaxed 2x in turn and the run re-solved: a constraint
binds when relaxing it enlarges the run (more than BIND_TOLERANCE).

Every run carries `inputs`, the catalog rows it read (file:key), so a test can check
that a run scored against the frontier never read its own facts. What every family's run
reads (the batch, the device limits, goodput, the rows read) is in frontier/request.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache, cached_property

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.eras import precision_for, precision_of_era
from simulator.catalog.techniques import known_keys
from simulator.core.specs import Accelerator, GenericNetwork, Layout, Precision, Reason, Transformer
from simulator.core.units import HOUR_S, partial_date
from simulator.costs import batch as cb
from simulator.costs.memory import model_state_bytes
from simulator.frontier import sizing
from simulator.frontier.actors import actors_at, all_actors
from simulator.frontier.config import FrontierConfig, stack_at
from simulator.frontier.duration import run_length_days
from simulator.frontier.market import ActorMarket, Caps, Offer, caps_for
from simulator.frontier.pruning import run_bound, undominated
from simulator.frontier.request import (
    Request,
    batch_of,
    common_fields,
    device_limits,
    layout_text,
    model_parallel,
    no_progress,
    run_goodput,
    technique_refs,
    techniques_used,
)
from simulator.frontier.run import Run
from simulator.frontier.utilization import (
    GRID_BITS,
    MAX_TP,
    Fit,
    Query,
    Utilization,
    batch_sizes,
    grid_below,
    grid_floor,
)
from simulator.frontier.workloads import families, families_at

CONSTRAINTS = ("budget", "supply", "host", "batch", "duration", "memory", "data")
#: The projection splits supply into a site's power and the chips made, and adds the sites
#: a run may span and the latency of links (halved by its relaxation).
PROJECTION_CONSTRAINTS = ("budget", "power", "chips", "sites", "host", "batch", "latency", "duration", "memory",
                          "data")
__all__ = ["CONSTRAINTS", "PROJECTION_CONSTRAINTS", "Caps", "Run", "best_run", "caps_for", "solve"]
BIND_TOLERANCE = 0.02  # a 2x relaxation that enlarges the run by more than 2% binds
PRUNE = True  # skip an actor whose bound cannot beat the best run so far (tests switch it off)
SIZE_BOUND = True  # skip the model sizes whose bound cannot beat the best run so far (tests switch it off)
MAX_HALVINGS = 16  # halvings from a count with no layout
MAX_STEPS = MAX_HALVINGS * 2**GRID_BITS  # the same range in steps down the device grid
#: The network an unsized family trains, for its checkpoint in the failure model only (a
#: network fitted to one device; its checkpoint is seconds at any era's storage).
UNSIZED = GenericNetwork("network fitted to one device", 1e8, 1.0, 1.0, source="placeholder (failure model only)")


# ------------------------------------------------------------------ unsized families
def _unsized(req: Request, offer: Offer, acc, precision: Precision, floor: float, sites: int) -> Run | None:
    """The run of an unsized family (a network fitted to one device) on `offer`."""
    _, b_max, batch_refs = batch_of(req, UNSIZED)
    lim = device_limits(req, offer, UNSIZED, b_max, sites)
    peak = acc.peak(precision)
    n, hours = lim.n, lim.hours
    if n * peak * hours * HOUR_S <= floor:
        return None
    config = req.config
    mfu = config.input(req.fam.utilization)
    if n > lim.node and lim.how in ("sync_data_parallel_multi_node", "async_data_parallel"):
        mfu *= config.input(req.fam.multi_node_efficiency or "multi_node_efficiency")
    best = req.util.eff.gemm_for(acc.name, precision)
    if config.min_utilization and mfu < config.min_utilization * best:
        return Run(feasible=False, reason=f"utilization {mfu:.2f} below {config.min_utilization:g} x the device's best "
                   f"({best:.2f})", **common_fields(req, offer, acc, precision, "network fitted to one device"))
    goodput = run_goodput(1 if lim.independent or lim.asynchronous else n, UNSIZED.params, req)
    flop = n * peak * mfu * goodput * hours * HOUR_S
    if not flop > 0:
        return Run(feasible=False, reason=no_progress(req), **common_fields(req, offer, acc, precision,
                                                                           "network fitted to one device"))
    used = ("single_device",) if n == 1 else (lim.how,)
    common = common_fields(req, offer, acc, precision, "network fitted to one device", used)
    extra = batch_refs + ((f"{req.fam.ref}.per_device_batch",) if n > 1 and req.fam.per_device_batch_facts else ())
    if lim.independent and (design := req.fam.learner_bound(req.start)) is not None:
        extra += (design.ref,)
    common["inputs"] = tuple(dict.fromkeys(common["inputs"] + extra))
    return Run(feasible=True, peak_flops_per_s=peak, n_devices=n, days=hours / 24, flop=flop, mfu=mfu,
               goodput=goodput, global_batch=int(min(b_max, n * max(1, req.fam.per_device_batch))),
               critical_batch=b_max, layout=f"{lim.how} x{n}", price_usd_per_hour=offer.price,
               cost_usd=n * offer.price * hours, devices_limited_by=lim.limited_by, techniques_used=used,
               ended_by="duration", sites=sites if n >= sites else 1, **common)


# ------------------------------------------------------------------ sized (transformer) families
@dataclass(frozen=True)
class _Trial:
    """One sized model on one offer for `hours`: its layout searches on counts of devices. With
    `grid` (FrontierConfig.device_grid) a run uses exactly a count of the device grid it was
    searched on; without, it is searched on the power of two below its devices and that layout's
    MFU is taken for all of them."""

    req: Request
    offer: Offer
    acc: Accelerator
    model: Transformer
    precision: Precision
    node: int
    sites: int
    hours: float
    batches: tuple[int, ...]
    stack: str | None
    best: float  # the device's large matrix multiply: an upper bound of a layout's MFU
    grid: bool = False

    @cached_property
    def fewest(self) -> float:
        """Devices the model state needs (fewer overflow their memory whatever the layout)."""
        return float(self.model.params) * _state_bytes_per_param(self.precision) / self.acc.memory_bytes

    def searched(self, n: float) -> int:
        """The devices the layout of a run on n devices is searched on."""
        return grid_floor(n, GRID_BITS if self.grid else 0)

    def runs_on(self, n: float) -> float:
        """The devices a run its limits allow n of uses."""
        return grid_floor(n) if self.grid else n

    def fit(self, k: int) -> Fit:
        """The best layout on k devices (cached by the request)."""
        req, config = self.req, self.req.config
        return req.util.best_layout(Query(
            self.model, self.acc, k, min(self.node, k), self.offer.intra, self.offer.inter, req.known, self.batches,
            self.precision, int(config.max_tp or MAX_TP), self.stack,
            self.sites if k >= self.sites else 1, req.caps.site_link, config.latency_scale))

    def flop(self, m: float, mfu: float, goodput: float) -> float:
        return m * self.acc.peak(self.precision) * mfu * goodput * self.hours * HOUR_S

    def on(self, m: float) -> tuple[Fit, float, float] | None:
        """(fit, goodput, FLOP) of the run on m devices, or None."""
        k = self.searched(m)
        if k < self.fewest:  # the model state overflows them: no layout fits
            return None
        fit = self.fit(k)
        if fit.layout is None:
            return None
        g = run_goodput(m, float(self.model.params), self.req)
        return fit, g, self.flop(m, fit.mfu, g)

    def could_beat(self, m: float, flop: float) -> bool:
        """Whether m devices at the device's best matrix-multiply efficiency (an upper bound of a
        layout's MFU, as the size bounds use) could beat `flop`: if not, no layout search."""
        return self.flop(m, self.best, run_goodput(m, float(self.model.params), self.req)) > flop

    def first(self, n: float, limited_by: str) -> tuple[float, Fit, str]:
        """The most devices up to n with a layout (fewer past counts where the batch or structure
        leaves none: halved, or stepped down the grid), its fit and what limited the count."""
        config, fewest = self.req.config, self.fewest
        for _ in range((MAX_STEPS if self.grid else MAX_HALVINGS) + 1):
            n = self.runs_on(n)
            k = self.searched(n)
            if k < fewest:  # the model state alone overflows these devices (and fewer)
                return n, Fit(0.0, None, 0, math.nan, f"{Reason.OUT_OF_MEMORY.value} (the model state of "
                              f"{self.model.params:.3g} parameters needs at least {fewest:.3g} devices)",
                              memory_bound=True, limit="memory"), "memory"
            fit = self.fit(k)
            if fit.layout is not None and config.min_utilization and fit.mfu < config.min_utilization * self.best:
                fit = Fit(0.0, None, 0, math.nan, f"utilization {fit.mfu:.2f} below {config.min_utilization:g} x "
                          f"the device's best ({self.best:.2f}, a large matrix multiply)", limit="utilization")
            # fewer devices never shard the model more: when every layout ran out of memory (or broke a
            # structural rule), fewer cannot help
            if fit.layout is not None or n == 1 or fit.memory_bound:
                return n, fit, ("memory" if fit.layout is None and fit.memory_bound else limited_by)
            limited_by, n = fit.limit, grid_floor(n - 1) if self.grid else max(1, n // 2)
        return n, fit, limited_by

    def fewer(self, n: float, run: tuple[Fit, float, float], limited_by: str) -> tuple[float, tuple, str]:
        """A synchronous job may do more with fewer devices (better MFU, fewer failures): halve while
        that helps; on the grid, move to the better count of the doubling below while it beats the run
        (MFU is not smooth in the count: divisibility decides which layouts exist, so one step down
        may lose where the next gains)."""
        while n >= 2 * max(self.node, 2):
            below = grid_below(n) if self.grid else (n // 2,)
            found = [(m, h) for m in below if self.could_beat(m, run[2]) and (h := self.on(m)) is not None]
            m, h = max(found, key=lambda mh: mh[1][2], default=(n, None))
            if h is None or not h[2] > run[2]:
                break
            n, run, limited_by = m, h, "utilization"
        return n, run, limited_by


def _sized_eval(req: Request, offer: Offer, acc, model: Transformer, precision: Precision, floor: float,
                flop_needed: float | None, sites: int) -> Run | None:
    """The run of a sized transformer `model` on `offer`, or None when even at the device's best
    matrix-multiply efficiency it could not beat `floor`. `flop_needed`: the most compute the
    model can use (a sized model's tokens that exist); a run that gets there before the decided
    length stops."""
    crit, b_max, _ = batch_of(req, model)
    lim = device_limits(req, offer, model, b_max, sites)
    grid = req.config.device_grid
    t = _Trial(req, offer, acc, model, precision, lim.node, sites, lim.hours, batch_sizes(b_max, grid),
               stack_at(req.start, req.config), req.util.eff.gemm_for(acc.name, precision), grid)
    if min(t.flop(t.runs_on(lim.n), t.best, 1.0), flop_needed or math.inf) <= floor:
        return None  # not even its devices at that MFU, without failures, could beat the best run so far
    n, fit, limited_by = t.first(lim.n, lim.limited_by)
    common = common_fields(req, offer, acc, precision, model.name, ("single_device", lim.how))
    if fit.layout is None:
        return Run(feasible=False, reason=f"{model.name} on {acc.name}: {fit.reason}", **common)
    goodput = run_goodput(n, float(model.params), req)
    n, (fit, goodput, flop), limited_by = t.fewer(n, (fit, goodput, t.flop(n, fit.mfu, goodput)), limited_by)
    if not flop > 0:
        return Run(feasible=False, reason=f"{model.name} on {acc.name}: {no_progress(req)}", **common)
    ended_by, hours = "duration", lim.hours
    if flop_needed is not None and flop_needed < flop:  # trained before the decided length runs out:
        while n >= 2 and (h := t.on(n // 2)) is not None and h[2] >= flop_needed:  # the fewest devices in time
            n, (fit, goodput, flop), limited_by = n // 2, h, "data"
        hours *= flop_needed / flop
        flop, ended_by = flop_needed, "data"
    used = techniques_used(req, fit.layout, n, lim.node, lim.how)
    common["inputs"] = tuple(dict.fromkeys(common["inputs"] + technique_refs(used, req.start, req.config,
                                                                             req.caps.actor)))
    return Run(feasible=True, peak_flops_per_s=acc.peak(precision), n_devices=n, days=hours / 24, flop=flop,
               mfu=fit.mfu, goodput=goodput, useful_fraction=float(cb.useful_fraction(fit.layout.global_batch, crit)),
               global_batch=fit.layout.global_batch, critical_batch=crit, layout=layout_text(fit.layout),
               price_usd_per_hour=offer.price, cost_usd=n * offer.price * hours, devices_limited_by=limited_by,
               techniques_used=used, ended_by=ended_by,
               params=float(model.params), params_active=float(model.active_params), sites=sites if n >= sites else 1,
               **common)


def _sized(req: Request, offer: Offer, acc, precision: Precision, floor: float, sites: int) -> list[Run]:
    """The run of the family's largest sized model that trains compute-optimally (by the
    rule of the start date) within the decided length, trained on all the tokens the
    length allows up to the data that exists; the sizes are tried in order of their bound."""
    fam, caps, config = req.fam, req.caps, req.config
    hours = caps.max_duration_days * 24
    n_ub = caps.supply_devices(offer.watts, sites, offer.key) or caps.host_devices or 1.0
    budget = caps.budget_devices(offer.price, hours)
    if budget is not None:
        n_ub = min(n_ub, max(1.0, budget))
    ub = n_ub * acc.peak(precision) * hours * HOUR_S  # no run on this device exceeds this (MFU 1)
    best_mfu = req.util.eff.gemm_for(acc.name, precision)  # an upper bound of a transformer's MFU
    if ub * best_mfu <= floor:
        return []
    rule, seq, moe = fam.rule_at(req.start), fam.seq_len_at(req.start), fam.design_at(req.start)
    design = moe.design if moe is not None else None
    req = replace(req, refs=req.refs + (rule.ref,) + (() if config.seq_len else (seq.ref,))
                  + ((moe.ref,) if moe is not None else ()))
    if config.seq_len:  # a scenario's length replaces the series
        seq = replace(seq, value=config.seq_len)
    tokens = fam.tokens_available * config.data_scale
    per_param = rule.value if rule.rule == "chinchilla" else None
    sizes = sizing.sizes_up_to(sizing.max_params(tokens, fam.max_epochs, per_param), int(seq.value), design)
    node = max(1, int(caps.host_devices or 1))

    def run_of(params: float) -> Run | None:
        model = sizing.shape(params, int(seq.value), design)
        return _sized_eval(req, offer, acc, model, precision, floor, sizing.data_flop(model, tokens, fam.max_epochs),
                           sites)

    def bound(model) -> float:  # MFU 1 with as many devices as the batch lets one model use
        _, b_max, _ = batch_of(req, model)
        return min(n_ub, max(1.0, b_max) * model_parallel(model, node, req.known, config)) * acc.peak(precision) \
            * hours * HOUR_S

    # the sizes whose compute-optimal run could fit at all (MFU 1), smallest first, and whose model
    # state fits the memory of the most devices the run may use (else every layout runs out of memory)
    memory = n_ub * acc.memory_bytes / _state_bytes_per_param(precision)
    fits = [p for p in sizes if sizing.optimal_flop(m := sizing.shape(p, int(seq.value), design), rule.rule, rule.value)
            <= min(ub, bound(m)) and m.params <= memory]
    # each size's bound: MFU at the device's best matrix-multiply efficiency, as many devices as its batch
    # allows, the data it can see
    bounds = [min(ub, bound(m), sizing.data_flop(m, tokens, fam.max_epochs)) * best_mfu
              for m in (sizing.shape(p, int(seq.value), design) for p in fits)]
    if not fits or max(bounds) <= floor:
        return []
    return _by_bound(fits, bounds, run_of, floor)


def _by_bound(sizes: list[float], bounds: list[float], run_of, floor: float) -> list[Run]:
    """The runs of the sizes in order of their bound until no remaining bound beats the best run
    found: exact, and the large sizes whose bounds tie at the supply's are tried first. (Neither
    the run nor whether a size reaches its compute-optimal run is monotone in the size: memory
    decides the devices a size can use.) The feasible runs, else the last infeasible one."""
    found: list[Run] = []
    top = floor
    for i in (sorted(range(len(sizes)), key=lambda k: (-bounds[k], -sizes[k])) if SIZE_BOUND else range(len(sizes))):
        if SIZE_BOUND and bounds[i] <= top:
            break
        run = run_of(sizes[i])
        if run is None:
            continue
        if run.feasible:
            top = max(top, run.flop)
        found.append(run)
    ok = [r for r in found if r.feasible]
    return ok or found[-1:]


@cache
def _state_bytes_per_param(precision: Precision) -> float:
    """Weights, gradients and optimizer state of one parameter (costs/memory.py), stored at
    least once over a job's devices whatever the layout (tp, pp and ep split them, ZeRO
    shards them, nothing removes them; the frontier never offloads)."""
    return float(sum(model_state_bytes(1.0, Layout(global_batch=1, precision=precision))))


# ------------------------------------------------------------------ one market
def _best_in_market(req: Request, offers: list[Offer], floor: float = 0.0) -> tuple[Run | None, list[Run]]:
    """The largest run of `req.fam` over the offers (spread over more sites while a
    site's power limits it and the caps allow) that beats `floor`, and every candidate tried."""
    caps, config = req.caps, req.config
    tried: list[Run] = []
    lag = config.input("technique_adoption_lag_days")
    for offer in (undominated(offers, caps, req.start, lag) if PRUNE else offers):
        acc0 = offer.acc
        precision = precision_for(acc0, req.start, lag)
        if not acc0.peak(precision):
            tried.append(Run(req.at, False, f"{acc0.name}: no peak at {precision_of_era(req.start).value} or fp32",
                             device=offer.key, actor=caps.actor))
            continue
        if caps.budget_usd is not None and not math.isfinite(offer.price) and offer.paid:
            tried.append(Run(req.at, False, f"{acc0.name}: no price ({offer.why_no_price})", device=offer.key,
                             actor=caps.actor))
            continue
        acc = replace(acc0, memory_bytes=acc0.memory_bytes * config.memory_scale)
        sites, best = 1, 0.0
        while True:
            if req.fam.sized:
                runs = _sized(req, offer, acc, precision, floor, sites)
            else:
                one = _unsized(req, offer, acc, precision, floor, sites)
                runs = [] if one is None else [one]
            tried += runs
            top = max((r for r in runs if r.feasible), key=lambda r: r.flop, default=None)
            if top is None or top.flop <= best * (1 + 1e-9):
                break
            best = floor = max(floor, top.flop)
            more = min(2 * sites, caps.sites)  # more sites help only where the sites' power set the supply
            if not (more > sites and top.devices_limited_by == "supply"
                    and (caps.supply_devices(offer.watts, more, offer.key) or 0)
                    > (caps.supply_devices(offer.watts, sites, offer.key) or 0)):
                break
            sites = more
    ok = [r for r in tried if r.feasible]
    return (max(ok, key=lambda r: (r.flop, -r.n_devices)) if ok else None), tried


def _known(start: date, config: FrontierConfig, actor: str | None = None) -> frozenset[str]:
    return known_keys(min(start, config.techniques_frozen_at or start), config.withhold,
                      config.input("technique_adoption_lag_days"), actor)


def best_run(at: date, config: FrontierConfig, util: Utilization, market=None) -> tuple[Run, list[Run]]:
    """The largest run ending by `at` and every candidate tried (feasible or not).

    History (market None): over the actors of `at` and the families, each run starting
    its decided length before `at` on its actor's market. Projection: `market(at, config)`
    gives one market (caps with the run length, offers) for runs at `at`."""
    tried: list[Run] = []
    best: Run | None = None
    if market is not None:
        caps, offers, no_offer = market(at, config)
        known = _known(at, config)
        for fam in families_at(at, config.withhold):
            if config.families is not None and fam.key not in config.families:
                continue
            run, cands = _best_in_market(Request(at, at, fam, known, caps, config, util), offers,
                                         best.flop if best else 0.0)
            tried += cands
            best = run if run is not None and (best is None or run.flop > best.flop) else best
    else:
        candidates = []
        for actor in actors_at(at, config.actors):
            markets: dict[float, tuple] = {}  # families with the same run length share the market
            for fam in families_at(at, config.withhold):
                if config.families is not None and fam.key not in config.families:
                    continue
                days, rule = run_length_days(actor, at, config, fam.algorithmic_halving)
                start = at - timedelta(days=days)
                if fam.since[0].since > start:
                    continue
                if days not in markets:
                    caps, offers, no_offer = ActorMarket(actor, days, rule)(start, config)
                    markets[days] = (caps, offers, no_offer, {})
                caps, offers, no_offer, bounds = markets[days]
                if fam.sized not in bounds:
                    lag = config.input("technique_adoption_lag_days")
                    pool = undominated(offers, caps, start, lag) if PRUNE else offers
                    bounds[fam.sized] = run_bound(caps, pool, start, lag, util.eff if fam.sized else None)
                ub = bounds[fam.sized]
                if not offers:
                    tried.append(Run(at, False, no_offer, caps=caps, actor=actor.key))
                    continue
                candidates.append((ub, actor, fam, start, caps, offers))
        # largest bound first: an actor whose run could not beat the best so far even at full
        # utilization is not solved (the answer is the same, found sooner)
        for ub, actor, fam, start, caps, offers in sorted(candidates, key=lambda c: -c[0]):
            if PRUNE and best is not None and ub <= best.flop:
                break
            req = Request(at, start, fam, _known(start, config, actor.key), caps, config, util,
                          (actor.ref, fam.since[0].ref))
            run, cands = _best_in_market(req, offers, best.flop if best else 0.0)
            tried += cands
            best = run if run is not None and (best is None or run.flop > best.flop) else best
    if best is None:
        why = "; ".join(dict.fromkeys(r.reason for r in tried if r.reason)) or _nobody(at, config)
        return Run(at, False, why), tried
    return best, tried


def _nobody(at: date, config: FrontierConfig) -> str:
    """Why no run was tried at `at`: no actor trained yet, or no family existed yet."""
    if not actors_at(at, config.actors):
        first = min(all_actors(), key=lambda a: a.since)
        return f"no actor trained at {at} (the first, {first.key}, from {first.since})"
    fams = [f for f in families().values() if f.view(config.withhold) is not None]
    first = min(fams, key=lambda f: f.view(config.withhold).since[0].since)
    return f"no workload family whose run could start before {at} (the first, {first.key}, from " \
           f"{first.view(config.withhold).since[0].since})"


def solve(at: date | str, config: FrontierConfig | None = None, util: Utilization | None = None, relax: bool = True,
          market=None, constraints: tuple[str, ...] = CONSTRAINTS) -> Run:
    """The largest feasible run ending by `at` (a date or 'YYYY[-MM[-DD]]') with the binding
    constraints and 2x-relaxation gains (each of `constraints` relaxed 2x in turn), under
    `config` (None: the built-in baseline, as `simulator frontier`).

    >>> run = solve("2016-06", relax=False)
    >>> run.feasible, run.at.isoformat(), run.flop > 1e20
    (True, '2016-06-01', True)
    """
    if not isinstance(at, date):
        at = partial_date(at)
    if config is None:
        from simulator.frontier.config import load_frontier

        config = load_frontier()
    util = util or Utilization(default_efficiency())
    run, _ = best_run(at, config, util, market)
    if not (relax and run.feasible):
        return run
    gains = {}
    for c in constraints:
        if c == "budget" and run.caps.budget_usd is None:
            continue
        bigger, _ = best_run(at, config.relaxed(c, 2.0, run.caps.scales()), util, market)
        gains[c] = bigger.flop / run.flop if bigger.feasible and run.flop > 0 else math.nan
    # the run length binds whenever the budget does not (every run lasts as long as
    # decided), so it is listed last: the first entry is the informative constraint
    binding = tuple(sorted((c for c, g in gains.items() if g > 1 + BIND_TOLERANCE),
                           key=lambda c: (c == "duration", -gains[c])))
    return replace(run, gains=gains, binding=binding)
