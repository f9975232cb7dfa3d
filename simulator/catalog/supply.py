"""What one actor could get at a date: devices in volume, computers by price-performance, power.

Package data next to this module (every row has a `source` and a `verification` column):
- availability.csv: the date each catalog accelerator was available in volume (first
  systems shipped, cloud GA, internal deployment), as opposed to its announcement date
  (accelerators.csv `release_date`, which prices keep using: Epoch's acquisition delay);
- price_performance.csv: computers before GPUs as a price-performance series (FLOP/s per
  purchase dollar), so a run before the GPU catalog buys computer time at the era's
  price instead of getting the fastest machine of its day for free.

`devices_usable(at)` lists the accelerators usable at a date (catalog accelerators from
their volume date, the GTX 280 before the catalog); `sized_computer(at, usd)` is the
computer a budget buys at the best price-performance of the date (no larger than the
largest computer of the date, `largest_computer`); `shared_computers(at)` the machines a
group could buy time on at their documented prices. Read on first use and cached;
nothing at import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import cache

from simulator.catalog.eras import (
    EPOCH_LIFETIME_YEARS,
    EPOCH_PUE,
    HOURS_PER_YEAR,
    catalog_date,
    catalog_rows,
    pre_gpu_computers,
    server_power_factor,
)
from simulator.catalog.hardware import accelerators
from simulator.core.specs import Accelerator, Precision

AVAILABILITY_CSV = "availability.csv"
PRICE_PERFORMANCE_CSV = "price_performance.csv"
#: Key of the price-performance computer in frontier results.
COMPUTER_KEY = "computer"


@dataclass(frozen=True)
class PricePoint:
    key: str
    since: date
    machine: str
    flop_per_s_per_usd: float
    source: str


@cache
def volume_dates() -> dict[str, date]:
    """Accelerator key -> first volume availability (availability.csv)."""
    out, catalog = {}, accelerators()
    for r in catalog_rows(AVAILABILITY_CSV):
        if r["key"] not in catalog:
            raise ValueError(f"{AVAILABILITY_CSV}: key={r['key']!r}: not an accelerators.csv key")
        out[r["key"]] = catalog_date(r, "volume_date", AVAILABILITY_CSV, True)
    return out


def usable_from(key: str) -> date | None:
    """The date a catalog device can be had in volume: availability.csv, else its release date."""
    return volume_dates().get(key) or accelerators()[key].release_date


@cache
def price_points() -> tuple[PricePoint, ...]:
    """The price-performance series (price_performance.csv) as dated points."""
    out = []
    for r in catalog_rows(PRICE_PERFORMANCE_CSV):
        try:
            value = float(r["flop_per_s_per_usd"])
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{PRICE_PERFORMANCE_CSV}: key={r['key']!r}: column 'flop_per_s_per_usd': "
                             f"not a number > 0: {r['flop_per_s_per_usd']!r}")
        out.append(PricePoint(r["key"], catalog_date(r, "since", PRICE_PERFORMANCE_CSV, True), r["machine"], value, r["source"]))
    return tuple(sorted(out, key=lambda p: p.since))


def price_performance(at: date) -> PricePoint | None:
    """The best FLOP/s per purchase dollar known at `at` (None before the first row)."""
    known = [p for p in price_points() if p.since <= at]
    return max(known, key=lambda p: p.flop_per_s_per_usd, default=None)


@cache
def first_gpu_date() -> date:
    """The first date a catalog GPU could be had in volume (cached: every run length asks)."""
    return min(d for k in accelerators() if (d := usable_from(k)) is not None)


def largest_computer(at: date) -> Accelerator | None:
    """The largest computer available at `at` (pre_gpu_computers.csv, kind computer), None
    before the first. Only its size is used (the cap on a group's own machine); time on
    shared machines is `shared_computers`."""
    return max((c for c in pre_gpu_computers().values() if c.release_date <= at and c.kind == "computer"),
               key=lambda c: c.peak(Precision.FP32), default=None)


def shared_computers(at: date) -> list[tuple[str, Accelerator]]:
    """(key, computer) of the machines a group could buy time on at `at`: the computers of
    pre_gpu_computers.csv released by `at` with a documented system price, less those another
    beats in both peak and FLOP/s per dollar (they cannot give a larger run), largest first.

    A computer without a documented price is not offered: the only price one could impute
    (the best price-performance of its date, a workstation's) undercuts the documented prices
    of large machines, so an undocumented machine would win on its imputation alone."""
    priced = [(k, c) for k, c in pre_gpu_computers().items()
              if c.kind == "computer" and c.release_date <= at and c.purchase_price_usd]

    def merit(c: Accelerator) -> tuple[float, float]:
        return c.peak(Precision.FP32), c.peak(Precision.FP32) / c.purchase_price_usd

    kept = [(k, c) for k, c in priced
            if not any(d is not c and merit(d) != merit(c) and all(a >= b for a, b in zip(merit(d), merit(c)))
                       for _, d in priced)]
    return sorted(kept, key=lambda kc: -kc[1].peak(Precision.FP32))


def sized_computer(at: date, value_usd: float) -> Accelerator | None:
    """The computer `value_usd` buys at the best price-performance of `at`
    (price_performance.csv), no larger than the largest computer of `at`; None when
    either is missing."""
    largest, point = largest_computer(at), price_performance(at)
    if largest is None or point is None or not value_usd > 0:
        return None
    peak = min(largest.peak(Precision.FP32), value_usd * point.flop_per_s_per_usd)
    return Accelerator(
        name=f"computer of {at.year} (${peak / point.flop_per_s_per_usd:,.0f} at {point.machine} price-performance)",
        vendor="", kind="computer", release_date=at, peak_flops_per_s={Precision.FP32: peak},
        memory_bytes=math.nan, memory_bandwidth_bytes_per_s=None, scale_up_bandwidth_bytes_per_s=None,
        scale_up_domain=None, tdp_w=None, purchase_price_usd=peak / point.flop_per_s_per_usd,
        cloud_price_usd_per_hour=None,
        source=f"size: the budget, at most {largest.name} ({largest.source}); price: {PRICE_PERFORMANCE_CSV} row "
               f"{point.key!r}: {point.source}")


def computer_price_per_hour(acc: Accelerator) -> float:
    """USD per hour of the price-performance computer: its purchase price amortised over
    Epoch's lifetime (3.1 years of calendar hours, utilization 1; Cottier et al. 2024).
    Energy is not added: the series prices whole systems and their power is not documented."""
    return acc.purchase_price_usd / (EPOCH_LIFETIME_YEARS * HOURS_PER_YEAR)


def devices_usable(at: date) -> list[tuple[str, Accelerator]]:
    """(key, device) of the accelerators one could train on at `at`, oldest first:
    catalog accelerators from their volume date, and the GPUs before the catalog
    (pre_gpu_computers.csv kind gpu) from their release."""
    catalog = [(k, a) for k, a in accelerators().items()
               if a.peak_flops_per_s and (d := usable_from(k)) is not None and d <= at]
    gpus = [(k, c) for k, c in pre_gpu_computers().items() if c.kind != "computer" and c.release_date <= at]
    return sorted(gpus + catalog, key=lambda ka: (ka[1].release_date or date.min, ka[1].name))


@cache
def facility_watts_per_device(key: str) -> float | None:
    """Facility power one device draws: TDP x Epoch's server power factor x PUE 1.25
    (epoch-research/training-cost-trends hardware.py); None without a TDP."""
    acc = accelerators().get(key) or pre_gpu_computers().get(key)
    if acc is None or not acc.tdp_w:
        return None
    return acc.tdp_w * server_power_factor(key) * EPOCH_PUE


def generic_facility_watts(tdp_w: float) -> float:
    """Facility power of a device of `tdp_w` not in the catalog: Epoch's default server factor."""
    return tdp_w * server_power_factor("") * EPOCH_PUE
