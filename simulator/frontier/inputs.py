"""Era series of the frontier's constraints (catalog/frontier_inputs.csv).

Each row is one sourced fact: a quantity, the date from which it holds, its value,
the actor it belongs to. The rules that turn rows into a constraint at a date:

- annual_spend_usd: each actor's latest row at or before the date; the largest actor
  (before the first row, the earliest row).
- cluster_devices, host_devices: the largest row at or before the date (capacity that
  existed once is taken to stay available).
- site_power_w: the largest row at or before the date (a site's power, W).
- compute_share_of_spend, run_share_of_compute, max_duration_days: the latest row at or
  before the date, else the earliest row (treated as constants of the field).
- duration_days, duration_growth_per_year: the run length an actor accepts
  (`accepted_duration_days`): the anchor level (the duration_days row nearest the date)
  carried to the date by the growth rows in force over the interval (each applies from
  its date until the next; before the first growth row the length is held), capped by
  max_duration_days (the economic bound on a run's length).
A cluster_devices row names its accelerator (`device`, a catalog key, or a name with
`device_tdp_w`), so the supply rule can convert its count to power (frontier/supply).
Quantities filed for the record only (cluster_cost_usd, investment_usd, capex_usd,
supercomputer_devices, reference_spend_usd, supercomputer_power_w, run_power_w,
site_power_forecast_w) are checked but read by no rule: they are not one actor's
spending or one AI training site.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files

from simulator.catalog.eras import catalog_date, catalog_rows
from simulator.catalog.supply import facility_watts_per_device, generic_facility_watts
from simulator.units import partial_date

INPUTS_CSV = "frontier_inputs.csv"
LATEST_PER_ACTOR = ("annual_spend_usd",)
LARGEST_SO_FAR = ("cluster_devices", "host_devices", "site_power_w")
CONSTANTS = ("compute_share_of_spend", "run_share_of_compute", "max_duration_days")
DURATION = ("duration_days", "duration_growth_per_year")
RECORD_ONLY = ("cluster_cost_usd", "investment_usd", "capex_usd", "supercomputer_devices", "reference_spend_usd",
               "supercomputer_power_w", "run_power_w", "site_power_forecast_w")
QUANTITIES = LATEST_PER_ACTOR + LARGEST_SO_FAR + CONSTANTS + DURATION + RECORD_ONLY


@dataclass(frozen=True)
class InputRow:
    key: str
    quantity: str
    since: date
    value: float
    unit: str
    actor: str
    source: str
    verification: str
    notes: str
    device: str = ""  # cluster_devices rows: the accelerator (catalog key or name)
    device_tdp_w: float | None = None  # its power where it is not a catalog accelerator


class Value(float):
    """A float that remembers the rows it came from (`rows`)."""

    rows: tuple[InputRow, ...]

    def __new__(cls, value: float, rows: tuple[InputRow, ...]):
        out = super().__new__(cls, value)
        out.rows = rows
        return out

    def __reduce__(self):  # picklable (the projection's worker processes)
        return (Value, (float(self), self.rows))


def _since(text: str, key: str) -> date:
    try:
        return partial_date(text)
    except ValueError:
        raise ValueError(f"{INPUTS_CSV}: key={key!r}: column 'since': not a date: {text!r}") from None


def parse_inputs(text: str, name: str = INPUTS_CSV) -> tuple[InputRow, ...]:
    out, seen = [], set()
    for r in csv.DictReader(io.StringIO(text)):
        r = {k: (v or "").strip() for k, v in r.items()}
        key = r.get("key", "")
        if not key or key in seen:
            raise ValueError(f"{name}: key={key!r}: empty or duplicate key")
        seen.add(key)
        if r.get("quantity") not in QUANTITIES:
            raise ValueError(f"{name}: key={key!r}: column 'quantity': {r.get('quantity')!r} not one of "
                             f"{', '.join(QUANTITIES)}")
        if not r.get("source"):
            raise ValueError(f"{name}: key={key!r}: column 'source': empty")
        try:
            value = float(r["value"])
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name}: key={key!r}: column 'value': not a number > 0: {r['value']!r}")
        tdp = r.get("device_tdp_w") or ""
        try:
            tdp_w = float(tdp) if tdp else None
        except ValueError:
            raise ValueError(f"{name}: key={key!r}: column 'device_tdp_w': not a number: {tdp!r}") from None
        out.append(InputRow(key, r["quantity"], _since(r["since"], key), value, r["unit"], r["actor"],
                            r["source"], r["verification"], r["notes"], r.get("device", ""), tdp_w))
    return tuple(out)


@cache
def input_rows() -> tuple[InputRow, ...]:
    return parse_inputs(files("simulator.catalog").joinpath(INPUTS_CSV).read_text(encoding="utf-8"))


def value_at(quantity: str, at: date, rows: tuple[InputRow, ...] | None = None) -> Value | None:
    """The quantity at `at` by the rule of its kind (module doc); None if no row applies."""
    if quantity not in QUANTITIES or quantity in RECORD_ONLY + DURATION:
        raise ValueError(f"{quantity!r} is not a constraint quantity; one of "
                         f"{', '.join(LATEST_PER_ACTOR + LARGEST_SO_FAR + CONSTANTS)}")
    mine = [r for r in (input_rows() if rows is None else rows) if r.quantity == quantity]
    before = [r for r in mine if r.since <= at]
    if quantity in LATEST_PER_ACTOR:
        latest: dict[str, InputRow] = {}
        # before the first row, the earliest row's actor stands for the field (a budget in every era)
        for r in sorted(before or sorted(mine, key=lambda r: r.since)[:1], key=lambda r: r.since):
            latest[r.actor] = r
        best = max(latest.values(), key=lambda r: r.value, default=None)
    elif quantity in LARGEST_SO_FAR:
        best = max(before, key=lambda r: r.value, default=None)
    else:
        pool = before or mine
        best = max(pool, key=lambda r: r.since, default=None) if before else min(pool, key=lambda r: r.since,
                                                                                 default=None)
    return None if best is None else Value(best.value, (best,))


def rows_of(quantity: str, rows: tuple[InputRow, ...] | None = None) -> list[InputRow]:
    return sorted((r for r in (input_rows() if rows is None else rows) if r.quantity == quantity),
                  key=lambda r: r.since)


def _years(a: date, b: date) -> float:
    return (b.toordinal() - a.toordinal()) / 365.25


@cache
def accepted_duration_days(at: date, rows: tuple[InputRow, ...] | None = None,
                           growth_scale: float = 1.0) -> Value | None:
    """The longest run an actor accepts at `at` (module doc), in days; None without rows.

    `growth_scale` multiplies every growth rate's logarithm (for input-uncertainty draws)."""
    anchors, growth = rows_of("duration_days", rows), rows_of("duration_growth_per_year", rows)
    if not anchors:
        return None
    anchor = min(anchors, key=lambda r: abs(_years(r.since, at)))
    a, b, sign = (anchor.since, at, 1.0) if anchor.since <= at else (at, anchor.since, -1.0)
    log_g, used = 0.0, [anchor]
    for i, g in enumerate(growth):
        start = max(g.since, a)
        end = min(growth[i + 1].since if i + 1 < len(growth) else b, b)
        if end > start:
            log_g += math.log(g.value) * growth_scale * _years(start, end)
            used.append(g)
    days = anchor.value * math.exp(sign * log_g)
    cap = value_at("max_duration_days", at, rows)
    if cap is not None and cap < days:
        return Value(float(cap), (*used, *cap.rows))
    return Value(days, tuple(used))


