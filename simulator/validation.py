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
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from simulator.catalog import default_links, find_accelerator
from simulator.catalog.stacks import find_stack
from simulator.costs.step import Infeasible, step_costs
from simulator.engine.step import StepResult, simulate_step
from simulator.rowtext import (  # noqa: F401  (re-exported: the readers are part of validate's interface)
    STACK_WORDS,
    UNSTATED,
    _int,
    _num,
    find_builtin,
    gated_in,
    overlaps_in,
    read_bool,
    read_precision,
    read_recompute,
    read_zero,
    run_date,
)
from simulator.search.rank import search_layouts
from simulator.specs import (
    Attention,
    Cluster,
    Efficiency,
    Layout,
    Precision,
    Recompute,
    Schedule,
    SearchSpace,
    Stack,
    Transformer,
    Zero,
)

#: Defaults for missing optional fields (documented in the README).
DEFAULTS = {
    "micro_batch": "1",
    "activation_recompute": "none",
    "sequence_parallel": "no",
    "virtual_pipeline_stages": "1 (no interleaving)",
    "ffn_hidden": "4 x hidden",
    "kv_heads": "= heads",
    "vocab": "51200 (Megatron's padded GPT-2 vocabulary)",
    "precision": "bf16",
    "attention": "materialized for a run before FlashAttention (2022-05): its date, else its stack's or "
                 "device's release",
}
#: FlashAttention (Dao et al., arXiv 2205.14135, 2022-05-27): runs before it (by their source's
#: date, else their stack's release, else their device's) use the materialised softmax unless
#: the row says "flash".
FLASH_ATTENTION_DATE = date(2022, 5, 27)
REQUIRED = ("layers", "hidden", "heads", "seq_len")
METRICS = ("iteration_time_s", "tokens_per_s_per_device", "mfu", "hfu")
#: Optional model columns: mixture of experts and multi-head latent attention.
MODEL_EXTRAS = ("experts", "top_k", "expert_ffn", "shared_experts", "dense_layers", "head_size", "q_lora_rank",
                "kv_lora_rank", "rope_head_dim")
#: The kinds of `Row.origin`, in the order the output lists them.
ORIGINS = ("row", "text", "derived", "stack", "default", "searched")


@dataclass
class Row:
    """One CSV row: what was measured, how we read it, and our prediction."""

    row_id: str
    model: str = ""
    n_devices: int = 0
    layout: str = ""
    metric: str = ""
    measured: float = math.nan
    predicted: float = math.nan
    defaulted: list[str] = field(default_factory=list)
    #: where each layout field came from: "row" (its column), "text" (read in its notes, sharding
    #: or arch words), "derived" (from other fields), "stack" (the stack's documented default or
    #: recipe), "default" (`DEFAULTS`), "searched" (the layout search chose it)
    origin: dict[str, str] = field(default_factory=dict)
    #: a search's spread over the feasible completions: {"completions", "best", "median"} of the metric
    spread: dict[str, float] = field(default_factory=dict)
    skipped: str = ""
    result: StepResult | None = None
    stack: Stack | None = None

    @property
    def rel_error(self) -> float:
        return (self.predicted - self.measured) / self.measured

    def to_dict(self) -> dict:
        return {
            "id": self.row_id,
            "model": self.model,
            "n_devices": self.n_devices,
            "layout": self.layout,
            "metric": self.metric,
            "measured": self.measured,
            "predicted": self.predicted,
            "rel_error": self.rel_error if not self.skipped else math.nan,
            "stack": self.stack.key if self.stack else "",
            "defaulted": ";".join(self.defaulted),
            **{f"from_{kind}": ";".join(k for k, v in self.origin.items() if v == kind) for kind in ORIGINS},
            **{f"searched_{k}": v for k, v in self.spread.items()},
            "skipped": self.skipped,
        }


