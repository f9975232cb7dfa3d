"""What a training run could use at a date: devices, prices and precision.

Package data next to this module (every row has a `source` and a `verification` column):
- pre_gpu_computers.csv: the fastest computers a research group could use before the
  accelerator catalog starts (GTX 580, 2010-11-09); dates may be YYYY, YYYY-MM or
  YYYY-MM-DD and stand for the first day of that period;
- prices.csv: Epoch AI's price rows (cloud per chip-hour, purchase per chip) for the
  catalog accelerators, copied unchanged with the catalog key added.

Nothing is read at import time; each table is parsed on first use and cached. Numbers
are derived only here, in `price_per_device_hour`, following Epoch AI's
training-cost-trends code (Cottier et al. 2024, "The rising costs of training frontier
AI models", arXiv 2405.21015).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib.resources import files
from typing import NamedTuple

from simulator.catalog.hardware import accelerators
from simulator.core.specs import Accelerator, Precision
from simulator.core.units import partial_date

COMPUTERS_CSV = "pre_gpu_computers.csv"
PRICES_CSV = "prices.csv"

# ---- Epoch AI, epoch-research/training-cost-trends (read in training_cost_trends/constants.py,
# hardware.py, pricing.py, cost_estimation.py). The capex method charges a chip-hour
# price * 0.14 ln(10) / HOURS_PER_YEAR: the value is spread over 1 / (0.14 ln 10) = 3.10 years
# of calendar hours, busy or idle (utilization 1), and depreciates 0.14 orders of magnitude a year.
HOURS_PER_YEAR = 24 * 365.25  # constants.py HOURS_PER_YEAR
DEPRECIATION_OOM_PER_YEAR = 0.14  # constants.py ML_GPU_PRICE_PERFORMANCE_OOMS_PER_YEAR
EPOCH_LIFETIME_YEARS = 1 / (DEPRECIATION_OOM_PER_YEAR * math.log(10))  # cost_estimation.py
EPOCH_UTILIZATION = 1.0  # cost_estimation.py: no idle share in the capex price per chip-hour
EPOCH_PUE = 1.25  # hardware.py power_usage_effectiveness: 1.25 in general, 1.1 for hyperscalers
INTERCONNECT_COST_FRACTION = 0.19  # constants.py CLUSTER_INTERCONNECT_COST_FRACTION
ACQUISITION_DELAY = timedelta(days=90)  # pricing.py: acquired no earlier than release + 90 days
PRIORITY_VENDORS = ("Amazon Web Services", "Microsoft Azure", "Google Cloud")  # constants.py
# hardware.py energy_price: average US industrial electricity price (EIA), USD per kWh
ELECTRICITY_USD_PER_KWH = {
    2010: 0.0677, 2011: 0.0682, 2012: 0.0667, 2013: 0.0689, 2014: 0.0710, 2015: 0.0691,
    2016: 0.0676, 2017: 0.0688, 2018: 0.0692, 2019: 0.0681, 2020: 0.0667, 2021: 0.0718,
    2022: 0.0832, 2023: 0.0806, 2024: 0.0771, 2025: 0.0826}

# Precision frontier training used from each date on (latest row at or before the date), with sources.
PRECISION_ERAS: tuple[tuple[date, Precision, str], ...] = (
    (date(1957, 1, 1), Precision.FP32, "before mixed precision; 36- to 64-bit machine floats are counted as FP32"),
    (date(2017, 10, 10), Precision.FP16, "Micikevicius et al. 2017, 'Mixed Precision Training', arXiv 1710.03740"),
    (date(2020, 5, 14), Precision.BF16, ("A100 release (accelerators.csv), first GPU with BF16 tensor cores; TPUs "
                                         "trained in bfloat16 before (Kalamkar et al. 2019, arXiv 1905.12322)")),
    (date(2023, 11, 22), Precision.FP8, ("Inflection AI 2023-11-22, 'Inflection-2': trained in FP8 on 5,000 H100 "
                                        "(technique_uses.csv fp8-inflection2; Epoch AI's record of the run quotes it), "
                                        "the first FP8 run at scale found; DeepSeek-V3 (arXiv 2412.19437, 2024-12) "
                                        "validated FP8 on a 671B-parameter model; devices without an FP8 peak keep BF16")),
)
_COMMITMENTS = {"on_demand": "usd_per_chip_hour_on_demand", "1yr": "usd_per_chip_hour_1yr_commit",
                "3yr": "usd_per_chip_hour_3yr_commit"}


class DevicePrice(NamedTuple):
    usd_per_hour: float
    method: str  # how it was obtained, with every factor used
    source: str  # the price row's source


class NoPriceError(LookupError):
    """No documented price (or power) for this device at this date."""


@dataclass(frozen=True)
class _PriceRow:
    key: str
    match: str  # "device" (the row names this device) or "family" (Epoch's generic name)
    hardware: str
    price_date: date
    vendor: str
    cloud: dict[str, float]  # column -> USD per chip-hour
    purchase_usd: float | None
    notes: str
    source: str


# ------------------------------------------------------------------ parsing
def catalog_rows(name: str, keyed: bool = True) -> list[dict[str, str]]:
    """Rows of a package CSV with stripped cells; an empty or duplicate key (when `keyed`) or
    an empty source raises ValueError naming the file and the key."""
    text = files("simulator.catalog").joinpath(name).read_text(encoding="utf-8")
    rows = [{k: (v or "").strip() for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]
    seen: set[str] = set()
    for i, r in enumerate(rows, start=2):
        r.setdefault("key", f"line {i}")
        if keyed and (not r["key"] or r["key"] in seen):
            raise ValueError(f"{name}: key={r['key']!r}: empty or duplicate key")
        seen.add(r["key"])
        if not r.get("source"):
            raise ValueError(f"{name}: key={r['key']!r}: column 'source': empty")
    return rows


def catalog_date(row: dict[str, str], col: str, name: str, required: bool = False) -> date | None:
    """ISO date, or YYYY-MM / YYYY meaning the first day of that month or year."""
    value = row.get(col, "")
    if not value and not required:
        return None
    try:
        return partial_date(value)
    except ValueError:
        raise ValueError(f"{name}: key={row['key']!r}: column {col!r}: not a date: {value!r}") from None


def _float(row: dict[str, str], col: str, name: str) -> float | None:
    value = row.get(col, "")
    try:
        number = float(value) if value else None
    except ValueError:
        number = math.nan
    if number is not None and not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name}: key={row['key']!r}: column {col!r}: not a number >= 0: {value!r}")
    return number


@cache
def _computer_rows() -> dict[str, dict[str, str]]:
    return {r["key"]: r for r in catalog_rows(COMPUTERS_CSV)}


@cache
def _computers() -> dict[str, Accelerator]:
    out = {}
    for key, r in _computer_rows().items():
        available, peak = catalog_date(r, "available", COMPUTERS_CSV, True), _float(r, "peak_flops_per_s", COMPUTERS_CSV)
        if not peak:
            raise ValueError(f"{COMPUTERS_CSV}: key={key!r}: column 'peak_flops_per_s': required, > 0")
        catalog_date(r, "price_date", COMPUTERS_CSV)  # validated here, used by the price lookup
        out[key] = Accelerator(
            name=r["name"], vendor=r["vendor"], kind=r["kind"] or "computer", release_date=available,
            # the peak of the source, whatever its width (peak_precision column), filed as FP32
            peak_flops_per_s={Precision.FP32: peak},
            memory_bytes=(gb * 1e9) if (gb := _float(r, "memory_gb", COMPUTERS_CSV)) else math.nan,
            memory_bandwidth_bytes_per_s=(bw * 1e9) if (bw := _float(r, "memory_bandwidth_gb_s", COMPUTERS_CSV)) else None, scale_up_bandwidth_bytes_per_s=None, scale_up_domain=None,
            tdp_w=_float(r, "power_w", COMPUTERS_CSV), purchase_price_usd=_float(r, "purchase_price_usd", COMPUTERS_CSV),
            cloud_price_usd_per_hour=None, source=r["source"])
    return out


@cache
def _prices() -> tuple[_PriceRow, ...]:
    catalog, out = accelerators(), []
    for r in catalog_rows(PRICES_CSV, keyed=False):
        r["key"] = f"{r['accelerator_key']} {r['hardware']} {r['price_date']}"
        if r["accelerator_key"] not in catalog or r["match"] not in ("device", "family"):
            raise ValueError(f"{PRICES_CSV}: key={r['key']!r}: unknown accelerator_key or match")
        price_date = catalog_date(r, "price_date", PRICES_CSV, True)
        cloud = {c: v for c in _COMMITMENTS.values() if (v := _float(r, c, PRICES_CSV)) is not None}
        out.append(_PriceRow(r["accelerator_key"], r["match"], r["hardware"], price_date, r["vendor"],
                             cloud, _float(r, "purchase_price_usd", PRICES_CSV), r["notes"], r["source"]))
    return tuple(out)


# ------------------------------------------------------------------ public lookups
def pre_gpu_computers() -> dict[str, Accelerator]:
    """The pre-catalog computers by key, as Accelerators (kind 'computer', or 'gpu' for the GTX 280).

    Peak FLOP/s is the source's figure, filed under FP32 whatever its width (36- to 64-bit
    floats; see the peak_precision column). Memory and its bandwidth are unknown (nan,
    None) except where the row gives them (the GTX 280); tdp_w is the power of the whole
    machine where known.
    """
    return dict(_computers())


def devices_available(at: date) -> list[Accelerator]:
    """Devices one could train on at `at`, by release date.

    Catalog accelerators released on or before `at` with a peak at some precision; before
    the first catalog release (GTX 580, 2010-11-09) the pre-GPU computers available then.
    """
    catalog = [a for a in accelerators().values() if a.release_date]
    if at < min(a.release_date for a in catalog):
        found = [c for c in _computers().values() if c.release_date <= at]
    else:
        found = [a for a in catalog if a.release_date <= at and a.peak_flops_per_s]
    return sorted(found, key=lambda a: (a.release_date, a.name))


@cache
def precision_for(acc: Accelerator, at: date, lag_days: float = 0.0) -> Precision:
    """The newest precision of the eras up to `at` that `acc` has a peak at (FP8 from 2023-11,
    else BF16 ...; FP32 when it has none of them); each era begins `lag_days` after its
    evidence (the adoption lag of a technique)."""
    lag = timedelta(days=lag_days)
    for start, precision, _ in reversed(PRECISION_ERAS):
        if start + lag <= at and acc.peak(precision):
            return precision
    return Precision.FP32


def precision_of_era(at: date) -> Precision:
    """The precision frontier training used at `at` (PRECISION_ERAS, with sources).

    Devices without a peak at that precision (GTX 580 at FP16) run at their FP32 peak:
    the caller falls back.
    """
    current = PRECISION_ERAS[0][1]
    for start, precision, _ in PRECISION_ERAS:
        if start <= at:
            current = precision
    return current


# ------------------------------------------------------------------ prices
# Epoch hardware.py: server cost per chip cost (get_server_cost_overhead, else 1.64) and server
# power per chip TDP (chip_to_server_power, else 1.8; times server_TDP_fraction 0.43 TPU, 0.75 GPU)
_SERVER_COST = {"a100": 1.66, "v100": 1.69, "p100": 1.54, "": 1.64}
_CHIP_TO_SERVER = {"tpu-v1": 2.93, "tpu-v2": 1.64, "tpu-v3": 1.47, "tpu": 1.56, "h100": (10.2 / 8) / 0.7,
                   "a100": (6.5 / 8) / 0.4, "v100": ((10 / 16) / 0.3 + (1.5 / 4) / 0.3) / 2, "": 1.8}


def _by_prefix(table: dict[str, float], key: str) -> float:
    return next(v for prefix, v in table.items() if key.startswith(prefix))


def server_power_factor(key: str) -> float:
    """Server power per chip TDP (Epoch hardware.py: chip_to_server_power x server_TDP_fraction)."""
    return _by_prefix(_CHIP_TO_SERVER, key) * (0.43 if key.startswith("tpu") else 0.75)


def _resolve(acc_key: str) -> tuple[str, Accelerator, bool]:
    wanted, catalog, computers = str(acc_key).strip().lower(), accelerators(), _computers()
    for table, is_computer in ((catalog, False), (computers, True)):
        for key, acc in table.items():
            if wanted in (key, acc.name.lower()):
                return key, acc, is_computer
    raise KeyError(f"unknown device {acc_key!r}; allowed: {', '.join([*catalog, *computers])}")


def _cloud(key: str, at: date, column: str, vendor: str | None) -> DevicePrice | None:
    rows = [r for r in _prices() if r.key == key and column in r.cloud and r.price_date <= at]
    others = sorted({r.vendor for r in rows} - set(PRIORITY_VENDORS))
    for v in [vendor] if vendor else [*PRIORITY_VENDORS, *others]:
        for match in ("device", "family"):
            found = [r for r in rows if r.vendor == v and r.match == match]
            if found:
                latest = max(r.price_date for r in found)
                best = min((r for r in found if r.price_date == latest), key=lambda r: r.cloud[column])
                return DevicePrice(best.cloud[column], f"cloud price ({column}): {v}, {latest}, "
                                   f"{PRICES_CSV} row '{best.hardware}'", best.source)
    return None


def _purchase(key: str, acc: Accelerator, at: date, is_computer: bool):
    """(USD, price date, acquisition date, server overhead, label, source) of the latest price <= at."""
    if is_computer:
        r = _computer_rows()[key]
        when, usd = catalog_date(r, "price_date", COMPUTERS_CSV), acc.purchase_price_usd
        if usd is None or when is None or when > at:
            return None
        overhead = _by_prefix(_SERVER_COST, key) if r["price_basis"] == "card" else 1.0
        return usd, when, when, overhead, f"{COMPUTERS_CSV} ({r['price_basis']})", r["source"]
    rows = [r for r in _prices() if r.key == key and r.purchase_usd is not None and r.price_date <= at]
    found = [r for r in rows if r.match == "device"] or rows
    acquired_min = (acc.release_date or date.min) + ACQUISITION_DELAY
    if found:
        latest = max(r.price_date for r in found)
        best = min((r for r in found if r.price_date == latest), key=lambda r: r.purchase_usd)
        single = "single-unit" in best.notes.lower() or key.startswith("tpu")  # Epoch pricing.py rule
        return (best.purchase_usd, latest, max(latest, acquired_min),
                _by_prefix(_SERVER_COST, key) if single else 1.0, f"{PRICES_CSV} row '{best.hardware}'", best.source)
    if acc.purchase_price_usd is not None and acc.release_date is not None:
        return (acc.purchase_price_usd, acc.release_date, acquired_min, _by_prefix(_SERVER_COST, key),
                "accelerators.csv purchase price (per chip)", acc.source)
    return None


def _check_price_args(prefer: str, commitment: str, lifetime_years: float, utilization: float, pue: float,
                      power_usd_per_kwh: float | None) -> None:
    """ValueError for an argument of `price_per_device_hour` out of its range."""
    if prefer not in ("cloud", "capex"):
        raise ValueError(f"prefer={prefer!r}: must be 'cloud' or 'capex'")
    if commitment not in _COMMITMENTS:
        raise ValueError(f"commitment={commitment!r}: must be one of {', '.join(_COMMITMENTS)}")
    if not (lifetime_years > 0 and 0 < utilization <= 1 and pue >= 1):
        raise ValueError("lifetime_years must be > 0, utilization in (0, 1], pue >= 1")
    if power_usd_per_kwh is not None and not power_usd_per_kwh >= 0:
        raise ValueError(f"power_usd_per_kwh={power_usd_per_kwh!r}: must be >= 0")


def price_per_device_hour(acc_key: str, at: date, *, commitment: str = "on_demand", vendor: str | None = None,
                          lifetime_years: float = EPOCH_LIFETIME_YEARS, utilization: float = EPOCH_UTILIZATION,
                          power_usd_per_kwh: float | None = None, pue: float = EPOCH_PUE,
                          energy: bool = True, prefer: str = "cloud") -> DevicePrice:
    """USD per device-hour of `acc_key` (catalog or pre-GPU key, or exact name) at `at`.

    1. Cloud: the latest price at or before `at` in prices.csv for the `commitment`
       ('on_demand', '1yr', '3yr'), from `vendor` or the first of Epoch's priority vendors
       (AWS, Azure, Google Cloud, then others) that has one; rows naming the device before
       Epoch's family rows; the cheapest row of that date. No future prices are used.
    2. Otherwise amortised purchase plus energy (Epoch's capex method):
       value = price x server overhead x 10^(-0.14 x years from acquisition to `at`)
       hardware/h = value / (1 - 0.19 interconnect) / (lifetime_years x 8766 h x utilization)
       energy/h = TDP kW x server power factor x pue x USD/kWh
       Price: the latest purchase row at or before `at` (else the catalog's per-chip price).
       Server overhead (1.54-1.69) applies to single-chip prices, interconnect and server
       power factor to accelerators and cards; prices and powers of pre-GPU computers
       (price_basis 'system') are whole machines. USD/kWh: Epoch's yearly table (2010-2025;
       later years hold the last price, and the method says so).
    prefer='capex' takes step 2 first and the cloud price only where no purchase price
    is documented (Cottier et al.'s main method amortises hardware an owner bought).
    NoPriceError when no price, TDP or electricity price is documented (energy=False omits
    the energy term); ValueError for bad arguments.
    """
    _check_price_args(prefer, commitment, lifetime_years, utilization, pue, power_usd_per_kwh)
    key, acc, is_computer = _resolve(acc_key)
    if acc.release_date is not None and at < acc.release_date:
        raise NoPriceError(f"{key}: released {acc.release_date}, after {at}")
    bought = _purchase(key, acc, at, is_computer)
    cloud = None if is_computer or (prefer == "capex" and bought) else _cloud(key, at, _COMMITMENTS[commitment], vendor)
    if cloud:
        return cloud
    if bought is None:
        raise NoPriceError(f"{key}: no cloud or purchase price at or before {at}")
    usd, when, acquired, overhead, label, source = bought
    system = is_computer and _computer_rows()[key]["price_basis"] != "card"  # whole machine, own power
    years = max(0.0, (at - acquired).days / 365.25)
    value = usd * overhead * 10 ** (-DEPRECIATION_OOM_PER_YEAR * years)
    interconnect = 1.0 if system else 1 / (1 - INTERCONNECT_COST_FRACTION)
    hardware = value * interconnect / (lifetime_years * HOURS_PER_YEAR * utilization)
    method = (f"amortised purchase: ${usd:,.0f} ({when}, {label}) x server overhead {overhead:.2f} x "
              f"10^(-{DEPRECIATION_OOM_PER_YEAR} x {years:.2f} y) x interconnect {interconnect:.3f} / "
              f"({lifetime_years:.2f} y x {HOURS_PER_YEAR:.0f} h x utilization {utilization:g})")
    if not energy:
        return DevicePrice(hardware, method + "; energy omitted", source)
    if acc.tdp_w is None:
        raise NoPriceError(f"{key}: power (TDP) unknown, energy cost cannot be computed (energy=False omits it)")
    last = max(ELECTRICITY_USD_PER_KWH)
    kwh = power_usd_per_kwh if power_usd_per_kwh is not None else ELECTRICITY_USD_PER_KWH.get(min(at.year, last))
    held = power_usd_per_kwh is None and at.year > last
    if kwh is None:
        raise NoPriceError(f"no electricity price for {at.year} in Epoch's table "
                           f"({min(ELECTRICITY_USD_PER_KWH)}-{max(ELECTRICITY_USD_PER_KWH)}); pass power_usd_per_kwh")
    factor = 1.0 if system else server_power_factor(key)
    power = acc.tdp_w / 1000 * factor * pue * kwh
    return DevicePrice(hardware + power, method + f" + energy {acc.tdp_w / 1000:g} kW x server factor "
                       f"{factor:.3f} x PUE {pue:g} x ${kwh:g}/kWh" + (f" (the {last} price, held)" if held else ""),
                       source)
