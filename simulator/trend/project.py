"""Project the frontier forward: the frontier solver run at future dates on drawn inputs.

The start year's row is the simulated frontier at mid-year (the history's market). For
each later year, each sample's market (frontier/projected.py: the roadmap's and then the
trend's device, its price and power; budget, site power, sites, chips and run length
grown at the sample's rates) goes through the same solver as the history: it sizes the
model, finds the layout (so utilization falls where the critical batch and the latency
of tensor and pipeline communication bind), spreads the run over sites where a site's
power limits it and the scenario allows more, and for the first `bind_samples` samples
finds each constraint's own ceiling (frontier/ceilings.py: the lowest binds; the rest give
the FLOP distribution). Each sample also draws its batch law, failure inputs and the
recovery time of runs starting after the newest published recovery (`sample_configs`:
the last published level as the median, the fastest and slowest published times as the
95% interval; catalog/recovery_times.csv). Nothing is extrapolated from the simulated trend: the trend is the
output.

Draws: catalog/projection_parameters.csv rows (Sevilla et al. 2024, Cottier et al. 2024,
Hobbhahn et al. 2023, Gholami et al. 2024, Ho et al. 2024), each a two-piece lognormal
through p10 / median / p90 (or a 95% interval where the row says so). The hardware rates
(FLOP/s, memory, memory bandwidth, link bandwidth) share one quantile per sample, taken
from `strata` equal-probability strata (their conditional medians): chips of one
generation improve together, and a few distinct devices let the layout searches be
shared between samples; the bandwidth between sites likewise. Everything else is drawn
per sample. The seed fixes every draw. Projected years train the start run's workload
family (the largest by orders of magnitude since 2018), or, where the scenario lists several
sized families (dense and mixture of experts), one drawn per sample; at a sequence length
drawn per sample among the published pre-training lengths of frontier-scale models
(catalog/pretraining_lengths.csv).
"""

from __future__ import annotations

import csv
import io
import math
import multiprocessing
import warnings
from concurrent.futures import as_completed
from dataclasses import dataclass, field, fields, replace
from datetime import date
from importlib.resources import files
from statistics import NormalDist

import numpy as np
import pandas as pd

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.lengths import pretraining_lengths
from simulator.core.pool import process_pool
from simulator.costs.batch import batch_laws
from simulator.frontier.actors import actors
from simulator.frontier.ceilings import CEILING_CONSTRAINTS, solve_ceilings
from simulator.frontier.config import FrontierConfig
from simulator.frontier.duration import DAYS_PER_YEAR
from simulator.frontier.market import ActorMarket
from simulator.frontier.projected import ProjectedMarket, Rates
from simulator.frontier.solver import PROJECTION_CONSTRAINTS, Run, solve
from simulator.frontier.utilization import Utilization
from simulator.frontier.workloads import families_at
from simulator.trend.draws import Param
from simulator.trend.uncertainty import Z_CLIP

PARAMS_CSV = "projection_parameters.csv"
GDP_SHARE_CAP = 0.01  # Cottier et al. 2023: $233B = 1% of US GDP (2021), projection_parameters.csv us_gdp_2021
STRATA = 5
#: Samples solved with each constraint's own ceiling (the binding shares and ceilings): seven more
#: solves per year, each on a market relaxed 100-fold (about 1.8 s of two cores per sample to 2040).
#: 32 give each share within 9 points (one standard error at 50%) and keep 1000 samples to 2040
#: near two minutes; `--bind-samples 200` (the README's table) gives 3.5 points in about 7 minutes.
BIND_SAMPLES = 32
#: More samples than this are refused before any work (each keeps a run per year in memory;
#: 100,000 to 2040 hold about 1.4 million runs).
MAX_SAMPLES = 100_000
#: The failure inputs drawn per sample from their sourced ranges (catalog/uncertainty.csv).
FAILURE_INPUTS = ("restart_s", "device_hours_per_failure")
#: The projection parameter of the recovery time after the newest published one (per sample).
RECOVERY_PARAM = "recovery_time_after_series"


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


