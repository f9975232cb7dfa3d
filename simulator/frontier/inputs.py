"""Era series of the frontier's constraints (catalog/frontier_inputs.csv), actor by actor.

Each row is one sourced fact: a quantity, the date from which it holds, its value, the
actor it belongs to (`actor_key`, a key of catalog/actors.csv, or "market" for a fact of
the market every actor shares) and, where the number is a fact of one training run,
that run (`run_fact_of`): a frontier solved to score that run never sees the row
(`input_rows(withhold)`). The rules that turn rows into a constraint at a date:

- annual_spend_usd, compute_share_of_spend: the actor's latest row at or before the date
  (before its first row: none, and the actor has no documented budget);
- cluster_devices, site_power_w: the actor's largest site operational at or before the
  date (capacity that existed once stays available), a cluster's device count turned into
  power with its device's facility watts (frontier/supply) so sites of different devices
  compare; a drawn shift (days) moves every operational date together;
- host_devices: the largest host of the market at or before the date;
- allocation_device_hours: the largest allocation one project got on a shared machine.

Quantities filed for the record only (checks, not inputs: spending figures that are not
one actor's budget, measured run lengths and their growth, forecasts) are validated but
read by no rule. Nothing is read at import time.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib.resources import files

from simulator.catalog.eras import catalog_date, catalog_rows
from simulator.catalog.runfacts import parse_run_facts
from simulator.catalog.supply import facility_watts_per_device, generic_facility_watts
from simulator.core.units import partial_date

INPUTS_CSV = "frontier_inputs.csv"
MARKET = "market"
LATEST = ("annual_spend_usd", "compute_share_of_spend")
LARGEST = ("cluster_devices", "site_power_w", "host_devices", "allocation_device_hours")
RECORD_ONLY = ("cluster_cost_usd", "investment_usd", "capex_usd", "supercomputer_devices", "reference_spend_usd",
               "supercomputer_power_w", "run_power_w", "site_power_forecast_w", "duration_days",
               "duration_growth_per_year", "max_duration_days", "machine_time_share")
QUANTITIES = LATEST + LARGEST + RECORD_ONLY


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
    actor_key: str = MARKET
    run_fact_of: frozenset[str] = frozenset()

    @property
    def ref(self) -> str:
        """The row as provenance: file:key."""
        return f"{INPUTS_CSV}:{self.key}"


class Value(float):
    """A float that remembers the rows it came from (`rows`)."""

    rows: tuple[InputRow, ...]

    def __new__(cls, value: float, rows: tuple[InputRow, ...]):
        out = super().__new__(cls, value)
        out.rows = rows
        return out

    def __reduce__(self):  # picklable (the projection's worker processes)
        return (Value, (float(self), self.rows))


def _since(text: str, key: str, name: str) -> date:
    try:
        return partial_date(text)
    except ValueError:
        raise ValueError(f"{name}: key={key!r}: column 'since': not a date: {text!r}") from None


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
        out.append(InputRow(key, r["quantity"], _since(r["since"], key, name), value, r["unit"], r["actor"],
                            r["source"], r["verification"], r["notes"], r.get("device", ""), tdp_w,
                            r.get("actor_key") or MARKET,
                            parse_run_facts(r.get("run_fact_of", ""), f"{name}: key={key!r}")))
    return tuple(out)


@cache
def all_input_rows() -> tuple[InputRow, ...]:
    return parse_inputs(files("simulator.catalog").joinpath(INPUTS_CSV).read_text(encoding="utf-8"))


@cache
def input_rows(withhold: frozenset[str] = frozenset()) -> tuple[InputRow, ...]:
    """The rows a frontier may read when the runs in `withhold` are scored."""
    return tuple(r for r in all_input_rows() if not (r.run_fact_of & withhold))


_INDEX: dict[int, tuple[tuple, dict]] = {}


def rows_of(quantity: str, rows: tuple[InputRow, ...], actor: str | None = None) -> list[InputRow]:
    """The rows of `quantity` (of `actor`; every actor's for None), oldest first (indexed once
    per tuple of rows: the loaders hand out the same tuple for the same withheld runs)."""
    kept = _INDEX.get(id(rows))
    if kept is None or kept[0] is not rows:
        index: dict = {}
        for r in sorted(rows, key=lambda r: r.since):
            index.setdefault((r.quantity, r.actor_key), []).append(r)
            index.setdefault((r.quantity, None), []).append(r)
        kept = _INDEX[id(rows)] = (rows, index)
    return kept[1].get((quantity, actor), [])


def value_at(quantity: str, at: date, rows: tuple[InputRow, ...] | None = None, actor: str | None = None,
             shift_days: float = 0.0) -> Value | None:
    """The quantity at `at` for `actor` (None: every actor) by the rule of its kind (module
    doc); None if no row applies. `shift_days` moves every row's date (a drawn delay)."""
    if quantity not in LATEST + LARGEST:
        raise ValueError(f"{quantity!r} is not a constraint quantity; one of {', '.join(LATEST + LARGEST)}")
    rows = input_rows() if rows is None else rows
    shift = timedelta(days=shift_days)
    before = [r for r in rows_of(quantity, rows, actor) if r.since + shift <= at]
    if not before:
        return None
    best = before[-1] if quantity in LATEST else max(before, key=lambda r: r.value)
    return Value(best.value, (best,))


