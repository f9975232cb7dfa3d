"""Reproduce "AI and Compute" from the mechanism: the frontier 1959 to today, fitted per era.

The simulated frontier (simulator.frontier) is solved on a date grid; log-linear fits
give the doubling time of each era, with intervals from input uncertainty (the frontier
re-solved over draws of the sourced input ranges, trend/uncertainty.py); the same fits
on the published points give the numbers to compare with (OpenAI's 3.4-month doubling
from 2012, about two years before). Nothing here feeds back into the frontier: the
trend is only ever an output.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date
from importlib.resources import files

import numpy as np
import pandas as pd

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.ranges import FRONTIER_INPUTS_END
from simulator.frontier.config import FrontierConfig
from simulator.frontier.series import Published, date_grid, frontier_series, published, to_frame
from simulator.frontier.solver import Run, solve
from simulator.frontier.utilization import Utilization
from simulator.trend.fit import TrendFit, fit_doubling, moore_growth
from simulator.trend.uncertainty import input_intervals

#: Eras of OpenAI's chart: before deep learning's GPU era, the 3.4-month era (AlexNet to
#: AlphaZero, 2012-2018, "AI and Compute" 2018-05-16), and after.
ERAS = {
    "first_era": (date(1959, 1, 1), date(2012, 1, 1)),
    "modern": (date(2012, 1, 1), date(2018, 1, 1)),
    "post_2018": (date(2018, 1, 1), date(9999, 1, 1)),
}
#: Published figures the reproduction is compared with (OpenAI, "AI and Compute", 2018,
#: and its 2019 addendum): doubling 3.4 months (the chart's fit 3.43), >300,000x from
#: AlexNet to AlphaGo Zero, about two years before 2012.
PUBLISHED = {"modern_doubling_months": 3.43, "alexnet_to_alphago_zero_growth": 3.0e5,
             "first_era_doubling_months": 24.0,
             "source": "Amodei & Hernandez 2018, 'AI and Compute' (openai.com), with the 2019 addendum"}
NOTABLE_CSV = "notable_runs_2012_2018.csv"
#: The default last date of `simulator reproduce`: the latest era-input row it reads, so
#: the main job's answer does not change with the day it is run (catalog/ranges.py).
DATA_END = FRONTIER_INPUTS_END
#: Input draws for the intervals (trend/uncertainty.py) when not given.
DEFAULT_SAMPLES = 20
#: A first-era point is "under" the frontier when it is at most this many orders of
#: magnitude above it (issue 11: at or below the frontier, within 0.5).
UNDER_TOLERANCE_OOM = 0.5
ALEXNET, ALPHAGO_ZERO = "AlexNet", "AlphaGo Zero"


@dataclass(frozen=True)
class Reproduction:
    runs: list[Run]
    frame: pd.DataFrame
    fits: dict[str, TrendFit | None]  # simulated, per era
    published_fits: dict[str, TrendFit | None]  # the same fits on the published points
    alexnet: Run
    alphago_zero: Run
    points: tuple[Published, ...]
    intervals: dict  # {era: [lo, hi] doubling months, "growth": [lo, hi]} from input draws
    first_era_runs: tuple[tuple[Published, Run], ...] = ()  # each first-era point and the frontier at its date
    samples: int = 0

    @property
    def growth(self) -> float:
        """Simulated frontier growth from AlexNet's date to AlphaGo Zero's."""
        return self.alphago_zero.flop / self.alexnet.flop if self.alexnet.feasible else math.nan

    @property
    def moore_growth(self) -> float:
        return moore_growth(self.alexnet.at, self.alphago_zero.at)

    @property
    def published_growth(self) -> float:
        pts = {p.system: p for p in self.points}
        return pts[ALPHAGO_ZERO].flop / pts[ALEXNET].flop

    def summary(self) -> dict:
        def months(fit):
            return None if fit is None else fit.doubling_months

        post = months(self.fits["post_2018"])
        return {
            "modern_doubling_months": months(self.fits["modern"]),
            "modern_doubling_ci": self.intervals.get("modern"),
            "first_era_doubling_months": months(self.fits["first_era"]),
            "first_era_doubling_ci": self.intervals.get("first_era"),
            "post_2018_doubling_months": post,
            "post_2018_doubling_ci": self.intervals.get("post_2018"),
            "post_2018_growth_per_year": None if post is None else 2 ** (12 / post),
            "alexnet_to_alphago_zero_growth": self.growth,
            "alexnet_to_alphago_zero_growth_ci": self.intervals.get("growth"),
            "interval": f"5th-95th percentile over {self.samples} draws of the uncertain inputs (catalog/uncertainty.csv)",
            "first_era_points": self.first_era_summary(),
            "falls": {r.at.isoformat(): r.fall_reason for r in self.runs if r.fall_reason},
            "moore_growth_same_span": self.moore_growth,
            "published": {**PUBLISHED, "alexnet_to_alphago_zero_growth_of_points": self.published_growth,
                          "modern_doubling_months_refit": months(self.published_fits["modern"]),
                          "first_era_doubling_months_refit": months(self.published_fits["first_era"])},
            "binding_by_era": self.binding_by_era(),
        }

    def first_era_summary(self) -> dict:
        """Each first-era published point against the frontier at its date (log10 ratio)."""
        rows, gaps = [], []
        for p, run in self.first_era_runs:
            gap = math.log10(run.flop / p.flop) if run.feasible else None
            rows.append({"system": p.system, "date": p.at.isoformat(), "published_flop": p.flop,
                         "frontier_flop": run.flop if run.feasible else None, "frontier_over_point_oom": gap,
                         "reason": "" if run.feasible else run.reason})
            if gap is not None:
                gaps.append(gap)
        return {"points": rows, "compared": len(gaps),
                "median_oom_above": float(np.median(gaps)) if gaps else None,
                "all_under_frontier": bool(gaps) and all(g >= -UNDER_TOLERANCE_OOM for g in gaps)}

    def binding_by_era(self) -> dict[str, dict[str, float]]:
        """Share of the era's dates bound first by each constraint."""
        out = {}
        ok = self.frame[self.frame.feasible]
        when = pd.to_datetime(ok["date"]).dt.date
        for era, (a, b) in ERAS.items():
            part = ok[(when >= a) & (when < b)]
            counts = part["primary_binding"].replace("", "none").value_counts(normalize=True)
            out[era] = {str(k): round(float(v), 3) for k, v in counts.items()}
        return out


