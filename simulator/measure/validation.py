"""Re-predict published training throughput: `simulator validate`.

Reads any CSV in the column format of catalog/calibration.csv (a copy of
shared/data/mfu_calibration.csv), turns each row into a model, a cluster and a
layout, simulates one step and compares with the row's measured figure: the
iteration time if the row has one, else MFU, else HFU.

Free-text columns are read for their meaning: `hardware` names any catalog
accelerator; `sharding` ("ZeRO stage 3 (model-parallel size 2)", "FSDP", "none"),
`activation_recompute` ("full ...", "selective ...", "no") and `sequence_parallel`
("yes"/"no"). Missing optional fields take the defaults in `DEFAULTS`, and the row
says which it defaulted. A row without the model shape, the device count, a known
accelerator, a global batch or a measured figure is skipped with the reason.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

from simulator.core.specs import (
    DIMENSION_KEYS,
    Attention,
    Efficiency,
    Layout,
    Recompute,
    Schedule,
    SearchSpace,
    Stack,
    Zero,
)
from simulator.costs.compute import attention_kernel
from simulator.costs.step import Infeasible, step_costs
from simulator.engine.step import StepResult, simulate_step
from simulator.measure.measurement import (
    METRICS,
    REQUIRED,
    Row,
    parse_row,
)
from simulator.measure.rowtext import _num
from simulator.search.rank import search_layouts


def describe(layout: Layout) -> str:
    """Compact layout text: 'tp8 pp64 dp6 mb1 1f1b rc-full' (`Layout.text`)."""
    return layout.text()


#: Columns whose values must be fractions in (0, 1] when given (a percentage is a unit error).
FRACTIONS = ("mfu", "hfu")
#: Columns whose values must be positive numbers when given.
POSITIVE = ("n_devices", "iteration_time_s", "tokens_per_s_per_device", "global_batch_seqs", "global_batch_tokens",
            "micro_batch", *DIMENSION_KEYS, "virtual_pipeline_stages", "layers", "hidden", "heads",
            "seq_len", "vocab", "ffn_hidden", "kv_heads", "experts", "top_k", "expert_ffn")


def check_values(path, rows: list[dict], strict: bool = True) -> list[str]:
    """A value no run can have (an MFU or HFU outside (0, 1], 44 for 0.44; a count or time that
    is not a positive number; free text where a number belongs): with `strict`, ValueError (one
    line: file, row, column, value); else the cell is made unstated (searched or defaulted, as
    a blank cell) and named in the returned warnings and in the row's `_unreadable`."""
    warnings = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows, start=2):
        where = f"{path}: row {i} (id={row.get('id') or '?'})"
        rid = (row.get("id") or "").strip()
        problem = ("column 'id': empty" if not rid else
                   f"column 'id': {rid!r} repeats row {seen[rid]}" if rid in seen else None)
        if problem is not None:
            if strict:
                raise ValueError(f"{where}: {problem}")
            row["id"] = f"{rid or 'row'}@{i}"  # named by its line, so every result row stays apart
            warnings.append(f"{where}: {problem}; named {row['id']!r}")
        seen.setdefault(rid, i)
        for col in FRACTIONS + POSITIVE:
            text = (row.get(col) or "").strip()
            if not text:
                continue
            value = _num(text)
            problem = None
            if value is None or not math.isfinite(value):
                problem = f"{text!r} is not a number"
            elif col in FRACTIONS and not 0 < value <= 1:
                problem = f"{text} is not in (0, 1] (a fraction: 0.44, not 44)"
            elif col in POSITIVE and value <= 0:
                problem = f"{text} must be a positive number"
            if problem is None:
                continue
            if strict:
                raise ValueError(f"{where}: column {col!r}: {problem}")
            warnings.append(f"{where}: column {col!r}: {problem}; read as unstated")
            row[col] = ""
            row.setdefault("_unreadable", []).append(f"{col} unreadable ({text!r})")
    return warnings


