"""Reproduce "AI and Compute" from the mechanism, as a referee would score it.

The headline figures come from a frontier that may read no fact of any run it is
compared with (every scored run withheld: catalog/runfacts.py): the doubling time of
each era fitted on the frontier over the published fit's own window (the first era
1959-2012, the modern era AlexNet to AlphaZero, after 2018 to the data's end), the
growth AlexNet to AlphaGo Zero as a ratio and from the fitted rate. Each published run
is compared with the frontier at its date solved without that run's facts (leave one
run out): the ceiling test. Every uncertain input is drawn jointly (trend/uncertainty.py):
each figure is reported as the median of the draws, its 5th-95th percentile band, the
percentile of the published value in the draws, and the inputs that move it most (one
at a time over each input's own 90% range). Nothing here feeds back into the frontier:
the trend is only ever an output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

import numpy as np
import pandas as pd

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.ranges import FRONTIER_INPUTS_END
from simulator.catalog.runfacts import scored_runs
from simulator.catalog.uncertain import uncertain_inputs
from simulator.frontier.config import FrontierConfig
from simulator.frontier.series import Published, date_grid, frontier_series, published, scored_points, to_frame
from simulator.frontier.solver import Run, solve
from simulator.frontier.utilization import Utilization
from simulator.trend.fit import fit_doubling, moore_growth, years
from simulator.trend.uncertainty import Swing, band, draw_quantiles, evaluate_many, percentile_of, swing_values, swings

ALEXNET, ALPHAGO_ZERO, ALPHAZERO = "alexnet", "alphago_zero", "alphazero"
#: The default last date: the latest era-input row it reads, so the answer does not change
#: with the day it is run (catalog/ranges.py).
DATA_END = FRONTIER_INPUTS_END
DEFAULT_SAMPLES = 200
#: More draws than this are refused before any work (about 14 CPU-hours at 0.5 s a draw).
MAX_SAMPLES = 100_000
#: The main series relaxes each constraint 2x (the binding constraints) once a year only:
#: every 4th date of a quarterly grid, every 12th of a monthly one.
RELAX_EVERY = {"quarter": 4, "month": 12, "year": 1}
#: A published run counts as under the frontier when at most this many orders of magnitude
#: above its p95 (the run's own estimate is uncertain by about a factor 2: OpenAI aimed at 2-3x).
CEILING_TOLERANCE_OOM = 0.3
#: The frontier's median is "near" an era's runs when within this many orders of magnitude
#: of the largest published run up to each point of the era (median over the era's points).
LEVEL_TOLERANCE_OOM = 1.0


@dataclass(frozen=True)
class Figure:
    """A headline figure: its key in the summary, how people read it, and the published value
    the draws are placed against (OpenAI's "AI and Compute", 2018, and its 2019 addendum;
    Epoch AI). Every surface (terminal, report, README, figures) names the figures from here."""

    key: str
    label: str
    unit: str  # printed after the number
    published: str  # the published figure as people quote it ("": none of its own)
    value: float  # the published value (its percentile in the draws)
    source: str


FIGURES = (
    Figure("modern_doubling_months", "doubling time 2012-2018 (AlexNet to AlphaZero)", " months", "3.4 months", 3.43,
           "Amodei & Hernandez 2018, 'AI and Compute': 3.4-month doubling (fit 3.43)"),
    Figure("first_era_doubling_months", "doubling time 1959-2012", " months", "about 2 years", 24.0,
           "Amodei & Hernandez 2018 (2019 addendum): about two years before 2012"),
    Figure("post_2018_growth_per_year", "growth after 2018", "x a year", "4-5x a year (Epoch AI)", 4.5,
           "Sevilla & Roldan 2024 (Epoch AI): training compute of frontier models grows 4-5x a year"),
    Figure("alexnet_to_alphago_zero_growth", "growth AlexNet to AlphaGo Zero", "x", ">300,000x", 3.0e5,
           "Amodei & Hernandez 2018: more than 300,000x from AlexNet to AlphaGo Zero"),
    Figure("alexnet_to_alphago_zero_growth_from_rate", "the same from the fitted rate", "x", "", 3.0e5,
           "Amodei & Hernandez 2018: more than 300,000x from AlexNet to AlphaGo Zero"),
)
#: The figures the draws and the sensitivity are about (the last restates one of them).
HEADLINE = tuple(f.key for f in FIGURES[:4])
PUBLISHED = {f.key: (f.value, f.source) for f in FIGURES[:4]}


def _point(system_id: str) -> Published:
    return next(p for p in published() if p.run_id == system_id)


@cache
def windows() -> dict[str, tuple[date, date, str]]:
    """The published fits' windows: (start, end exclusive, grid step)."""
    return {
        "first_era": (date(1959, 1, 1), date(2012, 1, 1), "year"),
        "modern": (_point(ALEXNET).at, _point(ALPHAZERO).at + timedelta(days=1), "quarter"),
        "post_2018": (date(2018, 1, 1), DATA_END + timedelta(days=1), "year"),
    }