def notable_runs() -> list[Published]:
    """Epoch AI's notable runs 2012-2018 (catalog/notable_runs_2012_2018.csv) as points."""
    text = files("simulator.catalog").joinpath(NOTABLE_CSV).read_text(encoding="utf-8")
    out = []
    for r in csv.DictReader(io.StringIO(text)):
        if r["publication_date"] and r["training_compute_flop"]:
            out.append(Published(r["name"], date.fromisoformat(r["publication_date"]), float(r["training_compute_flop"]),
                                 "notable (Epoch AI)", r["source"]))
    return out


def _era_of(p: Published) -> str | None:
    if p.era.startswith("first era"):
        return "first_era"
    if p.era.startswith("modern (2012-2018, on"):
        return "modern"
    return None


def reproduce(config: FrontierConfig, start: date, end: date, step: str = "quarter",
              samples: int = DEFAULT_SAMPLES, seed: int = 0, progress=None) -> Reproduction:
    """Solve the frontier on the grid, fit each era, draw the uncertain inputs `samples`
    times for the intervals, and compare with the published points."""
    util = Utilization(default_efficiency())
    dates = date_grid(start, end, step)
    runs = frontier_series(config, dates, progress=progress, util=util)
    frame = to_frame(runs)
    ok = [r for r in runs if r.feasible]
    fits = {era: fit_doubling([r.at for r in ok], [r.flop for r in ok], max(a, start), b, 0, seed)
            for era, (a, b) in ERAS.items()}
    points = published()
    pub_fits = {}
    for era, (a, b) in ERAS.items():
        mine = [p for p in points if _era_of(p) == era]
        pub_fits[era] = fit_doubling([p.at for p in mine], [p.flop for p in mine], date(1950, 1, 1) if
                                     era == "first_era" else a, b, 0, seed)
    pts = {p.system: p for p in points}
    landmarks = (pts[ALEXNET].at, pts[ALPHAGO_ZERO].at)
    # the draws re-solve a yearly subset of the grid (the fits hardly change; 4x less work)
    coarse = dates if step == "year" else date_grid(start, end, "year")
    ratios = input_intervals(config, coarse if len(coarse) >= 12 else dates, ERAS, landmarks, samples, seed,
                             util) if samples else {}
    alexnet, agz = solve(landmarks[0], config, util), solve(landmarks[1], config, util)
    estimates = {era: None if f is None else f.doubling_months for era, f in fits.items()}
    estimates["growth"] = agz.flop / alexnet.flop if alexnet.feasible and agz.feasible else None
    intervals = {k: None if not r or estimates.get(k) is None else [estimates[k] * r[0], estimates[k] * r[1]]
                 for k, r in ratios.items()}
    first = tuple((p, solve(p.at, config, util, relax=False)) for p in points if _era_of(p) == "first_era")
    return Reproduction(runs, frame, fits, pub_fits, alexnet, agz, points, intervals, first, samples)