def read_rows(path: Path, strict: bool = True, warnings: list[str] | None = None) -> list[dict]:
    """Rows of a calibration-format CSV (ValueError naming the file, row, column and value
    when unreadable or a required column is missing; an impossible value raises with `strict`,
    else that cell is read as unstated and its line appended to `warnings`)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: cannot read as CSV: {exc}") from None
    if not rows:
        raise ValueError(f"{path}: no data rows")
    absent = [k for k in ("id", "n_devices", "hardware") if k not in rows[0]]
    if not any(k in rows[0] for k in METRICS):
        absent.append("a metric (" + ", ".join(METRICS) + ")" if len(absent) < 2 else "a metric")
    if not all(k in rows[0] for k in REQUIRED) and "model" not in rows[0]:
        absent.append("model or the shape" if absent else "model or the shape (" + ", ".join(REQUIRED) + ")")
    if absent:
        raise ValueError(f"{path}: missing column(s) {', '.join(absent)}: the format of calibration.csv")
    found = check_values(path, rows, strict)
    if warnings is not None:
        warnings.extend(found)
    return rows


#: Layout fields the search may choose when a row leaves them unstated (`Row.origin` "default"
#: or "stack"): how the model is split (only when the row says nothing of it), sharding,
#: micro-batch, recompute, sequence parallelism and interleaving.
SEARCHABLE = ("tp", "pp", "zero", "micro_batch", "activation_recompute", "sequence_parallel",
              "virtual_pipeline_stages")
#: What each metric is in a search's frame.
_FRAME_METRIC = {"iteration_time_s": lambda f: f.step_time_s, "mfu": lambda f: f.mfu,
                 "tokens_per_s_per_device": lambda f: f.tokens_per_s / f.devices}


def search_unstated(row: Row, spec: tuple, eff: Efficiency) -> tuple:
    """The row's model, cluster and the fastest layout that keeps every stated field (tp,
    pp, dp, batch, sharding, precision ...) on all its devices and chooses the unstated ones
    by the layout search; the row's `origin` then says what was searched, and `spread` the
    best and median of the metric over the feasible completions (how much the unstated
    fields matter)."""
    model, cluster, layout = spec
    free = [k for k in SEARCHABLE if row.origin.get(k) in ("default", "stack")]
    if not free:
        return spec
    split = "tp" in free or "pp" in free
    space = SearchSpace(
        global_batches=(layout.global_batch,), stack=row.stack.key if row.stack else None,
        context_parallel=(layout.cp,), expert_parallel=(layout.ep,), offload=(layout.offload,),
        max_micro_batch=8 if "micro_batch" in free else layout.micro_batch,
        schedules=((Schedule.ONE_F_ONE_B, Schedule.INTERLEAVED)
                   if "virtual_pipeline_stages" in free and (layout.pp > 1 or "pp" in free) else (layout.schedule,)),
        max_virtual_stages=4 if "virtual_pipeline_stages" in free else max(layout.virtual_stages, 2),
        recompute=tuple(Recompute) if "activation_recompute" in free else (layout.recompute,),
        sequence_parallel=((False, True) if "sequence_parallel" in free and (layout.tp > 1 or "tp" in free)
                           else (layout.sequence_parallel,)),
        zero=tuple(Zero) if "zero" in free else (layout.zero,),
        max_tp=cluster.devices_per_node if "tp" in free else layout.tp,
        max_pp=None if "pp" in free else layout.pp, top_k=0)
    frame = search_layouts(model, cluster, layout, space, eff).frame
    hit = frame[(frame.reason == "") & (frame.devices == cluster.n_devices)]
    for key, col in (("tp", "tp"), ("pp", "pp"), ("micro_batch", "micro_batch")):
        if key not in free:
            hit = hit[hit[col] == getattr(layout, col)]
    if hit.empty:
        row.defaulted.append(f"searched {', '.join(free)}: no feasible completion")
        return spec
    best = hit.iloc[0]
    found = dataclasses.replace(
        layout, tp=int(best.tp), pp=int(best.pp), dp=int(best.dp), zero=Zero.parse(int(best.zero)),
        micro_batch=int(best.micro_batch), schedule=Schedule(best.schedule),
        virtual_stages=int(best.virtual_stages), recompute=Recompute(best.recompute),
        sequence_parallel=bool(best.sequence_parallel))
    row.origin.update({k: "searched" for k in free})
    if split:
        row.origin["dp"] = "searched"
    row.defaulted = [k for k in row.defaulted if k not in free] + [f"searched {', '.join(free)}"]
    if row.metric in _FRAME_METRIC:
        values = _FRAME_METRIC[row.metric](hit)
        row.spread = {"completions": float(len(hit)), "best": float(values.iloc[0]), "median": float(values.median())}
    row.layout = describe(found)
    return model, cluster, found


def complete(raw: dict, eff: Efficiency, fill: str = "auto") -> tuple[Row, tuple | None]:
    """A row read and its unstated layout fields completed: by the stack's documented
    defaults, else `DEFAULTS` (fill="defaults"); by the fastest feasible choice of the
    layout search (fill="search"); or by the defaults, searched only where they do not fit
    in memory (fill="auto"). The row says which."""
    if fill not in ("defaults", "search", "auto"):
        raise ValueError(f"fill={fill!r}: 'defaults', 'search' or 'auto'")
    row, spec = parse_row(raw)
    if spec is None:
        return row, None
    if fill == "search" or fill == "auto" and not _fits(spec, eff, row.stack):
        spec = search_unstated(row, spec, eff)
    return row, spec


def _fits(spec: tuple, eff: Efficiency, stack: Stack | None) -> bool:
    """False only when the layout runs out of memory (its costs, no simulation); another
    reason it cannot run is not the fill's to cure."""
    costs = step_costs(*spec, eff, stack)
    return isinstance(costs, Infeasible) or bool(costs.memory.fits)