def _grid(start: date, end: date, step: str) -> list[date]:
    """The window's grid dates, with its first and last day (the published runs that bound it)."""
    last = end - timedelta(days=1)
    return sorted({start, last, *(d for d in date_grid(start, end, step) if d < end)})


def headline(config: FrontierConfig, util: Utilization, series: bool = False) -> dict[str, float]:
    """The headline figures of one config (the caller withholds the runs' facts), and with
    `series` the frontier at each grid date ("series:<iso date>")."""
    out: dict[str, float] = {}
    for era, (a, b, step) in windows().items():
        runs = [r for r in frontier_series(config, _grid(a, b, step), relax=False, util=util) if r.feasible]
        fit = fit_doubling([r.at for r in runs], [r.flop for r in runs], a, b, n_boot=0)
        out[f"{era}_doubling_months"] = math.nan if fit is None else fit.doubling_months
        if series:
            out.update({f"series:{r.at.isoformat()}": r.flop for r in runs})
    post = out["post_2018_doubling_months"]
    out["post_2018_growth_per_year"] = 2 ** (12 / post) if post and math.isfinite(post) and post > 0 else math.nan
    first, last = (solve(_point(k).at, config, util, relax=False) for k in (ALEXNET, ALPHAGO_ZERO))
    out["alexnet_to_alphago_zero_growth"] = last.flop / first.flop if first.feasible and last.feasible else math.nan
    months = (years(_point(ALPHAGO_ZERO).at) - years(_point(ALEXNET).at)) * 12
    m = out["modern_doubling_months"]
    out["alexnet_to_alphago_zero_growth_from_rate"] = 2 ** (months / m) if m and math.isfinite(m) and m > 0 else math.nan
    return out


def ceilings(config: FrontierConfig, util: Utilization) -> dict[str, float]:
    """The frontier at each scored run's date, solved without that run's facts ("at:<file>:<run>")."""
    out, seen = {}, {}
    for p in scored_points():
        key = (p.at, p.run_id)
        if key not in seen:
            run = solve(p.at, config.withholding({p.run_id}), util, relax=False)
            seen[key] = run.flop if run.feasible else math.nan
        out[f"at:{p.key}"] = seen[key]
    return out


GAPS_CSV = "ceiling_gaps.csv"


@cache
def ceiling_gaps() -> dict[str, str]:
    """file:run_id -> the input or mechanism whose absence leaves the run above the frontier
    (catalog/ceiling_gaps.csv): a run above the ceiling is named, never removed."""
    from simulator.catalog.eras import catalog_rows

    return {f"{r['file']}:{r['run_id']}": r["missing"] for r in catalog_rows(GAPS_CSV, keyed=False)}


def published_refits() -> dict[str, float | None]:
    """The same fits on the published points (ai_and_compute.csv) over the same windows."""
    out = {}
    for era, (a, b, _) in windows().items():
        pts = [p for p in published() if (date(1950, 1, 1) if era == "first_era" else a) <= p.at < b]
        fit = fit_doubling([p.at for p in pts], [p.flop for p in pts], date(1950, 1, 1) if era == "first_era" else a,
                           b, n_boot=0)
        out[f"{era}_doubling_months"] = None if fit is None else fit.doubling_months
    return out


_UTIL: list[Utilization] = []