HARDWARE = {"flops_growth": "gpu_flops_growth", "memory_growth": "memory_capacity_growth",
            "memory_bandwidth_growth": "hbm_bandwidth_growth", "link_growth": "interconnect_bandwidth_growth"}
PER_SAMPLE = {"spend_growth": "training_spend_growth", "flops_per_watt_growth": "flops_per_watt_growth",
              "campus_power_2030_w": "single_campus_power_2030", "distributed_power_2030_w": "distributed_us_power_2030",
              "stock_end_2023": "gpu_stock_end_2023", "production_2024": "gpu_production_2024",
              "production_growth": "gpu_production_growth", "supply_share": "share_of_supply_for_largest_run"}


def draw_rates(samples: int, seed: int, params: dict[str, Param] | None = None,
               strata: int = STRATA) -> tuple[list[Rates], np.ndarray]:
    """(rates of each sample, algorithmic halving time of each sample in months)."""
    p = params or projection_parameters()
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, strata, samples)
    levels = np.array([NormalDist().inv_cdf((k + 0.5) / strata) for k in range(strata)])
    z_hw = levels[stratum]
    hw = {f: p[k].at(z_hw) for f, k in HARDWARE.items()}
    each = {f: p[k].sample(rng, samples) for f, k in PER_SAMPLE.items()}
    halving = p["algorithmic_efficiency_halving"].sample(rng, samples)
    fixed = {"price_performance_ooms": p["hardware_price_performance_growth"].median,
             "budget_cap_usd": GDP_SHARE_CAP * p["us_gdp_2021"].median,
             "site_distance_km": p["inter_site_distance"].median}
    link = p["inter_site_bandwidth_per_site"].at(levels[rng.integers(0, strata, samples)])
    # the run length each sample's actor chooses: L = 1 / (g_H + g_S + g_I) (frontier/duration.py)
    rate = (fixed["price_performance_ooms"] * math.log(10) + math.log(2) / (halving / 12)
            + np.log(each["spend_growth"]))
    run_length = DAYS_PER_YEAR / rate
    rates = [Rates(**{f: float(v[i]) for f, v in hw.items()}, **{f: float(v[i]) for f, v in each.items()},
                   **fixed, site_link_bytes_per_s=float(link[i]), hardware_stratum=int(stratum[i]),
                   run_length_days=float(run_length[i])) for i in range(samples)]
    return rates, halving


