"""Algorithmic efficiency: less compute for the same result, and what that makes cost.

Data: simulator/catalog/algorithmic_efficiency.csv, copied from Hernandez & Brown 2020,
"Measuring the Algorithmic Efficiency of Neural Networks" (arXiv 2005.04305) and the
tables of their github.com/openai/ai-and-efficiency repository. Compute is in
teraflop/s-days as those tables state ("Compute (tfs-s/days)"): 1 tfs-day = 1e12 FLOP/s
x 86,400 s = 8.64e16 FLOP. The reduction column is the compute of the first entry of a
target over this entry's (AlexNet 3.1 tfs-days / EfficientNet 0.069 = 44x).

Hernandez & Brown (and the OpenAI post "AI and Efficiency", 2020-05-05) find 44x less
compute to reach AlexNet-level ImageNet accuracy in 2019 than in 2012, a halving every
16 months, against 11x from Moore's law (a 2-year doubling) over the same span.
This module refits that trend (least squares on log2 of the reduction, with a bootstrap
interval) and asks what an AlexNet-level run costs on the hardware of a given year.
Nothing is read at import time.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from importlib.resources import files

from simulator.catalog import eras
from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.hardware import accelerators
from simulator.catalog.models import find_model
from simulator.core.specs import Efficiency
from simulator.frontier.utilization import Query, Utilization
from simulator.trend.fit import fit_doubling, moore_growth, years

CSV_NAME = "algorithmic_efficiency.csv"
ALEXNET_TARGET = "AlexNet level (79.1% top-5)"
COLUMNS = ("benchmark", "target", "model", "compute_tfs_days", "reduction_vs_first", "date", "source")
FLOP_PER_TFS_DAY = 1e12 * 86_400  # teraflop/s-day, the unit of the source tables
PUBLISHED_SOURCE = ("Hernandez & Brown 2020, 'Measuring the Algorithmic Efficiency of Neural Networks' "
                    "(arXiv 2005.04305); OpenAI, 'AI and Efficiency' (2020-05-05): 44x less compute for "
                    "AlexNet-level ImageNet accuracy 2012-2019, halving every 16 months, Moore's law 11x")
PUBLISHED = {"reduction": 44, "halving_months": 16, "moore": 11, "source": PUBLISHED_SOURCE}


@dataclass(frozen=True)
class EffPoint:
    """One row of the efficiency table: `model` reached `target` with `compute_tfs_days`."""

    benchmark: str
    target: str
    model: str
    compute_tfs_days: float  # teraflop/s-days (1 = 8.64e16 FLOP)
    reduction: float  # compute of the target's first entry / this entry's compute
    date: date
    source: str


@dataclass(frozen=True)
class EfficiencyFit:
    """log2(reduction) = intercept + slope * years, fitted by least squares."""

    slope_per_year: float  # doublings of efficiency per year
    intercept: float
    halving_months: float  # months for the compute needed to halve: 12 / slope
    ci_months: tuple[float, float]  # bootstrap 90% interval of halving_months
    n_boot: int
    seed: int
    n_points: int
    first_date: date
    last_date: date
    span_years: float
    total_reduction: float  # last point's reduction / first point's (the published 44x)
    fitted_reduction: float  # 2 ** (slope * span_years)
    moore_reduction: float  # 2 ** (span months / 24): Moore's law over the same span
    first_compute_tfs_days: float  # compute of the first point (AlexNet: 3.1 tfs-days)
    sources: tuple[str, ...]


@dataclass(frozen=True)
class AlexNetRun:
    """The cheapest single-device AlexNet-level training run at mid-year."""

    year: int
    device_key: str
    device_name: str
    precision: str
    flop: float  # AlexNet's compute / the efficiency multiplier
    hours: float
    cost_usd: float
    mfu: float
    price_usd_per_hour: float
    multiplier: float


def parse_efficiency_csv(text: str, name: str = CSV_NAME) -> list[EffPoint]:
    """Parse the table's text; ValueError names the file, the row (line and model) and the column."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{name}: header: missing column(s) {', '.join(map(repr, missing))}")
    points = []
    for line, raw in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        where = f"{name}: line {line} (model {row.get('model', '')!r})"
        for col in ("benchmark", "target", "model", "source"):
            if not row.get(col):
                raise ValueError(f"{where}: column {col!r}: empty")
        numbers = {}
        for col in ("compute_tfs_days", "reduction_vs_first"):
            try:
                numbers[col] = float(row.get(col, ""))
            except ValueError:
                numbers[col] = math.nan
            if not (math.isfinite(numbers[col]) and numbers[col] > 0):
                raise ValueError(f"{where}: column {col!r}: not a number > 0: {row.get(col, '')!r}")
        try:
            when = date.fromisoformat(row.get("date", ""))
        except ValueError:
            raise ValueError(f"{where}: column 'date': not a YYYY-MM-DD date: {row.get('date', '')!r}") from None
        points.append(EffPoint(row["benchmark"], row["target"], row["model"], numbers["compute_tfs_days"],
                               numbers["reduction_vs_first"], when, row["source"]))
    return points


def efficiency_points(target: str = ALEXNET_TARGET) -> list[EffPoint]:
    """The packaged points for one target, by date; ValueError for an unknown target."""
    text = files("simulator.catalog").joinpath(CSV_NAME).read_text(encoding="utf-8")
    points = parse_efficiency_csv(text)
    found = sorted((p for p in points if p.target == target), key=lambda p: p.date)
    if not found:
        known = sorted({p.target for p in points})
        raise ValueError(f"{CSV_NAME}: column 'target': no rows for {target!r}; known: {'; '.join(known)}")
    return found