def parse_row(row: dict) -> tuple[Row, tuple | None]:
    """Read one CSV row into (Row, (model, cluster, layout)) or a skipped Row."""
    out = Row(row_id=row.get("id") or "?", model=row.get("model", ""))
    out.defaulted.extend(row.get("_unreadable", ()))  # cells read as unstated (check_values)
    shape = {k: _int(row, k) for k in (*REQUIRED, "vocab", "ffn_hidden", "kv_heads")}
    if shape["seq_len"] is None and _int(row, "seq"):
        shape["seq_len"] = _int(row, "seq")
    stack_key = (row.get("stack") or "").strip()
    if not stack_key:
        words = " ".join(str(row.get(k, "")) for k in ("source", "notes", "sharding")).lower()
        stack_key = next((key for ws, key in STACK_WORDS if any(w in words for w in ws)), "")
        if stack_key:
            out.defaulted.append(f"stack {stack_key} (named in the row's text)")
    if stack_key:
        try:
            out.stack = find_stack(stack_key)
        except KeyError as e:
            out.skipped = str(e).strip("'\"")
            return out, None
    out.origin["seq_len"] = "row"
    if shape["seq_len"] is None and out.stack is not None and out.stack.seq_len_default:
        shape["seq_len"] = out.stack.seq_len_default  # what its shipped recipes train with
        out.origin["seq_len"] = "stack"
        out.defaulted.append(f"seq_len {shape['seq_len']} ({out.stack.key} recipe default, not stated by the row)")
    missing = [k for k in REQUIRED if shape[k] is None]
    builtin = find_builtin(row.get("model") or "")
    extras = {k: _int(row, k) for k in MODEL_EXTRAS if _int(row, k) is not None}
    if missing and isinstance(builtin, Transformer):  # a row naming a built-in model needs no shape
        shape.update(layers=builtin.layers, hidden=builtin.hidden, heads=builtin.heads,
                     seq_len=shape["seq_len"] or builtin.seq_len,
                     vocab=shape["vocab"] or builtin.vocab, ffn_hidden=shape["ffn_hidden"] or builtin.ffn_hidden,
                     kv_heads=shape["kv_heads"] or builtin.kv_heads)
        extras = {**{k: getattr(builtin, k) for k in MODEL_EXTRAS if getattr(builtin, k) is not None}, **extras}
        out.defaulted.append(f"shape of built-in {builtin.name}")
        missing = []
    if missing:
        out.skipped = f"model shape missing: {', '.join(missing)}"
        return out, None
    n = _int(row, "n_devices")
    if n is None:
        out.skipped = "device count missing"
        return out, None
    out.n_devices = n
    try:
        acc = find_accelerator(row.get("hardware", ""))
    except KeyError as exc:  # unknown, or ambiguous ("'A100' is ambiguous: a100-40gb, a100-80gb; name one ...")
        ambiguous = "is ambiguous" in str(exc.args[0] if exc.args else "")
        out.skipped = f"accelerator {exc.args[0]}" if ambiguous else f"unknown accelerator {row.get('hardware', '')!r}"
        return out, None
    for metric in METRICS:
        value = _num(row.get(metric))
        if value is not None and value > 0:
            out.metric, out.measured = metric, value
            break
    else:
        out.skipped = "no measured iteration time, tokens/s per device, MFU or HFU"
        return out, None
    st = out.stack
    batch = _int(row, "global_batch_seqs")
    if batch is None and _num(row.get("global_batch_tokens")):
        batch = int(_num(row.get("global_batch_tokens")) // shape["seq_len"])
    if not batch:
        out.skipped = "global batch missing"
        return out, None

    def opt(key: str, value):
        if value is None:
            out.defaulted.append(key)
            out.origin.setdefault(key, "default")
        else:
            out.origin.setdefault(key, "row")
        return value

    vocab = opt("vocab", shape["vocab"]) or 51200
    ffn = opt("ffn_hidden", shape["ffn_hidden"])
    kv = opt("kv_heads", shape["kv_heads"])
    text = " ".join(str(row.get(k, "")) for k in ("arch", "notes", "sharding"))
    gated = read_bool(row.get("gated_mlp") or "")
    model = Transformer(
        name=row.get("model") or out.row_id,
        layers=shape["layers"],
        hidden=shape["hidden"],
        heads=shape["heads"],
        seq_len=shape["seq_len"],
        vocab=vocab,
        kv_heads=kv,
        ffn_hidden=ffn,
        gated_mlp=gated if gated is not None else gated_in(text) if gated_in(text) is not None else
        bool(builtin and builtin.gated_mlp),
        **extras,
    )
    sharding = row.get("sharding") or ""
    tp, pp, dp = _int(row, "tp"), _int(row, "pp"), _int(row, "dp")
    cp, ep = _int(row, "cp") or 1, _int(row, "ep") or 1
    mp = re.search(r"model[- ]parallel(?: size)?\s*(?:=\s*)?(\d+)|(\d+)[- ]way (?:tensor|model)[- ]parallel",
                   sharding.lower())
    out.origin.update({k: "row" for k, v in (("tp", tp), ("pp", pp), ("dp", dp)) if v is not None})
    unsplit = tp is None and pp is None and dp is None and mp is None  # nothing says how the model was split
    if tp is None and mp:
        tp, out.origin["tp"] = int(mp.group(1) or mp.group(2)), "text"
    if tp is None and dp:
        tp, out.origin["tp"] = max(1, n // (dp * (pp or 1) * cp)), "derived"
        out.defaulted.append(f"tp {tp} = devices / (dp x pp x cp)")
    if pp is None:
        pp, out.origin["pp"] = 1, "default" if unsplit else "derived"
    if tp is None:
        tp, out.origin["tp"] = 1, "default" if unsplit else "derived"
    if dp is None:
        dp, out.origin["dp"] = n // (tp * pp * cp), "derived"
    if dp * tp * pp * cp != n:
        out.skipped = f"dp {dp} x tp {tp} x pp {pp} x cp {cp} != {n} devices"
        return out, None
    v = _int(row, "virtual_pipeline_stages") or 1
    out.origin["virtual_pipeline_stages"] = "row"
    if _int(row, "virtual_pipeline_stages") is None:
        out.defaulted.append("virtual_pipeline_stages")
        out.origin["virtual_pipeline_stages"] = "default"
    if unsplit:
        out.defaulted.append("tp and pp unstated (tp 1, pp 1 unless searched)")
    recompute = opt("activation_recompute", read_recompute(row.get("activation_recompute") or ""))
    flags = overlaps_in(text)
    if flags and st is not None:  # the row says what its stack overlapped: the text over the defaults
        st = out.stack = dataclasses.replace(st, **{f: True for f in flags})
        out.defaulted.append(f"stack overlaps from the row's text: {', '.join(sorted(flags))}")
        out.origin["overlaps"] = "text"
    sp = read_bool(row.get("sequence_parallel") or "")
    if sp is None and "tp_overlap" in flags and tp > 1:
        sp, out.origin["sequence_parallel"] = True, "text"  # Megatron-LM refuses --tp-comm-overlap without
        # --sequence-parallel (arguments.py)
        out.defaulted.append("sequence_parallel=yes (--tp-comm-overlap needs it in Megatron-LM, not a stack default)")
    if sp is None and st is not None:
        sp, out.origin["sequence_parallel"] = st.sequence_parallel_default and tp > 1, "stack"
        out.defaulted.append(f"sequence_parallel={'yes' if sp else 'no'} ({st.key} default)")
    sp = opt("sequence_parallel", sp)
    precision = opt("precision", read_precision(row.get("precision") or ""))
    micro = opt("micro_batch", _int(row, "micro_batch")) or 1
    zero, out.origin["zero"] = read_zero(sharding), "text"
    if not sharding.strip() and "param_gather_overlap" in flags:
        # an overlapped parameter all-gather needs sharded state: Megatron-LM asserts
        # --overlap-param-gather only with --use-distributed-optimizer (megatron/training/arguments.py)
        zero = Zero.STAGE_1
        out.defaulted.append("sharding ZeRO-1 (--overlap-param-gather needs the distributed optimizer in Megatron-LM)")
    elif not sharding.strip():
        zero, out.origin["zero"] = Zero.parse(str(st.zero_default if st else 0)), "stack" if st else "default"
        out.defaulted.append(f"sharding ZeRO-{zero.stage} ({st.key + ' default' if st else 'none stated'})")
    if st is not None and pp > 1 and zero.stage > st.max_zero_with_pipeline and "fsdp" in sharding.lower() + st.key:
        # FSDP that keeps the weights through the pipeline (torchtitan reshard_after_forward)
        zero = Zero.parse(str(st.max_zero_with_pipeline))
    out.origin["attention"] = "text"
    if "flash" in text.lower():
        attention = Attention.FLASH
    else:
        out.origin["attention"] = "derived"
        # the run's date (its arXiv number or the latest year its source names), else its stack's
        # release, else its device's: a 2023 run on a 2020 A100 used FlashAttention
        when = run_date(row)
        basis = "the run's date" if when else None
        if when is None and st is not None:
            when, basis = st.since, f"{st.key}'s release"
        if when is None:
            when, basis = acc.release_date, "the device's release"
        old = when is not None and when < FLASH_ATTENTION_DATE
        attention = Attention.MATERIALIZED if old else Attention.FLASH
        out.defaulted.append(f"attention {attention.value} ({basis})")
    layout = Layout(
        global_batch=batch,
        dp=dp,
        tp=tp,
        pp=pp,
        micro_batch=micro,
        schedule=Schedule.INTERLEAVED if v > 1 else Schedule.ONE_F_ONE_B,
        virtual_stages=v,
        recompute=recompute or Recompute.NONE,
        sequence_parallel=bool(sp),
        zero=zero,
        precision=precision or Precision.BF16,
        attention=attention,
        cp=cp,
        ep=ep,
        offload="offload" in sharding.lower(),
    )
    intra, inter, per_node = default_links(acc.name)
    if intra is None or inter is None or per_node is None:
        out.skipped = f"no default links for {acc.name}"
        return out, None
    cluster = Cluster(acc, n, per_node, intra, inter)
    out.layout = describe(layout)
    return out, (model, cluster, layout)


def describe(layout: Layout) -> str:
    """Compact layout text: 'tp8 pp64 dp6 mb1 1f1b rc-full' (`Layout.text`)."""
    return layout.text()


#: Columns whose values must be fractions in (0, 1] when given (a percentage is a unit error).
FRACTIONS = ("mfu", "hfu")
#: Columns whose values must be positive numbers when given.
POSITIVE = ("n_devices", "iteration_time_s", "tokens_per_s_per_device", "global_batch_seqs", "global_batch_tokens",
            "micro_batch", "tp", "pp", "dp", "cp", "ep", "virtual_pipeline_stages", "layers", "hidden", "heads",
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
        absent.append(" or ".join(METRICS))
    if not all(k in rows[0] for k in REQUIRED) and "model" not in rows[0]:
        absent.append("model (a built-in model key) or the shape columns " + ", ".join(REQUIRED))
    if absent:
        raise ValueError(f"{path}: column(s) {', '.join(absent)} missing (calibration format expected)")
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
            row.result = result
            if not result.feasible:
                row.skipped = f"predicted infeasible: {result.reason.value} ({result.detail})"
            else:
                row.predicted = predicted(row.metric, result)
        out.append(row)
    return out


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
