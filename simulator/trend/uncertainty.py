"""Honest uncertainty: every uncertain input drawn jointly, and what each one moves.

Each row of catalog/uncertainty.csv with a range is drawn from its distribution
(catalog/uncertain.py) with one standard-normal quantile per draw and input (numpy's
default_rng(seed), quantiles clipped to +-3 so a two-piece lognormal stays finite); a
draw is a `FrontierConfig` with those values (`FrontierConfig.input`). The caller's
`evaluate(config, kind)` maps a config to named figures (the doubling times, growths, the
frontier at each published run); `evaluate_many` runs it over the draws and over the
one-at-a-time moves of `swing_values` (each input to its 5th and 95th percentile with
the others at their medians: the tornado of each figure, `swings`), in worker
processes when asked.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulator.catalog.uncertain import INTERVAL_Z, uncertain_inputs
from simulator.core.pool import process_pool
from simulator.frontier.config import FrontierConfig

Z_CLIP = 3.0
Z_P95 = INTERVAL_Z["p5-p95"]  # the 95th percentile of the standard normal


def drawn_keys() -> list[str]:
    """The uncertain inputs with a range, in file order."""
    return [k for k, u in uncertain_inputs().items() if u.drawn]


def draw_quantiles(samples: int, seed: int) -> list[dict[str, float]]:
    """`samples` joint draws: {key: standard-normal quantile} for every input with a range
    (a config maps each through the input's range: `FrontierConfig.with_quantiles`)."""
    keys = drawn_keys()
    z = np.clip(np.random.default_rng(seed).standard_normal((samples, len(keys))), -Z_CLIP, Z_CLIP)
    return [{k: float(z[i, j]) for j, k in enumerate(keys)} for i in range(samples)]


def draw_values(samples: int, seed: int) -> list[dict[str, float]]:
    """The values of `draw_quantiles` through each input's own range (nothing withheld)."""
    inputs = uncertain_inputs()
    return [{k: inputs[k].quantile(z) for k, z in d.items()} for d in draw_quantiles(samples, seed)]


_STATE: dict = {}


def _init(evaluate, config) -> None:
    _STATE["evaluate"], _STATE["config"] = evaluate, config


def _one(task: tuple[str, dict[str, float]]) -> dict[str, float]:
    kind, z = task
    return _STATE["evaluate"](_STATE["config"].with_quantiles(z), kind)


def evaluate_many(config: FrontierConfig, evaluate: Callable[[FrontierConfig, str], dict[str, float]],
                  tasks: list[tuple[str, dict[str, float]]], workers: int = 1, progress=None) -> list[dict[str, float]]:
    """`evaluate(config with the task's quantiles, the task's kind)` for every task, in order,
    in `workers` processes (spawned; `evaluate` must be a module-level function)."""
    out: list[dict[str, float]] = []
    if workers <= 1 or len(tasks) < 2:
        for i, (kind, z) in enumerate(tasks):
            out.append(evaluate(config.with_quantiles(z), kind))
            if progress is not None:
                progress(i + 1, len(tasks))
        return out
    # fork where the platform has it: the workers start with the caches the main run warmed (the
    # layout searches of the frontier at the median inputs); spawn elsewhere
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    # one task at a time: a draw takes 0.3 to 10 s, so chunks of several left one worker idle at the end
    # (each task and its figures pickle in well under a millisecond)
    with process_pool(workers, ctx, _init, (evaluate, config)) as pool:
        for i, figs in enumerate(pool.map(_one, tasks)):
            out.append(figs)
            if progress is not None:
                progress(i + 1, len(tasks))
    return out


def swing_values() -> list[tuple[str, dict[str, float]]]:
    """For each drawn input, its 5th and then its 95th percentile (as quantiles; the others at
    their medians)."""
    out = []
    for k in drawn_keys():
        out += [(k, {k: -Z_P95}), (k, {k: Z_P95})]
    return out


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


def swings(results: list[dict[str, float]], base: dict[str, float], figures: list[str]) -> dict[str, list[Swing]]:
    """Per figure, every drawn input's swing from the results of `swing_values()` (in its
    order), largest effect first."""
    values, inputs = swing_values(), uncertain_inputs()
    out: dict[str, list[Swing]] = {f: [] for f in figures}
    for i in range(0, len(values), 2):
        key = values[i][0]
        lo_v, hi_v = inputs[key].quantile(-Z_P95), inputs[key].quantile(Z_P95)
        for f in figures:
            out[f].append(Swing(key, lo_v, hi_v, results[i].get(f, math.nan), results[i + 1].get(f, math.nan),
                                base.get(f, math.nan)))
    return {f: sorted(s, key=lambda w: -(w.effect if math.isfinite(w.effect) else -1)) for f, s in out.items()}


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
