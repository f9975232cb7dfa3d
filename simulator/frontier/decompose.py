"""Growth decomposition: why the frontier at one date is larger than at another.

A run's FLOP is the product n x peak x MFU x goodput x duration, so the ratio between
two runs splits exactly into five multiplicative factors (their product is the FLOP
ratio). `jumps` walks a series and, for each step where the frontier grows by more
than a threshold, says what changed: a technique used for the first time, a new
device, the budget, the largest cluster, the binding constraint.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from simulator.frontier.solver import Run

FACTORS = ("per_device_flops", "devices", "utilization", "goodput", "duration")


@dataclass(frozen=True)
class Growth:
    start: Run
    end: Run
    factors: dict  # factor -> ratio end / start

    @property
    def total(self) -> float:
        return self.end.flop / self.start.flop


def decompose(start: Run, end: Run) -> Growth:
    """Factors of end.flop / start.flop (both runs must be feasible)."""
    if not (start.feasible and end.feasible):
        raise ValueError("both runs must be feasible to decompose their growth")
    f = {
        "per_device_flops": end.peak_flops_per_s / start.peak_flops_per_s,
        "devices": end.n_devices / start.n_devices,
        "utilization": end.mfu / start.mfu,
        "goodput": end.goodput / start.goodput,
        "duration": end.days / start.days,
    }
    return Growth(start, end, f)


def what_changed(a: Run, b: Run) -> list[str]:
    """The changes from run a to run b that can explain a jump, in words."""
    out = []
    new = [t for t in b.techniques_used if t not in a.techniques_used]
    if new:
        out.append("technique: " + ", ".join(new))
    if b.family != a.family:
        out.append(f"workload: {a.family} -> {b.family}")
    if b.model != a.model:
        out.append(f"model: {a.model} -> {b.model}")
    if b.precision != a.precision:
        out.append(f"precision: {a.precision} -> {b.precision}")
    if b.device != a.device:
        out.append(f"device: {a.device_name} -> {b.device_name}")
    if b.actor != a.actor:
        out.append(f"actor: {a.actor} -> {b.actor}")
    ca, cb = a.caps, b.caps
    if ca and cb and a.actor == b.actor:
        if ca.budget_usd and cb.budget_usd and not math.isclose(ca.budget_usd, cb.budget_usd, rel_tol=0.01):
            out.append(f"budget x{cb.budget_usd / ca.budget_usd:.3g}")
        elif cb.budget_usd and not ca.budget_usd:
            out.append("budget: first documented")
        if ca.site_power_w and cb.site_power_w and not math.isclose(ca.site_power_w, cb.site_power_w, rel_tol=0.01):
            out.append(f"site power {ca.site_power_w / 1e6:,.3g} -> {cb.site_power_w / 1e6:,.3g} MW")
        if dict(ca.clusters) != dict(cb.clusters):
            out.append("clusters: " + ", ".join(f"{k or 'any'} {n:,.0f}" for k, n in cb.clusters))
        if not math.isclose(ca.max_duration_days, cb.max_duration_days, rel_tol=0.01):
            out.append(f"run length {ca.max_duration_days:.0f} -> {cb.max_duration_days:.0f} days ({cb.duration_rule})")
        if ca.host_devices and cb.host_devices and cb.host_devices != ca.host_devices:
            out.append(f"devices per host {ca.host_devices:,.0f} -> {cb.host_devices:,.0f}")
    if b.binding[:1] != a.binding[:1]:
        out.append(f"binding: {', '.join(a.binding) or '-'} -> {', '.join(b.binding) or '-'}")
    return out


def jumps(runs: list[Run], threshold: float = 2.0) -> list[tuple[Growth, list[str]]]:
    """Consecutive feasible pairs whose frontier grows by at least `threshold`x."""
    ok = [r for r in runs if r.feasible]
    out = []
    for a, b in itertools.pairwise(ok):
        if b.flop >= threshold * a.flop:
            out.append((decompose(a, b), what_changed(a, b)))
    return out
