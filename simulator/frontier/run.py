"""A frontier run: one candidate, or the winner, at a date (what `solve` returns).

It carries what the solver decided (device, count, layout, length, FLOP, cost), why
(the constraint that limited the devices, the binding constraints and each constraint's
ceiling) and the catalog rows it read (`inputs`, file:key), so a test can check that a
run scored against the frontier never read its own facts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from simulator.core.units import PFS_DAY_FLOP
from simulator.frontier.market import Caps


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
    ended_by: str = ""  # "duration" (the decided run length) or "data" (the sized model used all the data)
    params: float = math.nan  # total parameters of a sized model
    params_active: float = math.nan  # of them, those one token passes through (a mixture of experts: fewer)
    fall_reason: str = ""  # why the frontier is below the previous date's, or that the earlier run was carried
    price_usd_per_hour: float = math.nan
    cost_usd: float = math.nan
    devices_limited_by: str = ""
    techniques_used: tuple[str, ...] = ()
    caps: Caps | None = None
    binding: tuple[str, ...] = ()
    gains: dict = field(default_factory=dict)
    ceilings: dict = field(default_factory=dict)  # constraint -> the largest run it alone allows (frontier/ceilings.py)
    actor: str = ""
    start: date | None = None  # the run starts here and ends by `at`
    duration_rule: str = ""
    inputs: tuple[str, ...] = ()  # the catalog rows read (file:key)
    moe: Run | None = None  # the date's largest mixture-of-experts run beside it (frontier_series with moe=True)

    @property
    def pfs_days(self) -> float:
        return self.flop / PFS_DAY_FLOP

    @property
    def useful_flop(self) -> float:
        return self.flop * self.useful_fraction
