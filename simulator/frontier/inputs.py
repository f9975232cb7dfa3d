"""Era series of the frontier's constraints (catalog/frontier_inputs.csv).

Each row is one sourced fact: a quantity, the date from which it holds, its value,
the actor it belongs to. The rules that turn rows into a constraint at a date:

- annual_spend_usd: each actor's latest row at or before the date; the largest actor.
- cluster_devices, host_devices: the largest row at or before the date (capacity that
  existed once is taken to stay available).
- compute_share_of_spend, run_share_of_compute, max_duration_days: the latest row at or
  before the date, else the earliest row (treated as constants of the field).
Quantities filed for the record only (cluster_cost_usd, investment_usd, capex_usd,
supercomputer_devices) are checked but read by no rule: they are not one lab's
spending or one AI training cluster.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files

from simulator.units import partial_date

INPUTS_CSV = "frontier_inputs.csv"
LATEST_PER_ACTOR = ("annual_spend_usd",)
LARGEST_SO_FAR = ("cluster_devices", "host_devices")
CONSTANTS = ("compute_share_of_spend", "run_share_of_compute", "max_duration_days")
RECORD_ONLY = ("cluster_cost_usd", "investment_usd", "capex_usd", "supercomputer_devices")
QUANTITIES = LATEST_PER_ACTOR + LARGEST_SO_FAR + CONSTANTS + RECORD_ONLY


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


class Value(float):
    """A float that remembers the rows it came from (`rows`)."""

    rows: tuple[InputRow, ...]

    def __new__(cls, value: float, rows: tuple[InputRow, ...]):
        out = super().__new__(cls, value)
        out.rows = rows
        return out


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
        out.append(InputRow(key, r["quantity"], _since(r["since"], key), value, r["unit"], r["actor"],
                            r["source"], r["verification"], r["notes"]))
    return tuple(out)


@cache
def input_rows() -> tuple[InputRow, ...]:
    return parse_inputs(files("simulator.catalog").joinpath(INPUTS_CSV).read_text(encoding="utf-8"))


def value_at(quantity: str, at: date, rows: tuple[InputRow, ...] | None = None) -> Value | None:
    """The quantity at `at` by the rule of its kind (module doc); None if no row applies."""
    if quantity not in QUANTITIES or quantity in RECORD_ONLY:
        raise ValueError(f"{quantity!r} is not a constraint quantity; one of "
                         f"{', '.join(LATEST_PER_ACTOR + LARGEST_SO_FAR + CONSTANTS)}")
    mine = [r for r in (input_rows() if rows is None else rows) if r.quantity == quantity]
    before = [r for r in mine if r.since <= at]
    if quantity in LATEST_PER_ACTOR:
        latest: dict[str, InputRow] = {}
        for r in sorted(before, key=lambda r: r.since):
            latest[r.actor] = r
        best = max(latest.values(), key=lambda r: r.value, default=None)
    elif quantity in LARGEST_SO_FAR:
        best = max(before, key=lambda r: r.value, default=None)
    else:
        pool = before or mine
        best = max(pool, key=lambda r: r.since, default=None) if before else min(pool, key=lambda r: r.since,
                                                                                 default=None)
    return None if best is None else Value(best.value, (best,))