def evaluate(config: FrontierConfig, kind: str = "draw") -> dict[str, float]:
    """The figures of one config: the headline (every scored run withheld) and, for a
    draw, the frontier series and the ceilings (each run withheld at its own date); for
    a one-input move (the sensitivity) the headline only. Module-level, so worker
    processes can run it."""
    if not _UTIL:
        _UTIL.append(Utilization(default_efficiency()))
    util = _UTIL[0]
    if kind != "draw":
        return headline(config.withholding(scored_runs()), util)
    return {**headline(config.withholding(scored_runs()), util, series=True), **ceilings(config, util)}


@dataclass(frozen=True)
class Reproduction:
    runs: list[Run]  # the frontier with every scored run's facts withheld, at the median inputs
    frame: pd.DataFrame
    figures: dict[str, float]  # at the median inputs (withheld)
    with_facts: dict[str, float]  # the same, reading every fact
    draws: list[dict[str, float]] = field(default_factory=list)  # the quantiles of each draw
    drawn: list[dict[str, float]] = field(default_factory=list)  # the figures of each draw
    swings: dict[str, list[Swing]] = field(default_factory=dict)
    samples: int = 0
    seed: int = 0

    def distribution(self, key: str) -> list[float]:
        return [d.get(key, math.nan) for d in self.drawn] or [self.figures.get(key, math.nan)]

    def ceiling(self) -> list[dict]:
        """Per published run: its date, FLOP, the frontier's p95 at its date (its facts withheld),
        and for a run above it the missing input catalog/ceiling_gaps.csv names."""
        rows = []
        gaps = ceiling_gaps()
        for p in scored_points():
            b = band(self.distribution(f"at:{p.key}"))
            p95 = None if b is None else b[2]
            ratio = None if not p95 else p95 / p.flop
            rows.append({"run": p.run_id, "system": p.system, "file": p.file, "date": p.at.isoformat(),
                         "published_flop": p.flop, "frontier_median": None if b is None else b[0],
                         "frontier_p95": p95, "ratio": ratio,
                         "under": ratio is not None and math.log10(ratio) >= -CEILING_TOLERANCE_OOM,
                         "missing": gaps.get(p.key, "")})
        return rows

    def era_levels(self) -> dict[str, dict]:
        """Per era: the median over its published points of log10(frontier median at the point /
        the largest published run up to it in the era)."""
        out = {}
        for era, (a, b, _) in windows().items():
            pts = sorted((p for p in scored_points() if a <= p.at < b), key=lambda p: p.at)
            gaps, best = [], 0.0
            for p in pts:
                best = max(best, p.flop)
                med = band(self.distribution(f"at:{p.key}"))
                if med is not None and med[0] > 0:
                    gaps.append(math.log10(med[0] / best))
            out[era] = {"points": len(gaps), "median_oom": float(np.median(gaps)) if gaps else None,
                        "within": bool(gaps) and abs(float(np.median(gaps))) <= LEVEL_TOLERANCE_OOM}
        return out

    def summary(self) -> dict:
        s: dict = {"samples": self.samples, "seed": self.seed,
                   "withheld": "every scored run's facts (catalog/runfacts.py); the ceiling withholds each run's own",
                   "interval": f"5th-95th percentile over {self.samples} joint draws of catalog/uncertainty.csv"}
        for f in FIGURES:
            key = f.key
            b = band(self.distribution(key))
            s[f"{key}_median"] = None if b is None else b[0]
            s[f"{key}_band"] = None if b is None else [b[1], b[2]]
            s[f"{key}_published_percentile"] = percentile_of(f.value, self.distribution(key))
            s[f"{key}_at_median_inputs"] = self.figures.get(key)
            s[f"{key}_with_facts"] = self.with_facts.get(key)
        s["published"] = {k: {"value": v, "source": src} for k, (v, src) in PUBLISHED.items()}
        s["published_refit"] = published_refits()
        pts = {p.run_id: p for p in published()}
        s["published_growth_of_points"] = pts[ALPHAGO_ZERO].flop / pts[ALEXNET].flop
        s["moore_growth_same_span"] = moore_growth(_point(ALEXNET).at, _point(ALPHAGO_ZERO).at)
        s["sensitivity"] = {f: [{"input": w.key, "low_value": w.low_value, "high_value": w.high_value,
                                 "figure_at_low": w.low, "figure_at_high": w.high, "effect_oom": w.effect}
                                for w in ws[:10]] for f, ws in self.swings.items()}
        s["ceiling"] = self.ceiling()
        s["points_above_ceiling"] = [c["run"] for c in s["ceiling"] if not c["under"]]
        s["era_levels"] = self.era_levels()
        s["falls"] = {r.at.isoformat(): r.fall_reason for r in self.runs if r.fall_reason}
        s["binding_by_era"] = self.binding_by_era()
        s["windows"] = {k: [a.isoformat(), b.isoformat(), step] for k, (a, b, step) in windows().items()}
        return s

    def draws_frame(self) -> pd.DataFrame:
        """One row per draw: its inputs and its headline figures."""
        inputs = uncertain_inputs()
        rows = [{**{f"input:{k}": inputs[k].quantile(z) for k, z in values.items()},
                 **{f.key: figs.get(f.key) for f in FIGURES}}
                for values, figs in zip(self.draws, self.drawn)]
        return pd.DataFrame(rows)

    def ceiling_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.ceiling())

    def sensitivity_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"figure": f, "rank": i + 1, "input": w.key, "low_value": w.low_value,
                              "high_value": w.high_value, "figure_at_low": w.low, "figure_at_high": w.high,
                              "figure_at_median_inputs": w.median, "effect_oom": w.effect}
                             for f, ws in self.swings.items() for i, w in enumerate(ws)])

    def binding_by_era(self) -> dict[str, dict[str, float]]:
        """Share of the era's dates bound first by each constraint (median inputs), over the
        dates whose constraints were relaxed (RELAX_EVERY)."""
        out = {}
        gains = [c for c in self.frame.columns if c.startswith("gain_2x_")]
        relaxed = self.frame[gains].notna().any(axis=1) if gains else True
        ok = self.frame[self.frame.feasible & relaxed]
        when = pd.to_datetime(ok["date"]).dt.date
        for era, (a, b, _) in windows().items():
            part = ok[(when >= a) & (when < b)]
            counts = part["primary_binding"].replace("", "none").value_counts(normalize=True)
            out[era] = {str(k): round(float(v), 3) for k, v in counts.items()}
        return out


