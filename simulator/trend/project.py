"""Project the frontier forward under cost, power, supply and latency limits (Monte Carlo).

Start: the simulated frontier run at `start` (its budget, device, price, power and
device count). Each sample draws the growth parameters of catalog/projection_parameters.csv
(Sevilla et al. 2024, Cottier et al. 2024; two-piece lognormal through p10 / median / p90,
or through the 95% interval where the row says so), and each year t after `start`
the largest run is the smallest of four limits:

- budget:  B0 g^t (spending growth g), capped at 1% of US GDP (Cottier et al.'s $233B);
           device-hours = budget / price, price per device-hour falling as price-performance
           grows 10^(0.14 t) while FLOP/s per device grows f^t;
- power:   one site's power (1-5 GW in 2030, log-interpolated from the start run's power,
           held after 2030) / all-in watts per device (1.7 kW for an H100 in 2024, growing as
           f / (FLOP/W growth));
- supply:  share of the world's AI chips for one run x stock (H100-equivalents: end-2023
           stock plus production growing each year);
- latency: a compute-optimal model (D = 20 N, C = 6 N D; Hoffmann et al. 2022) must take
           D / B serial steps (B the achievable batch), each at least layers x 8 sequential
           matmuls x (kernel + collective latency); layers from GPT-3's aspect ratio
           d_model = 128 layers (Brown et al. 2020, Table 2.1), so
           N_max = (T B 196608^(1/3) / (20 t_layer))^(3/4), C = 120 N_max^2.

FLOP under each limit = devices x peak x MFU x duration (MFU and duration sampled).
Everything is vectorised over samples x years; the seed fixes the draws.
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

from simulator.frontier.solver import Run
from simulator.units import HOUR_S

PARAMS_CSV = "projection_parameters.csv"
LIMITS = ("budget", "power", "supply", "latency")
Z10 = 1.2815515655446004  # standard normal 90th percentile
Z975 = 1.959963984540054
H100_PEAK = 989.4e12  # dense BF16, accelerators.csv h100-sxm (the unit of "H100-equivalents")
H100_TDP_W = 700.0  # accelerators.csv h100-sxm
GDP_SHARE_CAP = 0.01  # Cottier et al. 2023: $233B = 1% of US GDP (2021), projection_parameters.csv us_gdp_2021
ASPECT = 128  # d_model / layers of GPT-3 175B: 12288 / 96 (Brown et al. 2020, Table 2.1)


@dataclass(frozen=True)
class Param:
    name: str
    unit: str
    p10: float | None
    median: float | None
    p90: float | None
    source: str
    ci95: bool  # p10 / p90 columns hold a 95% interval (the row's notes say so)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Two-piece lognormal through (p10, median, p90); a constant if only the median."""
        lo, mid, hi = self.p10, self.median, self.p90
        if mid is None:
            mid = math.sqrt(lo * hi)
        if lo is None or hi is None:
            return np.full(n, mid)
        z = Z975 if self.ci95 else Z10
        s_lo, s_hi = math.log(mid / lo) / z, math.log(hi / mid) / z
        e = rng.standard_normal(n)
        return mid * np.exp(np.where(e < 0, s_lo * e, s_hi * e))


def parse_params(text: str, name: str = PARAMS_CSV) -> dict[str, Param]:
    out = {}
    for i, r in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        def num(col, r=r, i=i):
            v = (r.get(col) or "").strip()
            try:
                x = float(v) if v else None
            except ValueError:
                x = math.nan
            if x is not None and not (math.isfinite(x) and x > 0):
                raise ValueError(f"{name}: line {i} ({r.get('parameter')!r}): column {col!r}: not a number > 0: {v!r}")
            return x

        if not (r.get("source") or "").strip():
            raise ValueError(f"{name}: line {i} ({r.get('parameter')!r}): column 'source': empty")
        p = Param(r["parameter"], r["unit"], num("p10"), num("median"), num("p90"), r["source"],
                  "95%" in (r.get("source", "") + r.get("notes", "")))
        if p.median is None and (p.p10 is None or p.p90 is None):
            raise ValueError(f"{name}: line {i} ({p.name!r}): needs a median or both p10 and p90")
        out[p.name] = p
    return out


