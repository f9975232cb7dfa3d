"""The frontier over a range of dates, as a table; the published points to compare with.

`frontier_series` solves each date of a grid with one shared layout-search cache;
`to_frame` gives one row per date (the CSV of `simulator frontier`); `published`
reads the points of OpenAI's "AI and Compute" (catalog/ai_and_compute.csv, a copy of
the reference data with its sources); `compare` solves the dates of named published
runs and gives the ratio simulated / published.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from importlib.resources import files

import pandas as pd

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.runfacts import POINT_FILES
from simulator.core.units import partial_date
from simulator.frontier.config import FrontierConfig
from simulator.frontier.solver import CONSTRAINTS, Run, solve
from simulator.frontier.utilization import Utilization
from simulator.frontier.workloads import families_at

STEPS = {"month": 1, "quarter": 3, "year": 12}
PUBLISHED_CSV, NOTABLE_CSV, FRONTIER_RUNS_CSV = (f for f, *_ in POINT_FILES)
#: The runs whose dates the frontier is printed at (issue 5), by their ai_and_compute.csv names.
LANDMARKS = ("AlexNet", "Neural Machine Translation (GNMT)", "AlphaGo Zero")


def date_grid(start: date, end: date, step: str) -> list[date]:
    """First days of months from `start` to `end` inclusive, every 1, 3 or 12 months,
    aligned to calendar quarters (Jan, Apr, Jul, Oct) or years (Jan).

    >>> from datetime import date
    >>> [d.isoformat() for d in date_grid(date(2012, 1, 1), date(2012, 12, 1), "quarter")]
    ['2012-01-01', '2012-04-01', '2012-07-01', '2012-10-01']
    """
    if step not in STEPS:
        raise ValueError(f"step {step!r}: one of {', '.join(STEPS)}")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    k = STEPS[step]
    index = start.year * 12 + start.month - 1 + (start.day > 1)  # months since year 0, first full month
    index += -index % k
    out = []
    while (at := date(index // 12, index % 12 + 1, 1)) <= end:
        out.append(at)
        index += k
    return out


def fall_reason(before: Run, after: Run) -> str:
    """Why a run possible at `before.at` may not be possible at `after.at`: an input that fell
    ("" when none did: the earlier run is still feasible)."""
    a, b = before.caps, after.caps
    why = []
    if before.actor != after.actor:  # another actor's inputs say nothing of the earlier run's
        return ""
    if a.budget_usd is not None and b.budget_usd is not None and b.budget_usd < a.budget_usd * (1 - 1e-9):
        why.append(f"budget fell from {a.budget_usd:.3g} to {b.budget_usd:.3g} USD")
    if b.max_duration_days < a.max_duration_days * (1 - 1e-9):
        why.append(f"accepted run length fell from {a.max_duration_days:.0f} to {b.max_duration_days:.0f} days")
    if (a.site_power_w or 0) > (b.site_power_w or 0) * (1 + 1e-9):
        why.append("site power fell")
    if sum(n for _, n in a.clusters) > sum(n for _, n in b.clusters) * (1 + 1e-9):
        why.append("the actor's clusters shrank")
    if before.device == after.device and after.price_usd_per_hour > before.price_usd_per_hour * (1 + 1e-9):
        why.append(f"{before.device} price rose from {before.price_usd_per_hour:.3g} to "
                   f"{after.price_usd_per_hour:.3g} USD/h")
    return "; ".join(why)


def monotone(runs: list[Run]) -> list[Run]:
    """The frontier falls only for a stated reason: a date whose run is smaller than the
    previous date's keeps its own run when an input fell (the reason is in `fall_reason`),
    else the previous run, which is still feasible, is carried (and says so)."""
    out: list[Run] = []
    solved_at = None  # the date the carried run was solved at
    for run in runs:
        prev = out[-1] if out else None
        carried = False
        if prev is not None and prev.feasible and run.feasible and run.flop < prev.flop * (1 - 1e-9):
            why = fall_reason(prev, run)
            if why:
                run = replace(run, fall_reason=why)
            else:
                carried, solved_at = True, solved_at or prev.at
                run = replace(prev, at=run.at, caps=run.caps, moe=run.moe,
                              fall_reason=f"no input fell; the solver's run was {run.flop:.3g} FLOP, the earlier "
                                          f"run is still feasible: carried from {solved_at.isoformat()}")
        solved_at = solved_at if carried else None
        out.append(run)
    return out


def largest_moe(at: date, config: FrontierConfig, util: Utilization, run: Run) -> Run | None:
    """The largest mixture-of-experts run ending by `at` (unrelaxed): `run` itself when it is
    one, None when no MoE family exists at `at` (or the config's families leave none out)."""
    moe = tuple(f.key for f in families_at(at, config.withhold) if f.is_moe
                and (config.families is None or f.key in config.families))
    if not moe:
        return None
    if run.feasible and run.family in moe:
        return run
    alt = solve(at, replace(config, families=moe), util, relax=False)
    return alt if alt.feasible else None


def frontier_series(config: FrontierConfig, dates: list[date], progress=None, relax: bool = True,
                    util: Utilization | None = None, relax_every: int = 1, moe: bool = False) -> list[Run]:
    """The solved run of each date (never falling without a stated reason, `monotone`);
    with `relax`, every `relax_every`-th date also relaxes each constraint 2x (the binding
    constraints); with `moe`, each run carries the date's largest mixture-of-experts run
    (`Run.moe`, `largest_moe`: what the practice of the date would train, when it is not the
    largest); `progress(done, total)` after each.

    >>> from datetime import date
    >>> from simulator.frontier.config import load_frontier
    >>> runs = frontier_series(load_frontier(), date_grid(date(2012, 1, 1), date(2013, 1, 1), "year"), relax=False)
    >>> [(r.at.isoformat(), r.feasible) for r in runs]
    [('2012-01-01', True), ('2013-01-01', True)]
    """
    util = util or Utilization(default_efficiency())
    runs = []
    for i, at in enumerate(dates):
        run = solve(at, config, util, relax=relax and i % max(1, relax_every) == 0)
        runs.append(replace(run, moe=largest_moe(at, config, util, run)) if moe else run)
        if progress is not None:
            progress(i + 1, len(dates))
    return monotone(runs)


def to_frame(runs: list[Run]) -> pd.DataFrame:
    rows = []
    for r in runs:
        caps = r.caps
        row = {
            "date": r.at.isoformat(), "feasible": r.feasible, "pfs_days": r.pfs_days if r.feasible else math.nan,
            "flop": r.flop if r.feasible else math.nan, "useful_flop": r.useful_flop if r.feasible else math.nan,
            "binding": ";".join(r.binding), "primary_binding": r.binding[0] if r.binding else "",
            "family": r.family, "model": r.model, "device": r.device, "device_name": r.device_name,
            "precision": r.precision, "peak_flops_per_s": r.peak_flops_per_s, "n_devices": r.n_devices,
            "days": r.days, "mfu": r.mfu, "goodput": r.goodput, "useful_fraction": r.useful_fraction,
            "global_batch": r.global_batch, "critical_batch": r.critical_batch, "layout": r.layout,
            "price_usd_per_hour": r.price_usd_per_hour, "cost_usd": r.cost_usd,
            "devices_limited_by": r.devices_limited_by, "techniques_used": ";".join(r.techniques_used),
            "budget_usd": caps.budget_usd if caps and caps.budget_usd is not None else math.nan,
            "max_devices": caps.max_devices if caps and caps.max_devices else math.nan,
            "host_devices": caps.host_devices if caps and caps.host_devices else math.nan,
            "max_duration_days": caps.max_duration_days if caps else math.nan,
            "reason": r.reason, "fall_reason": r.fall_reason, "ended_by": r.ended_by, "params": r.params,
            "params_active": r.params_active,
            "actor": r.actor, "start": r.start.isoformat() if r.start else "", "duration_rule": r.duration_rule,
            "site_power_w": caps.site_power_w if caps and caps.site_power_w else math.nan,
            "async_replicas": caps.async_replicas if caps and caps.async_replicas else math.nan,
        }
        row.update({f"gain_2x_{c}": r.gains.get(c, math.nan) for c in CONSTRAINTS})
        m = r.moe  # the largest mixture-of-experts run of the date (frontier_series with moe=True)
        row.update({"moe_flop": m.flop if m else math.nan, "moe_params_active": m.params_active if m else math.nan,
                    "moe_params_total": m.params if m else math.nan, "moe_n_devices": m.n_devices if m else math.nan,
                    "moe_mfu": m.mfu if m else math.nan, "moe_devices_limited_by": m.devices_limited_by if m else ""})
        rows.append(row)
    return pd.DataFrame(rows)



@dataclass(frozen=True)
class Published:
    system: str
    at: date
    flop: float
    era: str
    source: str
    run_id: str = ""
    file: str = PUBLISHED_CSV

    @property
    def key(self) -> str:
        """The point as one key: file:run_id (the two files estimate some runs differently)."""
        return f"{self.file}:{self.run_id}"


#: The era label of the points of each file without an era column of its own.
POINT_ERAS = {NOTABLE_CSV: "notable (Epoch AI)", FRONTIER_RUNS_CSV: "post-2018 (Epoch AI)"}


@cache
def _points(file: str) -> tuple[Published, ...]:
    """The rows of a published-run file (catalog/runfacts.py POINT_FILES: its name, date and
    FLOP columns) with a date and a FLOP value, as points (read once)."""
    name, when, flop_col = next((n, d, f) for f0, n, d, f in POINT_FILES if f0 == file)
    out = []
    for r in csv.DictReader(io.StringIO(files("simulator.catalog").joinpath(file).read_text(encoding="utf-8"))):
        text_date, flop = r[when].strip(), r[flop_col].strip()
        at = partial_date(text_date) if text_date else None
        if at and flop:
            out.append(Published(r[name], at, float(flop), r.get("era") or POINT_ERAS[file], r["source"],
                                 r["run_id"], file))
    return tuple(out)


def published() -> tuple[Published, ...]:
    """The points of "AI and Compute" (catalog/ai_and_compute.csv)."""
    return _points(PUBLISHED_CSV)


def notable_runs() -> tuple[Published, ...]:
    """Epoch AI's notable runs 2012-2018 (catalog/notable_runs_2012_2018.csv)."""
    return _points(NOTABLE_CSV)


def frontier_runs() -> tuple[Published, ...]:
    """The largest published runs 2018-2026 (Epoch AI's data: running records and runs within
    3x of them; catalog/frontier_runs_2018_2026.csv)."""
    return _points(FRONTIER_RUNS_CSV)


def scored_points() -> tuple[Published, ...]:
    """Every published run the reproduction compares with the frontier (the three files)."""
    return published() + notable_runs() + frontier_runs()


def compare(config: FrontierConfig, names=LANDMARKS, util: Utilization | None = None) -> list[tuple[Published, Run]]:
    """(published point, simulated frontier at its date) for each named system, each solved
    without the facts of its own run (no run scores itself)."""
    util = util or Utilization(default_efficiency())
    points = {p.system: p for p in published()}
    missing = [n for n in names if n not in points]
    if missing:
        raise KeyError(f"not in {PUBLISHED_CSV}: {missing}")
    return [(points[n], solve(points[n].at, config.withholding({points[n].run_id}), util)) for n in names]
