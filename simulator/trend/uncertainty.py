"""Honest uncertainty: every uncertain input drawn jointly, and what each one moves.

Each row of catalog/uncertainty.csv with a range is drawn from its distribution
(catalog/uncertain.py) with one standard-normal quantile per draw and input (numpy's
default_rng(seed), quantiles clipped to +-3 so a two-piece lognormal stays finite); a
draw is a `FrontierConfig` with those values (`FrontierConfig.input`). The caller's
`evaluate(config)` maps a config to named figures (the doubling times, growths, the
frontier at each published run); `draw_figures` runs it over the draws, in worker
processes when asked, and `sensitivity` moves one input at a time to its 5th and 95th
percentile with the others at their medians (the tornado of each figure).
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from simulator.catalog.uncertain import uncertain_inputs
from simulator.frontier.config import FrontierConfig

Z_CLIP = 3.0
Z_P95 = 1.6448536269514722  # the 95th percentile of the standard normal


def drawn_keys() -> list[str]:
    """The uncertain inputs with a range, in file order."""
    return [k for k, u in uncertain_inputs().items() if u.drawn]


def draw_values(samples: int, seed: int) -> list[dict[str, float]]:
    """`samples` joint draws: {key: value} for every input with a range."""
    keys = drawn_keys()
    z = np.clip(np.random.default_rng(seed).standard_normal((samples, len(keys))), -Z_CLIP, Z_CLIP)
    inputs = uncertain_inputs()
    return [{k: inputs[k].quantile(float(z[i, j])) for j, k in enumerate(keys)} for i in range(samples)]


_STATE: dict = {}


def _init(evaluate, config) -> None:
    _STATE["evaluate"], _STATE["config"] = evaluate, config


def _one(values: dict[str, float]) -> dict[str, float]:
    return _STATE["evaluate"](_STATE["config"].with_draws(values))


def draw_figures(config: FrontierConfig, evaluate: Callable[[FrontierConfig], dict[str, float]], samples: int,
                 seed: int, workers: int = 1, progress=None) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """(draws, figures): the joint draws and `evaluate` of each (in order). `evaluate`
    must be a module-level function when workers > 1 (it is pickled)."""
    values = draw_values(samples, seed)
    out: list[dict[str, float]] = []
    if workers <= 1 or samples < 2:
        for i, v in enumerate(values):
            out.append(evaluate(config.with_draws(v)))
            if progress is not None:
                progress(i + 1, samples)
        return values, out
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init,
                             initargs=(evaluate, config)) as pool:
        for i, figs in enumerate(pool.map(_one, values, chunksize=max(1, samples // (4 * workers)))):
            out.append(figs)
            if progress is not None:
                progress(i + 1, samples)
    return values, out


@dataclass(frozen=True)
class Swing:
    """One input moved to its 5th and 95th percentile, the others at their medians."""

    key: str
    low_value: float
    high_value: float
    low: float  # the figure at the input's 5th percentile
    high: float  # ... at its 95th
    median: float  # ... with every input at its median

    @property
    def effect(self) -> float:
        """Orders of magnitude the figure moves over the input's 90% range (log10 of the
        larger of the two ratios to the median; nan when either end is missing)."""
        vals = [v for v in (self.low, self.high) if v is not None and math.isfinite(v) and v > 0]
        if len(vals) < 2 or not (self.median and math.isfinite(self.median) and self.median > 0):
            return math.nan
        return max(abs(math.log10(v / self.median)) for v in vals)


def sensitivity(config: FrontierConfig, evaluate: Callable[[FrontierConfig], dict[str, float]],
                base: dict[str, float], figures: list[str], progress=None) -> dict[str, list[Swing]]:
    """Per figure, every drawn input's swing, largest effect first."""
    inputs = uncertain_inputs()
    keys = drawn_keys()
    swings: dict[str, list[Swing]] = {f: [] for f in figures}
    for i, k in enumerate(keys):
        lo_v, hi_v = inputs[k].quantile(-Z_P95), inputs[k].quantile(Z_P95)
        lo, hi = evaluate(config.with_draws({k: lo_v})), evaluate(config.with_draws({k: hi_v}))
        for f in figures:
            swings[f].append(Swing(k, lo_v, hi_v, lo.get(f, math.nan), hi.get(f, math.nan), base.get(f, math.nan)))
        if progress is not None:
            progress(i + 1, len(keys))
    return {f: sorted(s, key=lambda w: -(w.effect if math.isfinite(w.effect) else -1)) for f, s in swings.items()}


def band(values: list[float], level: float = 0.9) -> tuple[float, float, float] | None:
    """(median, low, high) of the finite values: the 5th-95th percentile for level 0.9."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)])
    if not len(v):
        return None
    lo, mid, hi = np.percentile(v, [50 * (1 - level), 50, 50 * (1 + level)])
    return float(mid), float(lo), float(hi)


def percentile_of(value: float, values: list[float]) -> float | None:
    """Where `value` falls in the distribution of `values`: the percent of them at or below it."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)])
    if not len(v):
        return None
    return float(100.0 * np.mean(v <= value))