def cluster_watts(row: InputRow) -> float | None:
    """Facility power of a cluster_devices row: its count x its device's facility watts."""
    per = facility_watts_per_device(row.device) if row.device else None
    if per is None and row.device_tdp_w:
        per = generic_facility_watts(row.device_tdp_w)
    return None if per is None else row.value * per


def site_power_at(at: date, rows: tuple[InputRow, ...] | None = None, actor: str | None = None,
                  shift_days: float = 0.0) -> Value | None:
    """The most power one of `actor`'s sites gives a run at `at` (W): its largest
    site_power_w row operational at or before `at` (dates moved by `shift_days`)."""
    rows = input_rows() if rows is None else rows
    shift = timedelta(days=shift_days)
    best, best_row = None, None
    for r in rows_of("site_power_w", rows, actor):
        if r.since + shift > at:
            continue
        w = r.value if r.quantity == "site_power_w" else cluster_watts(r)
        if w is not None and (best is None or w > best):
            best, best_row = w, r
    return None if best is None else Value(best, (best_row,))


@cache
def device_key(name: str) -> str:
    """The catalog key a cluster row's device names ("" when it names none or an unknown one)."""
    from simulator.catalog.hardware import accelerators

    if not name:
        return ""
    cat = accelerators()
    if name in cat:
        return name
    wanted = name.strip().lower()
    for key, acc in cat.items():
        if wanted == acc.name.lower():
            return key
    return "?"


def clusters_at(at: date, rows: tuple[InputRow, ...] | None = None, actor: str | None = None,
                shift_days: float = 0.0) -> tuple[tuple[tuple[str, float], ...], tuple[str, ...]]:
    """((device key, count), ...) of `actor`'s largest cluster of each device operational at
    or before `at`, and the rows read. A cluster of unnamed devices has key "" (any device);
    one naming a device outside the catalog is left out (no catalog device is it)."""
    rows = input_rows() if rows is None else rows
    shift = timedelta(days=shift_days)
    best: dict[str, InputRow] = {}
    for r in rows_of("cluster_devices", rows, actor):
        key = device_key(r.device)
        if r.since + shift > at or key == "?":
            continue
        if key not in best or r.value > best[key].value:
            best[key] = r
    return tuple((k, r.value) for k, r in best.items()), tuple(r.ref for r in best.values())


ASYNC_CSV = "async_replicas.csv"


@dataclass(frozen=True)
class AsyncRow:
    key: str
    since: date
    replicas: float
    run_fact_of: frozenset[str]
    source: str = ""

    @property
    def ref(self) -> str:
        return f"{ASYNC_CSV}:{self.key}"


@cache
def _async_rows() -> tuple[AsyncRow, ...]:
    return tuple(AsyncRow(r["key"], catalog_date(r, "since", ASYNC_CSV, True), float(r["replicas"]),
                          parse_run_facts(r.get("run_fact_of", ""), f"{ASYNC_CSV}: key={r['key']!r}"), r["source"])
                 for r in catalog_rows(ASYNC_CSV) if r["read_by_rule"] == "yes")


def async_replicas_at(at: date, withhold: frozenset[str] = frozenset()) -> Value | None:
    """Most asynchronous data-parallel replicas documented as used at or before `at`
    (async_replicas.csv rows read_by_rule = yes, less the withheld runs' rows)."""
    known = [r for r in _async_rows() if r.since <= at and not (r.run_fact_of & withhold)]
    if not known:
        return None
    best = max(known, key=lambda r: r.replicas)
    return Value(best.replicas, (best,))  # type: ignore[arg-type]
