"""The run-fact ledger: every input row that is a fact of a training run, with that run.

Rows name their runs in `run_fact_of` (catalog/runfacts.py); this module gathers them
from every table the frontier reads, validated by each table's own loader, so
`simulator catalog run-facts` lists exactly what a scored run's frontier withholds, and
a test can check a solved run's provenance (`Run.inputs`, file:key) against it.
"""

from __future__ import annotations

from functools import cache

from simulator.catalog.runfacts import run_registry
from simulator.catalog.techniques import techniques
from simulator.catalog.uncertain import UNCERTAINTY_CSV, uncertain_inputs
from simulator.frontier.inputs import ASYNC_CSV, INPUTS_CSV, _async_rows, all_input_rows
from simulator.frontier.workloads import WORKLOADS_TOML, families


@cache
def run_facts() -> tuple[dict, ...]:
    """Every row naming a run: {file, key, ref, runs, scored, date, what}."""
    reg = run_registry()
    out: list[dict] = []

    def add(file: str, key: str, runs, when, what: str, source: str) -> None:
        if runs:
            out.append({"file": file, "key": key, "ref": f"{file}:{key}", "runs": sorted(runs),
                        "scored": sorted(r for r in runs if reg[r].scored),
                        "date": when.isoformat() if when else None, "what": what, "source": source})

    for r in all_input_rows():
        add(INPUTS_CSV, r.key, r.run_fact_of, r.since, f"{r.quantity} = {r.value:g} {r.unit} ({r.actor_key})", r.source)
    for t in techniques().values():
        for u in t.uses:
            add("technique_uses.csv", u.key, u.run_fact_of, u.at, f"{t.key}: {u.kind}", u.source)
    for r in _async_rows():
        add(ASYNC_CSV, r.key, r.run_fact_of, r.since, f"{r.replicas:g} asynchronous replicas", r.source)
    for f in families().values():
        for d in (*f.since, *f.batch_limits, *f.sizing, *f.seq_len, *f.learners):
            add(WORKLOADS_TOML, d.key, d.run_fact_of, d.since, f"{f.key}: {d.key.split('.', 1)[1]} = {d.value:g}"
                if d.value else f"{f.key}: {d.key.split('.', 1)[1]}", d.source)
        add(WORKLOADS_TOML, f"{f.key}.per_device_batch", f.per_device_batch_facts, None,
            f"{f.key}: per-device batch {f.per_device_batch}", f.source)
    for k, u in uncertain_inputs().items():
        add(UNCERTAINTY_CSV, k, u.run_fact_of, None, f"{u.quantity} ({u.median:g} {u.unit})", u.source)
    return tuple(out)


def facts_of(ref: str) -> frozenset[str]:
    """The runs a row (file:key) is a fact of (empty when it names none)."""
    return _by_ref().get(ref, frozenset())


@cache
def _by_ref() -> dict[str, frozenset[str]]:
    return {r["ref"]: frozenset(r["runs"]) for r in run_facts()}
