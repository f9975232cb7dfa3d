"""Log-linear trend fits with bootstrap confidence intervals.

A compute series growing exponentially is a straight line in log2(FLOP) against time;
its slope s (doublings per year) gives the doubling time 12 / s months. Ordinary least
squares on the points of an era; the confidence interval resamples the points with
replacement (nonparametric bootstrap, Efron 1979) and takes percentiles of the doubling
time. Everything is vectorised over the bootstrap samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

#: Moore's law as OpenAI's "AI and Compute" compares it: a doubling about every two years.
MOORE_DOUBLING_MONTHS = 24.0


@dataclass(frozen=True)
class TrendFit:
    start: date
    end: date
    n: int
    slope_per_year: float  # doublings per year
    intercept: float  # log2 FLOP at year 0 of the proleptic calendar (x = ordinal / 365.25)
    doubling_months: float
    ci_low: float  # doubling months, lower percentile
    ci_high: float
    ci_level: float

    def log2_at(self, when: date) -> float:
        return self.intercept + self.slope_per_year * years(when)


def years(when: date) -> float:
    return when.toordinal() / 365.25


def _slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """OLS slopes of each row of x, y (2-D arrays of samples)."""
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    var = (xc * xc).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, (xc * yc).sum(axis=-1) / var, np.nan)


def fit_doubling(dates: list[date], flop: list[float], start: date, end: date, n_boot: int = 1000,
                 seed: int = 0, level: float = 0.9) -> TrendFit | None:
    """Fit log2(flop) against time on points with start <= date < end (None if < 3 points).

    The CI is the (1 - level)/2 and (1 + level)/2 percentiles of the doubling time over
    `n_boot` bootstrap resamples drawn with numpy's default_rng(seed); resamples with a
    non-positive slope (no growth) are dropped.
    """
    pts = [(years(d), float(np.log2(f))) for d, f in zip(dates, flop) if start <= d < end and f > 0]
    if len(pts) < 3:
        return None
    x, y = np.array(pts).T
    slope = float(_slopes(x[None], y[None])[0])
    intercept = float(y.mean() - slope * x.mean())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    boot = _slopes(x[idx], y[idx])
    boot = boot[np.isfinite(boot) & (boot > 0)]
    months = 12.0 / boot if len(boot) else np.array([np.nan])
    lo, hi = np.percentile(months, [50 * (1 - level), 50 * (1 + level)])
    return TrendFit(start, end, len(x), slope, intercept, 12.0 / slope if slope > 0 else float("inf"),
                    float(lo), float(hi), level)


def moore_growth(start: date, end: date, doubling_months: float = MOORE_DOUBLING_MONTHS) -> float:
    """Growth from `start` to `end` at a fixed doubling time."""
    return 2.0 ** ((years(end) - years(start)) * 12.0 / doubling_months)
