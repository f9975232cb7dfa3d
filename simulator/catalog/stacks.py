"""Software stacks (catalog/stacks.toml) with the evidence behind each (stack_evidence.csv).

A stack is what a scenario trains *with*: the same layout runs differently, or not at
all, under Megatron-LM 2021, Megatron-DeepSpeed, Megatron-Core or torchtitan. Every
field of a stack names the evidence rows it rests on, and every evidence row names the
repository, file and argument it was read in (verification 'repo'). Read on first use.
"""

from __future__ import annotations

import csv
import io
import tomllib
from functools import cache
from importlib.resources import files

from simulator.catalog.efficiency import ATTENTION_KERNELS
from simulator.catalog.hardware import accelerators
from simulator.core.specs import Stack
from simulator.core.units import partial_date

STACKS_TOML = "stacks.toml"
EVIDENCE_CSV = "stack_evidence.csv"
_FIELDS = {"name", "since", "max_zero", "max_zero_with_pipeline", "interleaved", "uneven_stages",
           "sequence_parallel", "tp_overlap", "dp_overlap", "param_gather_overlap", "context_parallel",
           "cp_ring", "expert_parallel", "offload", "sequence_parallel_default", "zero_default", "evidence"}
_OPTIONAL = {"seq_len_default", "attention_kernel"}
_BEHAVIOURS = ("tp_overlap", "dp_overlap", "param_gather_overlap", "context_parallel", "cp_ring", "expert_parallel", "offload")


@cache
def stack_evidence() -> dict[str, dict[str, str]]:
    """'stack:behaviour' -> the evidence row (value, since, source, verification, notes)."""
    text = files("simulator.catalog").joinpath(EVIDENCE_CSV).read_text(encoding="utf-8")
    out = {}
    for r in csv.DictReader(io.StringIO(text)):
        key = f"{r['stack']}:{r['behaviour']}"
        if key in out or not r["source"].strip():
            raise ValueError(f"{EVIDENCE_CSV}: {key}: duplicate or without a source")
        out[key] = r
    return out


@cache
def _stacks() -> dict[str, Stack]:
    return parse_stacks(files("simulator.catalog").joinpath(STACKS_TOML).read_text(encoding="utf-8"),
                        stack_evidence())


def parse_stacks(text: str, evidence: dict[str, dict[str, str]]) -> dict[str, Stack]:
    """The stacks of a stacks.toml text; ValueError naming the table and key of a bad value."""
    data = tomllib.loads(text)
    out = {}
    for key, t in data.items():
        where = f"{STACKS_TOML}: [{key}]"
        if not _FIELDS <= set(t) <= _FIELDS | _OPTIONAL:
            raise ValueError(f"{where}: needs exactly the keys {', '.join(sorted(_FIELDS))} "
                             f"(and may have {', '.join(sorted(_OPTIONAL))})")
        seq = t.get("seq_len_default")
        if seq is not None and not (isinstance(seq, int) and seq > 0):
            raise ValueError(f"{where}: seq_len_default = {seq!r}: a positive whole number of tokens")
        missing = [e for e in t["evidence"] if e not in evidence]
        if not t["evidence"] or missing:
            raise ValueError(f"{where}: evidence rows not in {EVIDENCE_CSV}: {missing or 'none given'}")
        if not 0 <= t["max_zero_with_pipeline"] <= t["max_zero"] <= 3:
            raise ValueError(f"{where}: need 0 <= max_zero_with_pipeline <= max_zero <= 3")
        kernels = _attention_kernel(where, key, t)
        source = "; ".join(f"{e}: {evidence[e]['source']}" for e in t["evidence"])
        out[key] = Stack(key, t["name"], partial_date(str(t["since"])), int(t["max_zero"]),
                         int(t["max_zero_with_pipeline"]), bool(t["interleaved"]), bool(t["uneven_stages"]),
                         bool(t["sequence_parallel"]), source, **{b: bool(t[b]) for b in _BEHAVIOURS},
                         sequence_parallel_default=bool(t["sequence_parallel_default"]),
                         zero_default=int(t["zero_default"]), seq_len_default=seq, attention_kernel=kernels)
    return out


def _attention_kernel(where: str, key: str, t: dict) -> tuple[tuple[str, str], ...]:
    """The stack's attention_kernel table ({accelerator key or "*" = kernel}) as
    ((accelerator name or "*", kernel), ...); ValueError naming the key and value."""
    table = t.get("attention_kernel")
    if table is None:
        return ()
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{where}: attention_kernel = {table!r}: a table of accelerator key (or \"*\") = kernel")
    if f"{key}:attention_kernel" not in t["evidence"]:
        raise ValueError(f"{where}: attention_kernel needs the evidence row {key}:attention_kernel")
    catalog, out = accelerators(), []
    for device, kernel in table.items():
        if device != "*" and device not in catalog:
            raise ValueError(f"{where}: attention_kernel: {device!r}: not an accelerator key")
        if kernel not in ATTENTION_KERNELS:
            raise ValueError(f"{where}: attention_kernel.{device} = {kernel!r}: not one of {', '.join(ATTENTION_KERNELS)}")
        out.append((device if device == "*" else catalog[device].name, kernel))
    return tuple(out)


def stacks() -> dict[str, Stack]:
    """All stacks by key (a fresh dict of frozen objects)."""
    return dict(_stacks())


def find_stack(key: str | None) -> Stack | None:
    """The stack of `key` (None for None); KeyError listing the keys otherwise.

    >>> find_stack("nemo-2024").max_zero, find_stack(None)
    (1, None)
    """
    if key is None:
        return None
    try:
        return _stacks()[key]
    except KeyError:
        raise KeyError(f"unknown stack {key!r}; one of: {', '.join(_stacks())}") from None