def validate(rows: list[dict], eff: Efficiency, fill: str = "auto") -> list[Row]:
    """Predict every usable row (completed by `complete`); skipped rows carry their reason."""
    out = []
    for raw in rows:
        row, spec = complete(raw, eff, fill)
        if spec is not None:
            result = simulate_step(*spec, eff, row.stack)
            row.result, row.attention_kernel = result, kernel_used(spec, eff, row.stack)
            if not result.feasible:
                row.skipped = f"predicted infeasible: {result.reason.value} ({result.detail})"
            else:
                row.predicted = predicted(row.metric, result)
        out.append(row)
    return out


def kernel_used(spec: tuple, eff: Efficiency, stack: Stack | None) -> str:
    """The fused attention kernel whose published rate times the row's attention core (its
    stack's kernel on its device, where kernel_benchmarks.csv has it), else ""."""
    _, cluster, layout = spec
    kernel = attention_kernel(cluster.accelerator, eff, stack) if layout.attention is Attention.FLASH else None
    return kernel[0] if kernel else ""


#: A measured step time this many times the prediction or more (within 3x) reads as milliseconds.
MS_FACTOR = 1000.0


def unit_warnings(rows: list[Row]) -> list[str]:
    """Rows whose measured step time is about 1000x the prediction: a column of milliseconds
    under `iteration_time_s` (one warning line each, naming row, column and value)."""
    return [f"{r.row_id}: column 'iteration_time_s': {r.measured:g} is {r.measured / r.predicted:.0f}x the "
            "prediction; milliseconds rather than seconds?"
            for r in rows if not r.skipped and r.metric == "iteration_time_s" and r.predicted > 0
            and MS_FACTOR / 3 <= r.measured / r.predicted <= MS_FACTOR * 3]


def predicted(metric: str, result: StepResult) -> float:
    """The simulated value of a row's measured metric."""
    return {"iteration_time_s": result.step_time_s, "tokens_per_s_per_device": result.tokens_per_s / result.n_devices,
            "mfu": result.mfu, "hfu": result.hfu}[metric]


def summary(rows: list[Row]) -> dict:
    """Mean and max absolute relative error over predicted rows."""
    errs = [abs(r.rel_error) for r in rows if not r.skipped]
    return {
        "rows": len(rows),
        "predicted": len(errs),
        "skipped": len(rows) - len(errs),
        "mean_abs_rel_error": sum(errs) / len(errs) if errs else math.nan,
        "max_abs_rel_error": max(errs) if errs else math.nan,
    }
