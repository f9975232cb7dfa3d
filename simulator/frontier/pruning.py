"""Which offers cannot win, and how large a run on them can be at most.

The solver tries every actor, family and device on offer; most cannot beat the best run
found so far. Two rules let it skip them without changing the answer (a test compares
the pruned search with the full one):

- **dominance**: an offer that another matches or beats in peak FLOP/s, FLOP/s per watt,
  FLOP/s per dollar, memory, memory bandwidth, links and scale-up domain cannot give a
  larger run (`undominated`), unless a cluster of its own gives it a supply of its own;
- **bounds**: no run on an actor's offers exceeds every device its supply, host or budget
  allows for the whole run at full peak, or, for a sized transformer, at the device's
  matrix-multiply efficiency, which bounds MFU in the step model (every model FLOP runs
  at most that fast) (`run_bound`).
"""

from __future__ import annotations

import math
from datetime import date

from simulator.catalog.eras import precision_for
from simulator.core.specs import Efficiency
from simulator.core.units import HOUR_S
from simulator.frontier.market import Caps, Offer


def _merits(o: Offer, precision) -> tuple[float, ...] | None:
    peak = o.acc.peak(precision)
    if not peak or not o.watts or not math.isfinite(o.price) or o.price <= 0:
        return None
    bw = o.acc.memory_bandwidth_bytes_per_s or 0.0

    def link(x) -> float:
        return 0.0 if x is None else x.bandwidth_bytes_per_s

    return (peak, peak / o.watts, peak / o.price, o.acc.memory_bytes, bw, link(o.intra), link(o.inter),
            float(o.node_default or 1))


def undominated(offers: list[Offer], caps: Caps, start: date, lag: float) -> list[Offer]:
    """The offers no other offer beats in every respect (module doc), and those a cluster of
    the caps names (a site known by its power takes any device). Offers missing one of the
    merits are all kept."""
    own = {k for k, _ in caps.clusters}
    beaten = _beaten(offers, start, lag)
    return [o for o in offers if o.key not in beaten or o.key in own or "" in own]


_BEATEN: dict[tuple, tuple] = {}


def _beaten(offers, start: date, lag: float) -> frozenset[str]:
    """The keys of the offers another beats in every respect (cached by the offers' identity,
    as the market hands out the same tuple for the same month, with the date and lag, or
    else with the precisions they give, which a drawn lag seldom changes)."""
    ids = tuple(id(o) for o in offers)
    fast, precisions = (ids, start, lag), None
    hit = _BEATEN.get(fast)
    if hit is None:
        precisions = tuple(precision_for(o.acc, start, lag) for o in offers)
        hit = _BEATEN.get((ids, precisions))
    if hit is not None and all(a is b for a, b in zip(hit[0], offers, strict=True)):
        _BEATEN[fast] = hit
        return hit[1]
    if precisions is None:
        precisions = tuple(precision_for(o.acc, start, lag) for o in offers)
    key = (ids, precisions)
    merits = {o.key: _merits(o, p) for o, p in zip(offers, precisions, strict=True)}
    out = set()
    for o in offers:
        m = merits[o.key]
        if m is not None and any(q is not o and (mq := merits[q.key]) is not None and mq != m
                                 and all(a >= b for a, b in zip(mq, m, strict=True)) for q in offers):
            out.add(o.key)
    if len(_BEATEN) > 100_000:
        _BEATEN.clear()
    _BEATEN[key] = _BEATEN[fast] = (tuple(offers), frozenset(out))
    return frozenset(out)


def run_bound(caps: Caps, offers: list[Offer], start: date, lag: float, eff: Efficiency | None = None) -> float:
    """No run on these offers exceeds this FLOP (module doc): at full peak, or with `eff`
    (a sized family's) at each device's matrix-multiply efficiency."""
    hours = caps.max_duration_days * 24
    out = 0.0
    for o in offers:
        precision = precision_for(o.acc, start, lag)
        peak = o.acc.peak(precision)
        if not peak:
            continue
        h = min(hours, o.max_hours) if o.max_hours is not None else hours
        n = max(caps.supply_devices(o.watts, caps.sites, o.key) or 0.0, caps.host_devices or 1.0, 1.0)
        budget = caps.budget_devices(o.price, h) if o.paid and math.isfinite(o.price) else None
        if budget is not None:
            n = min(n, max(budget, 1.0))
        cap = 1.0 if eff is None else eff.gemm_for(o.acc.name, precision)
        out = max(out, n * peak * cap * h * HOUR_S)
    return out
