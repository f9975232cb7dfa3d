"""Uncertain inputs of the frontier: each with a range, a distribution and a source.

catalog/uncertainty.csv has one row per input the frontier's rules read by key
(`FrontierConfig.input(key)`): its median is the value used when nothing is drawn, and
`reproduce --samples N` draws every row jointly (trend/uncertainty.py). Columns:

- low, median, high: the published range; `interval` says which quantiles low and high
  are: "p10-p90", "p5-p95" (a 90% interval), "p2.5-p97.5" (95%) or "range" (the bounds of
  a uniform draw);
- distribution: "lognormal" (two-piece, through low, median and high: a ratio quantity),
  "normal" (two-piece, additive: a shift in days or a difference), "uniform" (between low
  and high) or "fixed" (no range is published: held at the median and listed so the
  table of what is and is not drawn is complete);
- run_fact_of: the runs a row is a fact of (catalog/runfacts.py).

`quantile(row, z)` maps a standard-normal quantile z to the value (uniform rows through
the normal CDF), so joint draws and one-at-a-time sensitivities share one mapping.
Nothing is read at import time.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from statistics import NormalDist

import numpy as np

from simulator.catalog.runfacts import parse_run_facts, scored_runs

UNCERTAINTY_CSV = "uncertainty.csv"
#: z of the upper quantile named by each interval kind
INTERVAL_Z = {"p10-p90": NormalDist().inv_cdf(0.9), "p5-p95": NormalDist().inv_cdf(0.95),
              "p2.5-p97.5": NormalDist().inv_cdf(0.975)}
DISTRIBUTIONS = ("lognormal", "normal", "uniform", "fixed")


def two_piece_lognormal(z, low: float, median: float, high: float, k: float):
    """The value at standard-normal quantile(s) z of a two-piece lognormal through `low`,
    `median` and `high`, the quantiles at -k and +k (scalar or numpy array)."""
    s_lo, s_hi = math.log(median / low) / k, math.log(high / median) / k
    if isinstance(z, np.ndarray):
        return median * np.exp(np.where(z < 0, s_lo * z, s_hi * z))
    return median * math.exp((s_lo if z < 0 else s_hi) * z)


@dataclass(frozen=True)
class UncertainInput:
    key: str
    quantity: str
    unit: str
    low: float | None
    median: float
    high: float | None
    interval: str
    distribution: str
    source: str
    verification: str
    run_fact_of: frozenset[str]
    notes: str
    withheld: UncertainInput | None = None  # the range to use when the row's runs are withheld

    def seen(self, withhold: frozenset[str]) -> UncertainInput:
        """The row as a frontier scoring the runs in `withhold` may read it: its alternative
        (columns withheld_*) when it is a fact of one of them (a fact of a run that is never
        scored has none and stays)."""
        if self.withheld is not None and self.run_fact_of & withhold:
            return self.withheld
        return self

    @property
    def drawn(self) -> bool:
        """Whether the input is drawn (not fixed at its median)."""
        return self.distribution != "fixed"

    def quantile(self, z: float) -> float:
        """The value at standard-normal quantile z (module doc)."""
        lo, mid, hi = self.low, self.median, self.high
        if not self.drawn:
            return mid
        if self.distribution == "uniform":
            return lo + (hi - lo) * NormalDist().cdf(z)
        k = INTERVAL_Z[self.interval]
        if self.distribution == "lognormal":
            return two_piece_lognormal(z, lo, mid, hi, k)
        s = (mid - lo) / k if z < 0 else (hi - mid) / k
        return mid + s * z


def _num(r: dict, col: str, key: str, required: bool) -> float | None:
    v = r.get(col, "")
    if not v:
        if required:
            raise ValueError(f"{UNCERTAINTY_CSV}: key={key!r}: column {col!r}: empty")
        return None
    try:
        x = float(v)
    except ValueError:
        x = math.nan
    if not math.isfinite(x):
        raise ValueError(f"{UNCERTAINTY_CSV}: key={key!r}: column {col!r}: not a number: {v!r}")
    return x


def parse_uncertain(text: str, name: str = UNCERTAINTY_CSV) -> dict[str, UncertainInput]:
    """The uncertain inputs of an uncertainty.csv text by key; ValueError naming the file, key, column and value."""
    out: dict[str, UncertainInput] = {}
    for r in csv.DictReader(io.StringIO(text)):
        r = {k: (v or "").strip() for k, v in r.items()}
        key = r.get("key", "")
        if not key or key in out:
            raise ValueError(f"{name}: key={key!r}: empty or duplicate key")
        if not r.get("source"):
            raise ValueError(f"{name}: key={key!r}: column 'source': empty")
        dist = r.get("distribution", "")
        if dist not in DISTRIBUTIONS:
            raise ValueError(f"{name}: key={key!r}: column 'distribution': {dist!r} not one of {', '.join(DISTRIBUTIONS)}")
        drawn = dist != "fixed"
        low, mid, high = (_num(r, c, key, drawn or c == "median") for c in ("low", "median", "high"))
        interval = r.get("interval", "")
        if drawn:
            if dist == "uniform" and interval != "range":
                raise ValueError(f"{name}: key={key!r}: column 'interval': a uniform row needs 'range'")
            if dist != "uniform" and interval not in INTERVAL_Z:
                raise ValueError(f"{name}: key={key!r}: column 'interval': {interval!r} not one of "
                                 f"{', '.join(INTERVAL_Z)}")
            if not low <= mid <= high or (dist == "lognormal" and not low > 0):
                raise ValueError(f"{name}: key={key!r}: needs low <= median <= high (and low > 0 for lognormal): "
                                 f"{low}, {mid}, {high}")
        facts = parse_run_facts(r.get("run_fact_of", ""), f"{name}: key={key!r}")
        alt = None
        if r.get("withheld_source"):  # the same columns, prefixed withheld_, for the range without those runs
            sub = {c: r.get(f"withheld_{c}", "") for c in ("low", "median", "high", "interval", "distribution", "source")}
            sub.update(key=f"{key} (withheld)", quantity=r.get("quantity", ""), unit=r.get("unit", ""),
                       verification=r.get("verification", ""), notes="")
            alt = next(iter(_rows_of([sub], name).values()))
        elif facts & scored_runs():
            raise ValueError(f"{name}: key={key!r}: a fact of a scored run needs withheld_* columns (its range "
                             "without that run)")
        out[key] = UncertainInput(key, r.get("quantity", ""), r.get("unit", ""), low, mid, high, interval, dist,
                                  r["source"], r.get("verification", ""), facts, r.get("notes", ""), alt)
    return out


def _rows_of(rows: list[dict], name: str) -> dict[str, UncertainInput]:
    buf = io.StringIO()
    w = csv.DictWriter(buf, list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    return parse_uncertain(buf.getvalue(), name)


@cache
def uncertain_inputs() -> dict[str, UncertainInput]:
    """Every row of uncertainty.csv by key (drawn or fixed)."""
    return parse_uncertain(files("simulator.catalog").joinpath(UNCERTAINTY_CSV).read_text(encoding="utf-8"))


def uncertain_row(key: str) -> UncertainInput:
    """The row of an uncertain input; KeyError naming the file if absent."""
    try:
        return uncertain_inputs()[key]
    except KeyError:
        raise KeyError(f"{UNCERTAINTY_CSV}: no row {key!r} (every uncertain input the rules read needs one)") from None