def projection_parameters() -> dict[str, Param]:
    return parse_params(files("simulator.catalog").joinpath(PARAMS_CSV).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Projection:
    years: np.ndarray
    flop: np.ndarray  # samples x years
    cost_usd: np.ndarray
    binding: np.ndarray  # index into LIMITS
    effective_multiplier: np.ndarray  # algorithmic multiplier per year (relative to start)
    start: Run
    seed: int

    def table(self) -> pd.DataFrame:
        q = np.percentile(self.flop, [10, 50, 90], axis=0)
        rows = {"year": self.years, "flop_p10": q[0], "flop_median": q[1], "flop_p90": q[2],
                "pfs_days_median": q[1] / 8.64e19, "cost_usd_median": np.median(self.cost_usd, axis=0),
                "effective_flop_median": q[1] * self.effective_multiplier}
        for k, name in enumerate(LIMITS):
            rows[f"share_bound_by_{name}"] = (self.binding == k).mean(axis=0)
        return pd.DataFrame(rows)

    def first_year_binding(self) -> dict[str, int | None]:
        """The first year each limit binds in at least half of the samples."""
        t = self.table()
        return {name: next((int(y) for y, s in zip(t.year, t[f"share_bound_by_{name}"]) if s >= 0.5), None)
                for name in LIMITS}


def latency_flop(duration_s, batch_tokens, t_layer_s):
    """C = 120 N_max^2 with N_max = (T B 196608^(1/3) / (20 t_layer))^(3/4) (module doc)."""
    per_layer_params = 12 * ASPECT ** 2  # N = 12 L d^2 with d = 128 L  ->  N = 196608 L^3
    n_max = (duration_s * batch_tokens * per_layer_params ** (1 / 3) / (20 * t_layer_s)) ** 0.75
    return 120 * n_max ** 2


def project(start: Run, to_year: int, samples: int, seed: int, params: dict[str, Param] | None = None,
            halving_months: float | None = None, power_cap_w: float | None = None) -> Projection:
    """Sample the largest run of each year from start.at.year + 1 to `to_year`."""
    if not start.feasible or start.caps is None or start.caps.budget_usd is None:
        raise ValueError(f"the start run at {start.at} is not a budgeted feasible run: {start.reason}")
    p = params or projection_parameters()
    rng = np.random.default_rng(seed)
    years = np.arange(start.at.year + 1, to_year + 1)
    if len(years) == 0:
        raise ValueError(f"--to {to_year}: must be after the start year {start.at.year}")
    t = (years - start.at.year)[None, :].astype(float)
    draw = {k: p[k].sample(rng, samples)[:, None] for k in (
        "training_spend_growth", "gpu_flops_growth", "flops_per_watt_growth", "single_campus_power_2030",
        "gpu_stock_end_2023", "gpu_production_2024", "gpu_production_growth", "share_of_supply_for_largest_run",
        "training_run_duration", "model_flops_utilization", "achievable_batch_2024", "installed_watts_per_gpu")}
    peak = start.peak_flops_per_s * draw["gpu_flops_growth"] ** t
    mfu = np.clip(draw["model_flops_utilization"], 0.01, 0.95)
    dur = draw["training_run_duration"]
    # budget
    budget = np.minimum(start.caps.budget_usd * draw["training_spend_growth"] ** t, GDP_SHARE_CAP * p["us_gdp_2021"].median)
    ppg = p["hardware_price_performance_growth"].median
    price = start.price_usd_per_hour * draw["gpu_flops_growth"] ** t / 10 ** (ppg * t)
    flop_budget = budget / price * HOUR_S * peak * mfu
    # power
    tdp = start_tdp(start)
    watts = draw["installed_watts_per_gpu"] * tdp / H100_TDP_W * (draw["gpu_flops_growth"] / draw["flops_per_watt_growth"]) ** t
    p0 = start.n_devices * draw["installed_watts_per_gpu"] * tdp / H100_TDP_W
    frac = np.clip((years[None, :] - start.at.year) / max(2030 - start.at.year, 1), 0, 1)
    site = p0 * (draw["single_campus_power_2030"] / p0) ** frac
    if power_cap_w is not None:
        site = np.minimum(site, power_cap_w)
    flop_power = site / watts * peak * mfu * dur
    # supply (H100-equivalents)
    k = years[None, :] - 2024
    growth = draw["gpu_production_growth"]
    made = draw["gpu_production_2024"] * np.where(k >= 0, (growth ** (k + 1) - 1) / (growth - 1), 0.0)
    stock = draw["gpu_stock_end_2023"] + made
    flop_supply = draw["share_of_supply_for_largest_run"] * stock * H100_PEAK * mfu * dur
    # latency wall
    t_layer = p["matmuls_per_layer_fwd_bwd"].median * (p["matmul_kernel_latency"].median + p["base_collective_latency"].median
                                                       + 8 * p["nvlink_latency_per_rank"].median)
    flop_latency = latency_flop(dur, draw["achievable_batch_2024"], t_layer) * np.ones_like(peak)
    stack = np.stack([flop_budget, flop_power, flop_supply, flop_latency])
    binding = stack.argmin(axis=0)
    flop = stack.min(axis=0)
    cost = flop / (peak * mfu) / HOUR_S * price
    mult = np.ones(len(years)) if halving_months is None else 2 ** ((years - start.at.year) * 12 / halving_months)
    return Projection(years, flop, cost, binding, mult, start, seed)


def start_tdp(run: Run) -> float:
    from simulator.catalog.hardware import accelerators

    acc = accelerators().get(run.device)
    return acc.tdp_w if acc is not None and acc.tdp_w else H100_TDP_W


def start_date(year: int) -> date:
    return date(year, 7, 1)
