"""Training runs named by the catalog, and the rule that no run scores itself.

Every input row that is, or is derived from, a fact of one training run (its passes,
batch, worker or actor counts, cluster, model, the date it first showed a technique)
names that run in a `run_fact_of` cell: run ids separated by ';'. The runs are those the
reproduction compares with (`run_id` of ai_and_compute.csv and notable_runs_2012_2018.csv:
frontier_runs_2018_2026.csv: scored runs) and the other runs the inputs come from (runs.csv). When a scored run is
compared with the frontier, the frontier is solved with its rows withheld
(`FrontierConfig.withhold`); the loaders drop a row whose runs meet the withheld set.

Nothing is read at import time; the registry is read on first use and cached.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files

from simulator.core.units import partial_date

RUN_FACT_COLUMN = "run_fact_of"
RUNS_CSV = "runs.csv"
POINT_FILES = (("ai_and_compute.csv", "system", "publication_date", "training_flop"),
               ("notable_runs_2012_2018.csv", "name", "publication_date", "training_compute_flop"),
               ("frontier_runs_2018_2026.csv", "name", "publication_date", "training_compute_flop"))
_RUN_FILES = ", ".join(f for f, *_ in POINT_FILES) + f" or {RUNS_CSV}"


@dataclass(frozen=True)
class NamedRun:
    """A training run some input row or published point names."""

    run_id: str
    name: str
    at: date | None
    organization: str
    source: str
    scored: bool  # a published point with a FLOP value: the reproduction compares it with the frontier


def _rows(name: str) -> list[dict[str, str]]:
    text = files("simulator.catalog").joinpath(name).read_text(encoding="utf-8")
    return [{k: (v or "").strip() for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]


@cache
def run_registry() -> dict[str, NamedRun]:
    """Every run id: the published points' runs (scored when they have a FLOP value) and runs.csv."""
    out: dict[str, NamedRun] = {}
    for name, col, when, flop in POINT_FILES:
        for r in _rows(name):
            rid = r.get("run_id", "")
            if not rid:
                raise ValueError(f"{name}: {col}={r.get(col)!r}: column 'run_id': empty")
            at = partial_date(r[when]) if r.get(when) else None
            scored = bool(r.get(flop)) and at is not None
            old = out.get(rid)
            out[rid] = NamedRun(rid, old.name if old else r[col], old.at if old and old.at else at,
                                r.get("organization", old.organization if old else ""), r.get("source", ""),
                                scored or (old.scored if old else False))
    for r in _rows(RUNS_CSV):
        rid = r["run_id"]
        if not rid or rid in out:
            raise ValueError(f"{RUNS_CSV}: run_id={rid!r}: empty or already a published point's run")
        if not r.get("source"):
            raise ValueError(f"{RUNS_CSV}: run_id={rid!r}: column 'source': empty")
        try:
            at = partial_date(r["date"])
        except ValueError:
            raise ValueError(f"{RUNS_CSV}: run_id={rid!r}: column 'date': not a date: {r['date']!r}") from None
        out[rid] = NamedRun(rid, r["name"], at, r["organization"], r["source"], False)
    return out


def scored_runs() -> frozenset[str]:
    """Ids of the runs the reproduction scores (published points with a FLOP value)."""
    return frozenset(k for k, r in run_registry().items() if r.scored)


def parse_run_facts(cell: str | list | None, where: str) -> frozenset[str]:
    """The run ids of a `run_fact_of` cell ('a;b' or a TOML list); ValueError naming `where`
    (file and key) for an id that names no run."""
    if cell is None or cell == "":
        return frozenset()
    items = cell if isinstance(cell, list) else str(cell).split(";")
    ids = frozenset(str(x).strip() for x in items if str(x).strip())
    unknown = sorted(ids - set(run_registry()))
    if unknown:
        raise ValueError(f"{where}: column '{RUN_FACT_COLUMN}': unknown run {unknown[0]!r} "
                         f"(a run_id of {_RUN_FILES})")
    return ids


def resolve_withhold(names) -> frozenset[str]:
    """Run ids to withhold from names or ids ('all' or 'scored': every scored run);
    ValueError listing nothing long for an unknown one."""
    out: set[str] = set()
    reg = run_registry()
    by_name = {r.name.lower(): k for k, r in reg.items()}
    for n in names or ():
        key = str(n).strip()
        if key.lower() in ("all", "scored"):
            out |= scored_runs()
        elif key in reg:
            out.add(key)
        elif key.lower() in by_name:
            out.add(by_name[key.lower()])
        else:
            raise ValueError(f"unknown run {key!r}: not an id or name of a published run, or 'scored'")
    return frozenset(out)