@dataclass(frozen=True)
class Projection:
    years: np.ndarray
    runs: list[list[Run]]  # samples x years (the start year's run is the same for every sample)
    halving_months: np.ndarray  # per sample
    start: Run
    seed: int
    bind_samples: int  # the first samples, solved with each constraint's own ceiling
    laws: tuple[str, ...] = ()  # the batch law of each sample (catalog/batch_laws.csv)
    inputs: dict = field(default_factory=dict)  # drawn input -> its value in each sample (`sensitivity`)
    families: tuple[str, ...] = ()  # the model family of each sample (workloads.toml)
    seq_lens: tuple[int, ...] = ()  # the sequence length of each sample (catalog/pretraining_lengths.csv)

    @property
    def choices(self) -> dict[str, tuple]:
        """The inputs drawn among a few published choices, per sample (read by their choices)."""
        return {"batch_law": self.laws, "model_family": self.families, "seq_len": self.seq_lens}

    def array(self, field: str) -> np.ndarray:
        return np.array([[getattr(r, field) if r.feasible else math.nan for r in row] for row in self.runs], float)

    def binds(self, constraint: str) -> np.ndarray:
        """Whether `constraint` has the lowest ceiling (samples with ceilings x years; nan for a
        run without ceilings: the start year's, solved on the history's market)."""
        return np.array([[float(r.binding[:1] == (constraint,)) if r.ceilings else math.nan for r in row]
                         for row in self.runs[:self.bind_samples]], float)

    def primary(self) -> np.ndarray:
        return np.array([[r.binding[0] if r.binding and r.ceilings else "" for r in row]
                         for row in self.runs[:self.bind_samples]])

    def table(self) -> pd.DataFrame:
        flop = self.array("flop")
        q = np.nanpercentile(flop, [10, 50, 90], axis=0)
        t = self.years - self.years[0]
        mult = 2.0 ** (t[None, :] * 12 / self.halving_months[:, None])
        primary = self.primary()
        rows = {"year": self.years, "flop_p10": q[0], "flop_median": q[1], "flop_p90": q[2],
                "pfs_days_median": q[1] / 8.64e19, "mfu_median": np.nanmedian(self.array("mfu"), axis=0),
                "sites_median": np.nanmedian(self.array("sites"), axis=0),
                "devices_median": np.nanmedian(self.array("n_devices"), axis=0),
                "params_median": np.nanmedian(self.array("params"), axis=0),
                "cost_usd_median": np.nanmedian(self.array("cost_usd"), axis=0),
                "effective_flop_median": np.nanmedian(flop * mult, axis=0),
                "share_infeasible": np.isnan(flop).mean(axis=0),
                "primary_binding": [pd.Series(col).mode().iloc[0] for col in primary.T] if self.bind_samples
                else [""] * len(self.years)}
        with warnings.catch_warnings():  # the start year has no ceilings: its columns are nan
            warnings.simplefilter("ignore", RuntimeWarning)
            for c in CEILING_CONSTRAINTS:  # nan without samples solved with ceilings
                rows[f"ceiling_{c}_median"] = np.nanmedian(self.ceiling(c), axis=0) if self.bind_samples else np.nan
            for c in CEILING_CONSTRAINTS:
                rows[f"binding_share_{c}"] = np.nanmean(self.binds(c), axis=0) if self.bind_samples else np.nan
            rows["binding_margin_median"] = np.nanmedian(self.margins(), axis=0) if self.bind_samples else np.nan
        return pd.DataFrame(rows)

    def ceiling(self, constraint: str) -> np.ndarray:
        """Each constraint's own ceiling (samples with ceilings x years; nan where none was solved)."""
        return np.array([[r.ceilings.get(constraint, math.nan) for r in row] for row in self.runs[:self.bind_samples]],
                        float)

    def margins(self) -> np.ndarray:
        """The second-lowest ceiling over the lowest (how far the binding constraint is ahead)."""
        out = np.full((self.bind_samples, len(self.years)), math.nan)
        for i, row in enumerate(self.runs[:self.bind_samples]):
            for j, r in enumerate(row):
                c = sorted(v for v in r.ceilings.values() if v > 0)
                if len(c) > 1:
                    out[i, j] = c[1] / c[0]
        return out

    def sensitivity(self, year: int) -> list[dict]:
        """What widens the band of `year`: for each drawn input, the FLOP median of the samples in
        its top third over that of its bottom third (orders of magnitude); for an input drawn among
        a few choices (the batch law, the model family, the sequence length), the largest over the
        smallest median of its choices. Largest first. Read from the samples themselves (no extra
        solves): a rank of association, not a one-at-a-time swing."""
        j = list(self.years).index(year)
        flop = self.array("flop")[:, j]
        out = []
        for key, v in self.inputs.items():
            lo, hi = np.nanpercentile(v, [100 / 3, 200 / 3])
            a, b = np.nanmedian(flop[v <= lo]), np.nanmedian(flop[v >= hi])
            if a > 0 and b > 0:
                out.append({"input": key, "effect_oom": float(abs(np.log10(b / a))), "low_third_flop": float(a),
                            "high_third_flop": float(b)})
        for name, picks in self.choices.items():
            if len(set(picks)) < 2:
                continue
            picked = np.array(picks)
            med = {k: np.nanmedian(flop[picked == k]) for k in dict.fromkeys(picks)}
            lo, hi = min(med, key=med.get), max(med, key=med.get)
            out.append({"input": name, "effect_oom": float(np.log10(med[hi] / med[lo])),
                        "low_third_flop": float(med[lo]), "high_third_flop": float(med[hi]),
                        "note": f"{lo} to {hi}"})
        return sorted(out, key=lambda r: -r["effect_oom"])

    def by_law(self) -> pd.DataFrame:
        """The FLOP median of each year under each batch law (the samples that drew it)."""
        return self._by("law", self.laws)

    def by_family(self) -> pd.DataFrame:
        """The FLOP median of each year under each model family (the samples that drew it)."""
        return self._by("family", self.families)

    def _by(self, name: str, picks: tuple[str, ...]) -> pd.DataFrame:
        flop, picked = self.array("flop"), np.array(picks)
        rows = []
        for k in dict.fromkeys(picks):
            part = flop[picked == k]
            rows += [{name: k, "year": int(y), "samples": len(part), "flop_median": float(np.nanmedian(part[:, j]))}
                     for j, y in enumerate(self.years)]
        return pd.DataFrame(rows, columns=[name, "year", "samples", "flop_median"])

    def first_year_binding(self) -> dict[str, int | None]:
        """The first year each constraint binds in at least half of the samples."""
        t = self.table()
        return {c: next((int(y) for y, s in zip(t.year, t[f"binding_share_{c}"]) if s >= 0.5), None)
                for c in CEILING_CONSTRAINTS}


