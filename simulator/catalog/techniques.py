"""Parallel techniques and the dated evidence that each existed.

techniques.csv defines each technique (what it unlocks, the devices it allows);
technique_uses.csv lists the dated evidence that it existed: a paper ("publication"), a
documented training run that used it ("run at scale"), a released framework ("software
release") or a machine ("machine"). Evidence from a training run names the run
(`run_fact_of`) and, where one of the frontier's actors showed it, that actor (`actor`).
A technique is available to an actor at the date of its own earliest evidence, or of
anyone's plus an adoption lag (drawn by `reproduce`: how long other groups took to use
what one group showed), whichever is first, counting only evidence not withheld. A run that first showed a technique therefore never scores
itself with it: its own evidence is withheld and the next evidence dates the technique.

Nothing is read at import time; each table is parsed on first use and cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from simulator.catalog.eras import catalog_date, catalog_rows
from simulator.catalog.runfacts import parse_run_facts

TECHNIQUES_CSV = "techniques.csv"
USES_CSV = "technique_uses.csv"
USE_KINDS = ("publication", "run at scale", "software release", "machine")


@dataclass(frozen=True)
class Use:
    """One dated piece of evidence that a technique existed."""

    key: str
    technique: str
    at: date
    kind: str
    run_fact_of: frozenset[str]
    source: str
    actor: str = ""  # the actor that showed it ("" none of the frontier's actors)

    @property
    def ref(self) -> str:
        """This row as a catalog reference (file:key)."""
        return f"{USES_CSV}:{self.key}"


@dataclass(frozen=True)
class Technique:
    key: str
    name: str
    uses: tuple[Use, ...]  # oldest first
    source: str
    what_it_unlocks: str = ""
    max_devices_rule: str = ""

    def first_use(self, withhold: frozenset[str] = frozenset()) -> Use | None:
        """The earliest evidence not withheld (None: every piece of evidence is withheld)."""
        return next((u for u in self.uses if not (u.run_fact_of & withhold)), None)

    def enabling_use(self, withhold: frozenset[str] = frozenset(), lag_days: float = 0.0,
                     actor: str | None = None) -> tuple[date, Use] | None:
        """(date, evidence) from which `actor` may use it: its own evidence at once, any
        other evidence (not withheld) `lag_days` later; the earliest (None: all withheld)."""
        lag = timedelta(days=lag_days)
        found = [(u.at if (actor and u.actor == actor) else u.at + lag, u) for u in self.uses
                 if not (u.run_fact_of & withhold)]
        return min(found, key=lambda du: (du[0], du[1].key)) if found else None

    def available(self, withhold: frozenset[str] = frozenset(), lag_days: float = 0.0,
                  actor: str | None = None) -> date | None:
        """From when `actor` may use it (`enabling_use`'s date; None: all withheld)."""
        found = self.enabling_use(withhold, lag_days, actor)
        return None if found is None else found[0]

    @property
    def published(self) -> date | None:
        """The earliest publication (None if the technique has none)."""
        return next((u.at for u in self.uses if u.kind == "publication"), None)


@cache
def _uses() -> dict[str, tuple[Use, ...]]:
    out: dict[str, list[Use]] = {}
    for r in catalog_rows(USES_CSV):
        if r["kind"] not in USE_KINDS:
            raise ValueError(f"{USES_CSV}: key={r['key']!r}: column 'kind': {r['kind']!r} not one of "
                             f"{', '.join(USE_KINDS)}")
        use = Use(r["key"], r["technique"], catalog_date(r, "date", USES_CSV, True), r["kind"],
                  parse_run_facts(r.get("run_fact_of", ""), f"{USES_CSV}: key={r['key']!r}"), r["source"],
                  r.get("actor", ""))
        out.setdefault(use.technique, []).append(use)
    return {k: tuple(sorted(v, key=lambda u: (u.at, u.key))) for k, v in out.items()}


@cache
def _techniques() -> dict[str, Technique]:
    uses = _uses()
    out = {}
    for r in catalog_rows(TECHNIQUES_CSV):
        if not uses.get(r["key"]):
            raise ValueError(f"{TECHNIQUES_CSV}: key={r['key']!r}: no evidence in {USES_CSV}")
        out[r["key"]] = Technique(r["key"], r["name"], uses[r["key"]], r["source"], r["what_it_unlocks"],
                                  r["max_devices_rule"])
    unknown = sorted(set(uses) - set(out))
    if unknown:
        raise ValueError(f"{USES_CSV}: technique={unknown[0]!r}: not a key of {TECHNIQUES_CSV}")
    return out


def techniques() -> dict[str, Technique]:
    """All parallel techniques by key (a fresh dict of shared frozen objects)."""
    return dict(_techniques())


def techniques_known(at: date, withhold: frozenset[str] = frozenset(), lag_days: float = 0.0,
                     actor: str | None = None) -> list[Technique]:
    """Techniques a run of `actor` starting at `at` may use, oldest first: available
    (its own evidence, or another's plus `lag_days`, not withheld) on or before `at`."""
    found = [(d, t) for t in _techniques().values()
             if (d := t.available(withhold, lag_days, actor)) is not None and d <= at]
    return [t for _, t in sorted(found, key=lambda dt: (dt[0], dt[1].key))]


@cache
def known_keys(at: date, withhold: frozenset[str] = frozenset(), lag_days: float = 0.0,
               actor: str | None = None) -> frozenset[str]:
    """The keys of `techniques_known` (cached: the solver asks for every actor and date)."""
    return frozenset(t.key for t in techniques_known(at, withhold, lag_days, actor))


@cache
def enabling_refs(used: tuple[str, ...], withhold: frozenset[str] = frozenset(), lag_days: float = 0.0,
                  actor: str | None = None) -> tuple[str, ...]:
    """The evidence rows (technique_uses.csv:key) that made each technique in `used`
    available to `actor` (a run's provenance)."""
    techs = _techniques()
    return tuple(found[1].ref for key in used if (found := techs[key].enabling_use(withhold, lag_days, actor)))