def fit_efficiency(points: list[EffPoint], n_boot: int = 1000, seed: int = 0) -> EfficiencyFit:
    """Least-squares fit of log2(reduction) on years, with a bootstrap 90% interval.

    The same fit as every trend of the package (`simulator.trend.fit.fit_doubling`):
    the reduction doubles every `halving_months` (12 / slope); the interval resamples the
    points with replacement (numpy.random.default_rng(seed)).
    """
    pts = sorted(points, key=lambda p: p.date)
    if len({p.date for p in pts}) < 2:
        raise ValueError("fit_efficiency: need points at two or more distinct dates")
    if n_boot < 1:
        raise ValueError(f"fit_efficiency: n_boot={n_boot!r}: must be >= 1")
    fit = fit_doubling([p.date for p in pts], [p.reduction for p in pts], pts[0].date,
                       pts[-1].date + timedelta(days=1), n_boot=n_boot, seed=seed)
    if fit is None:
        raise ValueError(f"fit_efficiency: need at least 3 points, got {len(pts)}")
    span = years(pts[-1].date) - years(pts[0].date)
    return EfficiencyFit(
        slope_per_year=fit.slope_per_year, intercept=fit.intercept, halving_months=fit.doubling_months,
        ci_months=(fit.ci_low, fit.ci_high), n_boot=n_boot, seed=seed, n_points=len(pts),
        first_date=pts[0].date, last_date=pts[-1].date, span_years=span,
        total_reduction=pts[-1].reduction / pts[0].reduction, fitted_reduction=2.0 ** (fit.slope_per_year * span),
        moore_reduction=moore_growth(pts[0].date, pts[-1].date),
        first_compute_tfs_days=pts[0].compute_tfs_days, sources=tuple(dict.fromkeys(p.source for p in pts)))


def multiplier(at: date, fit: EfficiencyFit) -> float:
    """Algorithmic-efficiency multiplier at `at` relative to the fit's first date:
    2 ** (slope x years since the first date); below 1 before that date (not clamped)."""
    return 2.0 ** (fit.slope_per_year * (years(at) - years(fit.first_date)))


def alexnet_level_run(year: int, fit: EfficiencyFit, eff: Efficiency | None = None) -> AlexNetRun | None:
    """What an AlexNet-level ImageNet run costs, and takes, on the hardware of mid-`year`.

    FLOP = the fit's first compute (AlexNet: 3.1 teraflop/s-days = 3.1 x 8.64e16 = 2.7e17
    FLOP, Hernandez & Brown's unit) / the efficiency multiplier at July 1, clamped at 1
    before the fit's first date (the trend is measured from AlexNet on: earlier years get
    AlexNet's own compute) and extrapolated past the last point (2019-05-28). Each device of
    eras.devices_available runs it alone at eras.precision_for (the newest precision of the era it has),
    at the layout search's MFU for the catalog 'alexnet' model (batch 128, one device),
    for hours = FLOP / (peak x MFU) at price_per_device_hour(prefer='capex') (devices
    without a documented price are skipped). Returns the cheapest, or None if none is priced.
    """
    at = date(year, 7, 1)
    mult = max(1.0, multiplier(at, fit))
    flop = fit.first_compute_tfs_days * FLOP_PER_TFS_DAY / mult
    keys = {a.name: k for k, a in {**eras.pre_gpu_computers(), **accelerators()}.items()}
    util, model = Utilization(eff or default_efficiency()), find_model("alexnet")
    best: AlexNetRun | None = None
    for acc in eras.devices_available(at):
        key = keys.get(acc.name)
        precision = eras.precision_for(acc, at)
        peak = acc.peak(precision)
        if key is None or not peak:
            continue
        try:
            price = eras.price_per_device_hour(key, at, prefer="capex").usd_per_hour
        except eras.NoPriceError:
            continue
        one = Query(model, acc, n=1, node=1, intra=None, inter=None, known=frozenset({"single_device"}),
                    batches=(128,), precision=precision)
        mfu = util.best_layout(one).mfu
        if not mfu > 0:
            continue
        hours = flop / (peak * mfu) / 3600
        run = AlexNetRun(year, key, acc.name, precision.value, flop, hours, hours * price, mfu, price, mult)
        if best is None or (run.cost_usd, run.hours) < (best.cost_usd, best.hours):
            best = run
    return best


def efficiency_report(years: tuple[int, ...] = (2012, 2015, 2019, 2022, 2025), seed: int = 0) -> dict:
    """JSON-ready summary: the AlexNet-level fit against the published numbers, and one run per year."""
    fit = fit_efficiency(efficiency_points(ALEXNET_TARGET), seed=seed)
    runs = []
    for year in years:
        run = alexnet_level_run(year, fit)
        runs.append(asdict(run) if run else {"year": year, "device_key": None, "reason": "no priced device"})
    return {
        "target": ALEXNET_TARGET,
        "fit": {"halving_months": fit.halving_months, "ci": list(fit.ci_months), "ci_level": 0.9,
                "n_boot": fit.n_boot, "seed": fit.seed, "n_points": fit.n_points,
                "first_date": fit.first_date.isoformat(), "last_date": fit.last_date.isoformat(),
                "span_years": fit.span_years, "total_reduction": fit.total_reduction,
                "fitted_reduction": fit.fitted_reduction, "moore_reduction": fit.moore_reduction,
                "sources": list(fit.sources)},
        "published": dict(PUBLISHED),
        "runs": runs,
    }