def start_date(year: int) -> date:
    return date(year, 7, 1)


_UTIL: Utilization | None = None  # one per worker process, kept across its chunks


def _chunk(job: tuple) -> list[tuple[int, list[Run]]]:
    """Solve the projected years of a chunk of samples (in a worker or inline)."""
    configs, at0, caps0, offer0, start, years, chunk, util, bind_samples, power0 = job
    global _UTIL
    if util is None:
        _UTIL = _UTIL or Utilization(default_efficiency())
        util = _UTIL
    out = []
    for i, rates in chunk:
        config = configs[i]
        market = ProjectedMarket(at0, caps0, offer0, config, rates, power0)
        out.append((i, [start] + [solve_ceilings(start_date(int(y)), config, util, market) if i < bind_samples
                                  else solve(start_date(int(y)), config, util, relax=False, market=market)
                                  for y in years[1:]]))
    return out


def project(config: FrontierConfig | None = None, start_year: int = 2026, to_year: int = 2040, samples: int = 1000,
            *, seed: int = 0, util: Utilization | None = None, params: dict[str, Param] | None = None, progress=None,
            start: Run | None = None, workers: int = 1, bind_samples: int = BIND_SAMPLES) -> Projection:
    """The largest run of each year from `start_year` (the simulated frontier) to `to_year`.

    The defaults are `simulator project`'s (the built-in baseline when `config` is None,
    2026 to 2040, 1000 samples, seed 0), in one process unless `workers` > 1. The first
    `bind_samples` samples (all when fewer) are solved with each constraint's own ceiling,
    which gives the binding shares; the others give the FLOP distribution only (ceilings
    cost seven more solves). `workers` > 1 solves chunks of samples in that many processes
    (the draws are made first, so the result does not depend on it); `progress(done,
    total)` after each chunk.

    >>> proj = project(to_year=2027, samples=2, bind_samples=1)
    >>> list(proj.table()["year"]), bool((proj.table()["flop_median"] > 0).all())
    ([2026, 2027], True)
    """
    if config is None:
        from simulator.frontier.config import load_frontier

        config = load_frontier()
    if to_year <= start_year:
        raise ValueError(f"--to {to_year}: must be after the start year {start_year}")
    at0 = start_date(start_year)
    util = util or Utilization(default_efficiency())
    start = start or solve(at0, config, util, constraints=PROJECTION_CONSTRAINTS)
    if not start.feasible:
        raise ValueError(f"the frontier at {at0} has no feasible run to start from: {start.reason}")
    # the projection grows the market of the start run's actor, from the start run's start
    caps0, offers, _ = ActorMarket(actors()[start.actor], start.caps.max_duration_days,
                                   start.duration_rule)(start.start, config)
    offer0 = next(o for o in offers if o.key == start.device)
    power0 = start.n_devices * (offer0.watts or 0.0) or None
    # the other families' largest runs are orders of magnitude smaller (reproduce's eras); where the
    # scenario lists several sized families, one is drawn per sample (model_families)
    fams = model_families(start, config)
    config = replace(config, families=(start.family,))
    rates, halving = draw_rates(samples, seed, params)
    configs, laws = sample_configs(config, samples, seed, params, families=fams)
    years = np.arange(start_year, to_year + 1)
    chunks = _chunks(rates, configs, workers, bind_samples)
    args = (at0, caps0, offer0, start, years)
    runs = _solve_chunks(chunks, configs, args, util, bind_samples, power0, workers, progress)
    return Projection(years, runs, halving, start, seed, min(bind_samples, samples), tuple(laws),
                      _drawn(rates, halving, configs), tuple(c.families[0] for c in configs),
                      tuple(int(c.seq_len) for c in configs))


