"""Draws of a projection input with a published range (projection_parameters.csv): a
two-piece lognormal through its p10, median and p90 (or through a 95% interval), the
same mapping as the reproduction's uncertain inputs (catalog/uncertain.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.catalog.uncertain import INTERVAL_Z, two_piece_lognormal


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
        return two_piece_lognormal(z, lo, mid, hi, INTERVAL_Z["p2.5-p97.5" if self.ci95 else "p10-p90"])

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.at(rng.standard_normal(n))
