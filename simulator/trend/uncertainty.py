"""Intervals from input uncertainty: the frontier re-solved over draws of the sourced ranges.

The frontier's grid points are not independent samples (each is the same mechanism a
quarter later), so a bootstrap over them says little. Instead each uncertain input with
a published range (catalog/uncertainty.csv: a two-piece lognormal through p10, median,
p90, as in `simulator project`) is drawn `samples` times with numpy's default_rng(seed);
every draw re-solves the frontier (without the 2x relaxations, on a grid the caller
chooses) and refits each era; the interval is the 5th-95th percentile of the refit over
the median-input refit on the same grid, times the caller's estimate. Inputs without a published range
are held at their value, so the intervals are lower bounds of the real uncertainty.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from importlib.resources import files

import numpy as np

from simulator.frontier.config import FrontierConfig
from simulator.frontier.series import frontier_series
from simulator.frontier.solver import solve
from simulator.frontier.utilization import Utilization
from simulator.trend.draws import Param
from simulator.trend.fit import fit_doubling

UNCERTAINTY_CSV = "uncertainty.csv"
LEVEL = 0.9


@dataclass(frozen=True)
class Uncertain:
    param: Param
    applies_to: str  # the FrontierConfig key the draw scales


@cache
def uncertain_inputs() -> tuple[Uncertain, ...]:
    """Rows of uncertainty.csv with a range (the others are held at their value)."""
    text = files("simulator.catalog").joinpath(UNCERTAINTY_CSV).read_text(encoding="utf-8")
    out = []
    for r in csv.DictReader(io.StringIO(text)):
        if not r["source"].strip():
            raise ValueError(f"{UNCERTAINTY_CSV}: key={r['key']!r}: column 'source': empty")
        if r["p10"] and r["p90"]:
            p = Param(r["key"], r["unit"], float(r["p10"]), float(r["median"]), float(r["p90"]), r["source"], False)
            out.append(Uncertain(p, r["applies_to"]))
    return tuple(out)


def draw_configs(config: FrontierConfig, samples: int, seed: int) -> list[FrontierConfig]:
    """`samples` configs, each with every uncertain input drawn (seeded)."""
    rng = np.random.default_rng(seed)
    draws = {u.param.name: (u, u.param.sample(rng, samples)) for u in uncertain_inputs()}
    out = []
    for i in range(samples):
        c = config
        for u, x in draws.values():
            if u.applies_to == "budget_scale":
                c = replace(c, budget_scale=c.budget_scale * float(x[i]) / u.param.median)
            elif u.applies_to == "duration_growth_scale":
                c = replace(c, duration_growth_scale=c.duration_growth_scale * math.log(float(x[i]))
                            / math.log(u.param.median))
            else:
                raise ValueError(f"{UNCERTAINTY_CSV}: {u.param.name}: cannot draw {u.applies_to!r}")
        out.append(c)
    return out


def _measures(config: FrontierConfig, dates: list[date], eras: dict[str, tuple[date, date]],
              landmarks: tuple[date, date], util: Utilization) -> dict[str, float | None]:
    """Each era's doubling months and the growth between the landmarks, for one config."""
    runs = [r for r in frontier_series(config, dates, relax=False, util=util) if r.feasible]
    out: dict[str, float | None] = {}
    for era, (a, b) in eras.items():
        fit = fit_doubling([r.at for r in runs], [r.flop for r in runs], max(a, dates[0]), b, n_boot=0)
        out[era] = None if fit is None else fit.doubling_months
    first, last = (solve(d, config, util, relax=False) for d in landmarks)
    out["growth"] = last.flop / first.flop if first.feasible and last.feasible else None
    return out


def input_intervals(config: FrontierConfig, dates: list[date], eras: dict[str, tuple[date, date]],
                    landmarks: tuple[date, date], samples: int, seed: int, util: Utilization,
                    progress=None) -> dict:
    """{era: [lo, hi], 'growth': [lo, hi]} as ratios to the median-input config's value on
    the same grid: the caller multiplies its own estimate (on a finer grid, perhaps) by them."""
    base = _measures(config, dates, eras, landmarks, util)
    ratios: dict[str, list[float]] = {k: [] for k in base}
    for i, c in enumerate(draw_configs(config, samples, seed)):
        for k, v in _measures(c, dates, eras, landmarks, util).items():
            if v is not None and base[k]:
                ratios[k].append(v / base[k])
        if progress is not None:
            progress(i + 1, samples)
    q = [50 * (1 - LEVEL), 50 * (1 + LEVEL)]
    return {k: [float(v) for v in np.percentile(r, q)] if r else None for k, r in ratios.items()}
