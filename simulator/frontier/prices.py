"""A price for a device that has none published: its generation's price per FLOP/s.

Some accelerators that trained frontier runs have no published purchase or cloud price
in Epoch AI's table (GB200, TPU v6e and v7, Trainium 2, the TPUs before Google sold
them). Dropping them would bias the frontier toward devices that happen to be priced,
so the price is imputed from the device's generation: the median, over the catalog
devices with a published price whose volume dates lie within `GENERATION_YEARS` of this
device's, of the price per device-hour per FLOP/s of dense training peak (BF16, else
FP16, else FP32), times this device's peak, priced at the same date by the same method
(capex or cloud). The method string says so, with the devices used.
"""

from __future__ import annotations

import math
import statistics
from datetime import date
from functools import cache

from simulator.catalog.eras import NoPriceError, price_per_device_hour
from simulator.catalog.hardware import accelerators
from simulator.catalog.supply import usable_from
from simulator.core.specs import Precision

GENERATION_YEARS = 1.0


def training_peak(acc) -> float | None:
    """Dense training peak: BF16, else FP16, else FP32 (FLOP/s)."""
    for p in (Precision.BF16, Precision.FP16, Precision.FP32):
        if acc.peak(p):
            return acc.peak(p)
    return None


@cache
def imputed_price(key: str, at: date, prefer: str) -> tuple[float, str]:
    """(USD per device-hour, method) of `key` at `at` from its generation (module doc);
    (nan, why) when no priced device of its generation exists."""
    cat = accelerators()
    if key not in cat:
        return math.nan, f"{key}: not a catalog accelerator (no generation to impute a price from)"
    acc, since = cat[key], usable_from(key)
    peak = training_peak(acc)
    if since is None or not peak:
        return math.nan, f"{key}: no volume date or peak to impute a price from"
    per_flops, used = [], []
    for other, o in cat.items():
        d = usable_from(other)
        p = training_peak(o)
        if other == key or d is None or not p or abs((d - since).days) > GENERATION_YEARS * 365.25 or d > at:
            continue
        try:
            price = price_per_device_hour(other, at, prefer=prefer).usd_per_hour
        except NoPriceError:
            continue
        per_flops.append(price / p)
        used.append(other)
    if not per_flops:
        return math.nan, f"{key}: no priced device of its generation (volume within {GENERATION_YEARS:g} year)"
    value = statistics.median(per_flops) * peak
    return value, (f"imputed: median USD per device-hour per FLOP/s of its generation ({', '.join(sorted(used))}) "
                   f"x its {peak / 1e12:g} TFLOP/s")