def cluster_watts(row: InputRow) -> float | None:
    """Facility power of a cluster_devices row: its count x its device's facility watts."""
    per = facility_watts_per_device(row.device) if row.device else None
    if per is None and row.device_tdp_w:
        per = generic_facility_watts(row.device_tdp_w)
    return None if per is None else row.value * per


@cache
def site_power_at(at: date, rows: tuple[InputRow, ...] | None = None) -> Value | None:
    """The most power one actor's site gives a run at `at` (W): the largest site_power_w
    row or cluster_devices row (converted with its device's power) at or before `at`."""
    best, best_row = None, None
    for r in rows_of("site_power_w", rows) + rows_of("cluster_devices", rows):
        if r.since > at:
            continue
        w = r.value if r.quantity == "site_power_w" else cluster_watts(r)
        if w is not None and (best is None or w > best):
            best, best_row = w, r
    return None if best is None else Value(best, (best_row,))


ASYNC_CSV = "async_replicas.csv"


@cache
def _async_rows() -> tuple[tuple[date, float, str], ...]:
    return tuple((catalog_date(r, "since", ASYNC_CSV, True), float(r["replicas"]), r["key"])
                 for r in catalog_rows(ASYNC_CSV) if r["read_by_rule"] == "yes")


def async_replicas_at(at: date) -> float | None:
    """Most asynchronous data-parallel replicas documented as used at or before `at`
    (async_replicas.csv rows read_by_rule = yes; Dean et al. 2012 ... Abadi et al. 2016)."""
    known = [n for since, n, _ in _async_rows() if since <= at]
    return max(known) if known else None