def reproduce(config: FrontierConfig | None = None, start: date | str = "1959", end: date | str | None = None,
              step: str = "quarter", samples: int = DEFAULT_SAMPLES, seed: int = 0, workers: int = 1,
              progress=None) -> Reproduction:
    """Solve the withheld frontier on the grid (with binding constraints), its headline
    figures at the median inputs and with every fact, then `samples` joint draws of the
    uncertain inputs and the one-at-a-time sensitivity. `progress(stage, done, total)`.

    The defaults are `simulator reproduce`'s: the built-in baseline (`config` None), 1959
    to `DATA_END`; dates may be text ('YYYY[-MM[-DD]]').

    >>> rep = reproduce(start="2012", end="2013", step="year", samples=0)
    >>> [r.at.isoformat() for r in rep.runs], rep.runs[0].feasible
    (['2012-01-01', '2013-01-01'], True)
    """
    from simulator.core.units import partial_date
    from simulator.frontier.config import load_frontier

    config = load_frontier() if config is None else config
    start, end = partial_date(start), DATA_END if end is None else partial_date(end)
    if end < start:
        raise ValueError(f"end {end}: before the start {start}")
    if not _UTIL:  # the one cache of this process, which forked workers inherit warm
        _UTIL.append(Utilization(default_efficiency()))
    util = _UTIL[0]
    withheld = config.withholding(scored_runs())

    def tick(stage):
        return None if progress is None else (lambda d, n: progress(stage, d, n))

    runs = frontier_series(withheld, date_grid(start, end, step), progress=tick("the frontier"), util=util,
                           relax_every=RELAX_EVERY.get(step, 1), moe=True)
    frame = to_frame(runs)
    figures = {**headline(withheld, util, series=True), **ceilings(config, util)}
    with_facts = headline(config, util)
    values = draw_quantiles(samples, seed) if samples else []
    tasks = [("draw", v) for v in values] + (swing_values() if samples else [])
    results = evaluate_many(config, evaluate, tasks, workers, tick("input draws and sensitivity"))
    drawn, moved = results[:len(values)], results[len(values):]
    return Reproduction(runs, frame, figures, with_facts, values, drawn,
                        swings(moved, figures, list(HEADLINE)) if samples else {}, samples, seed)