def _solve_chunks(chunks: list[list], configs: list[FrontierConfig], args: tuple, util: Utilization,
                  bind_samples: int, power0, workers: int, progress) -> list[list[Run]]:
    """Each sample's runs, its chunks solved in this process (workers <= 1) or in `workers`
    spawned ones; `progress(done, total)` after each chunk."""
    samples = len(configs)
    runs: list[list[Run] | None] = [None] * samples
    done = 0

    def collect(part):
        nonlocal done
        for i, row in part:
            runs[i] = row
        done += len(part)
        if progress is not None:
            progress(done, samples)

    at0, caps0, offer0, start, years = args
    if workers <= 1:
        for c in chunks:
            collect(_chunk((configs, at0, caps0, offer0, start, years, c, util, bind_samples, power0)))
        return runs
    ctx = multiprocessing.get_context("spawn")
    with process_pool(workers, ctx) as pool:
        futures = [pool.submit(_chunk, ({i: configs[i] for i, _ in c}, at0, caps0, offer0, start, years, c, None,
                                        bind_samples, power0))
                   for c in chunks]
        for f in as_completed(futures):
            collect(f.result())
    return runs


def _chunks(rates: list[Rates], configs: list[FrontierConfig], workers: int, bind_samples: int) -> list[list]:
    """The samples (index, rates) in chunks for the workers: those with ceilings (the first
    bind_samples, seven times the work) strided over the chunks, so no worker gets them all; the
    others in runs of one hardware stratum and sequence length (the same devices and model shapes,
    so the layout searches a worker keeps across its chunks are reused)."""
    samples = len(rates)
    indexed = list(enumerate(rates))
    count = max(1, min(samples, max(workers, 1) * 32))
    bind = min(bind_samples, samples)
    rest = sorted(indexed[bind:], key=lambda ir: (ir[1].hardware_stratum, configs[ir[0]].seq_len, ir[0]))
    size = -(-len(rest) // count)
    chunks = [indexed[:bind][k::count] + rest[k * size:(k + 1) * size] for k in range(count)]
    return [c for c in chunks if c]


def _drawn(rates: list[Rates], halving, configs: list[FrontierConfig]) -> dict[str, np.ndarray]:
    """Each numeric input drawn per sample (those that vary), for the sensitivity."""
    drawn = {f.name: np.array([getattr(r, f.name) for r in rates], float) for f in fields(Rates)
             if f.name != "hardware_stratum" and len({getattr(r, f.name) for r in rates}) > 1}
    drawn["algorithmic_halving_months"] = np.asarray(halving, float)
    for k in FAILURE_INPUTS:
        drawn[k] = np.array([c.input(k) for c in configs], float)
    drawn[RECOVERY_PARAM] = np.array([c.projected_recovery_s for c in configs], float)
    return drawn


def model_families(start: Run, config: FrontierConfig) -> tuple[str, ...]:
    """The families a projected sample may train: where the scenario lists two or more sized
    families (`families`), those in force at the start, one drawn per sample with equal weights
    (structural uncertainty: no source gives the share of frontier runs that are mixtures of
    experts); else the start run's own (the largest in FLOP, as the history chooses: dense at
    the baseline's start, since a mixture of experts reaches a lower MFU; and about six times
    cheaper to solve)."""
    if config.families is None:
        return (start.family,)
    sized = tuple(f.key for f in families_at(start.start or start.at, config.withhold)
                  if f.sized and f.key in config.families)
    return sized if len(sized) > 1 and start.family in sized else (start.family,)


def sample_configs(config: FrontierConfig, samples: int, seed: int, params: dict[str, Param] | None = None,
                   families: tuple[str, ...] | None = None) -> tuple[list[FrontierConfig], list[str]]:
    """Each sample's config: its batch law, drawn with equal weights among catalog/batch_laws.csv
    (the scenario's batch_law where set: structural uncertainty, no law preferred), its
    failure inputs (FAILURE_INPUTS) drawn from their sourced ranges, the recovery time of
    runs starting after the newest published one (RECOVERY_PARAM: the last published level as
    its median, the fastest and slowest published times as its 95% interval; never a trend
    beyond the data: frontier/config.py `FrontierConfig.recovery`), its model family drawn
    with equal weights among `families` (None: the config's own) and its
    sequence length among the published pre-training lengths of frontier-scale models
    (catalog/pretraining_lengths.csv; the scenario's seq_len where set). A generator of its
    own, so the market draws stay those of `draw_rates`."""
    rng = np.random.default_rng([seed, 1])
    keys = list(batch_laws())
    picks = rng.integers(0, len(keys), samples)
    z = np.clip(rng.standard_normal((samples, len(FAILURE_INPUTS))), -Z_CLIP, Z_CLIP)
    # drawn after the others, so adding it left their draws as they were
    recovery = (params if params and RECOVERY_PARAM in params else projection_parameters())[RECOVERY_PARAM].at(
        np.clip(rng.standard_normal(samples), -Z_CLIP, Z_CLIP))
    laws = [config.batch_law or keys[k] for k in picks]
    # drawn after the others, so adding them left the draws above as they were
    options = [(f,) for f in families] if families else [config.families]
    lengths = sorted(x.seq_len for x in pretraining_lengths().values())
    fam = [options[k] for k in rng.integers(0, len(options), samples)]
    seq = [config.seq_len or lengths[k] for k in rng.integers(0, len(lengths), samples)]
    return [replace(config, batch_law=law, projected_recovery_s=float(recovery[i]), seq_len=seq[i],
                    families=fam[i]).with_quantiles(
        dict(zip(FAILURE_INPUTS, map(float, z[i])))) for i, law in enumerate(laws)], laws


EPOCH_2030_CSV = "epoch_2030_ceilings.csv"


def epoch_2030() -> dict[str, dict]:
    """Epoch AI's 2030 ceilings per constraint (catalog/epoch_2030_ceilings.csv): low, central and
    high FLOP where the report gives them, with the source; a comparison, never an input."""
    rows = csv.DictReader(io.StringIO(files("simulator.catalog").joinpath(EPOCH_2030_CSV).read_text(encoding="utf-8")))
    return {r["constraint"]: {k: float(r[k]) if r[k] else None for k in ("low_flop", "central_flop", "high_flop")}
            | {"source": r["source"]} for r in rows}

