"""Draws of an uncertain input with a published range: a two-piece lognormal through its
p10, median and p90 (or through a 95% interval), used by the projection
(projection_parameters.csv) and the intervals of reproduce (uncertainty.csv)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z10 = 1.2815515655446004  # standard normal 90th percentile
Z975 = 1.959963984540054


@dataclass(frozen=True)
class Param:
    name: str
    unit: str
    p10: float | None
    median: float | None
    p90: float | None
    source: str
    ci95: bool  # p10 / p90 columns hold a 95% interval (the row's notes say so)

    def at(self, z: np.ndarray | float) -> np.ndarray:
        """The value at standard-normal quantile z (two-piece lognormal through p10,
        median, p90; the median where only it is given)."""
        lo, mid, hi = self.p10, self.median, self.p90
        if mid is None:
            mid = math.sqrt(lo * hi)
        z = np.asarray(z, dtype=float)
        if lo is None or hi is None:
            return np.full(z.shape, mid)
        k = Z975 if self.ci95 else Z10
        s_lo, s_hi = math.log(mid / lo) / k, math.log(hi / mid) / k
        return mid * np.exp(np.where(z < 0, s_lo * z, s_hi * z))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.at(rng.standard_normal(n))
