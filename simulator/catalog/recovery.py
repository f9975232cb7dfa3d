"""Published recovery times: how long a training job loses per interruption, by date.

recovery_times.csv lists, oldest first, each published time from an interruption to
training resumed (`measure` "restart"), or the whole time lost per interruption of a
production run (`measure` "lost": restart, redone work and the checkpoints' share; an
upper bound on the restart alone). Each row names its date, scale, the actor that
showed it (one of catalog/actors.csv, or none), whether its recovery swaps in standby or
spare machines (`spares`: yes, no, not stated) and the runs it is a fact of
(`run_fact_of`, catalog/runfacts.py).

The rule (`best_recovery`), the one the catalog already uses for techniques
(catalog/techniques.py): a published recovery is a technique. Its actor has it from the
row's date, every other actor `lag_days` later (the drawn technique adoption lag); the
recovery available at a date is the shortest one available by then, counting only rows
not withheld (a run scored against the frontier never reads its own recovery). Rows
whose recovery needs spare machines are kept as evidence but never read: the model does
not hold spares, so a run may not have their recovery without paying for them
(costs/failures.py says why spares are not modelled). The best published time is a
non-increasing step function of the date; after the newest row it holds at its last
level (no later publication, no extrapolation).

Why an envelope and not a fitted log-linear trend: the rows are few and unlike (a
production run's upper bound on everything lost, a system paper's restoration time at
a few thousand devices), so a fitted slope would measure which kind of paper came when,
not how fast recovery improved; the envelope uses each published number as it stands,
reaches other labs by the adoption lag the model draws for every technique, and never
goes beyond the last publication.

Nothing is read at import time; the table is parsed on first use and cached. A bad row
raises ValueError naming the file, line, key, column and value.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib.resources import files

from simulator.catalog.eras import catalog_rows
from simulator.catalog.runfacts import parse_run_facts
from simulator.core.units import partial_date

RECOVERY_CSV = "recovery_times.csv"
MEASURES = ("restart", "lost")
SPARES = ("yes", "no", "not stated")
COLUMNS = ("key", "date", "recovery_s", "measure", "devices", "device", "actor", "spares", "run_fact_of",
           "source", "url", "verification", "notes")


@dataclass(frozen=True)
class RecoveryPoint:
    """One published recovery time."""

    key: str
    at: date
    recovery_s: float
    measure: str  # "restart" or "lost" (module doc)
    devices: float
    actor: str  # "" when none of the frontier's actors showed it
    spares: str  # "yes": needs standby or spare machines (never read)
    run_fact_of: frozenset[str]
    source: str

    @property
    def ref(self) -> str:
        return f"{RECOVERY_CSV}:{self.key}"


def parse_recovery(text: str, name: str = RECOVERY_CSV, actors: frozenset[str] | None = None
                   ) -> tuple[RecoveryPoint, ...]:
    """The rows of `text` (oldest first); ValueError naming file, line, key, column and value.
    `actors`: the allowed actor keys (None: not checked)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"{name}: line 1: missing column {missing[0]!r}")
    out, seen = [], set()
    for line, raw in enumerate(reader, start=2):
        r = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        key = r["key"]

        def bad(col, problem, r=r, key=key, line=line):
            return ValueError(f"{name}: line {line}: key={key!r}: column {col!r}: {problem}: {r.get(col, '')!r}")

        if not key or key in seen:
            raise bad("key", "empty or duplicate key")
        seen.add(key)
        if not r["source"]:
            raise bad("source", "empty")
        try:
            at = partial_date(r["date"])
        except ValueError:
            raise bad("date", "not a date") from None
        numbers = {}
        for col in ("recovery_s", "devices"):
            try:
                x = float(r[col])
            except ValueError:
                x = math.nan
            if not (math.isfinite(x) and x > 0):
                raise bad(col, "not a number > 0")
            numbers[col] = x
        if r["measure"] not in MEASURES:
            raise bad("measure", f"not one of {', '.join(MEASURES)}")
        if r["spares"] not in SPARES:
            raise bad("spares", f"not one of {', '.join(SPARES)}")
        if actors is not None and r["actor"] and r["actor"] not in actors:
            raise bad("actor", "not a key of actors.csv")
        facts = parse_run_facts(r["run_fact_of"], f"{name}: line {line}: key={key!r}")
        out.append(RecoveryPoint(key, at, numbers["recovery_s"], r["measure"], numbers["devices"], r["actor"],
                                 r["spares"], facts, r["source"]))
    return tuple(sorted(out, key=lambda p: (p.at, p.key)))


@cache
def recovery_points() -> tuple[RecoveryPoint, ...]:
    """Every row of recovery_times.csv, oldest first."""
    return parse_recovery(files("simulator.catalog").joinpath(RECOVERY_CSV).read_text(encoding="utf-8"),
                          actors=frozenset(r["key"] for r in catalog_rows("actors.csv")))


def readable(points: tuple[RecoveryPoint, ...], withhold: frozenset[str] = frozenset()) -> tuple[RecoveryPoint, ...]:
    """The rows a run may read: not needing spares, not a fact of a withheld run."""
    return tuple(p for p in points if p.spares != "yes" and not (p.run_fact_of & withhold))


def best_recovery(at: date, withhold: frozenset[str] = frozenset(), lag_days: float = 0.0,
                  actor: str | None = None, points: tuple[RecoveryPoint, ...] | None = None
                  ) -> RecoveryPoint | None:
    """The shortest published recovery a run of `actor` starting at `at` may use: its own rows
    from their dates, everyone else's `lag_days` later, none needing spares or withheld
    (None: no such row by then). Ties go to the oldest row."""
    lag = timedelta(days=lag_days)
    found = [p for p in readable(recovery_points() if points is None else points, withhold)
             if (p.at if (actor and p.actor == actor) else p.at + lag) <= at]
    return min(found, key=lambda p: (p.recovery_s, p.at, p.key)) if found else None


@cache
def recovery_at(at: date, withhold: frozenset[str] = frozenset(), lag_days: float = 0.0,
                actor: str | None = None) -> tuple[float, str]:
    """(the best published recovery in seconds, its row's ref) for `best_recovery` on the
    catalog; (inf, "") before any (cached: the solver asks for every actor and date)."""
    p = best_recovery(at, withhold, lag_days, actor)
    return (math.inf, "") if p is None else (p.recovery_s, p.ref)


def last_published() -> date:
    """The date of the newest row (any, spares or not): after it the published level holds."""
    return recovery_points()[-1].at
