"""A published measurement row read into a model, a cluster and a layout (`simulator validate`).

A row of the calibration format (catalog/calibration.csv) states some fields in columns and
others in words (rowtext.py reads the words). `parse_row` reads it in stages, each its own
reader: the software stack (a `stack` column or a stack named in the text), the model shape
(its columns, else a built-in model named by the row), the measurement (device count,
accelerator, the first metric it gives), the split (tp, pp, dp, cp, ep: stated, read in the
text, derived from the others or defaulted), the training settings (interleaving, recompute,
the stack's overlaps from the text, sequence parallelism, precision, micro-batch, ZeRO) and
the attention (flash when the row says so, else by the run's date). Every field records where
it came from (`Row.origin`), and a row that cannot be read is skipped with its reason.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from datetime import date

from simulator.catalog import default_links, find_accelerator
from simulator.catalog.stacks import find_stack
from simulator.core.specs import Attention, Cluster, Layout, Precision, Recompute, Schedule, Stack, Transformer, Zero
from simulator.engine.step import StepResult
from simulator.measure.rowtext import (
    STACK_WORDS,
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

#: Defaults for missing optional fields (docs/validation.md).
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
    #: the fused attention kernel whose published rate timed the core ("" : the GEMM rate)
    attention_kernel: str = ""

    @property
    def rel_error(self) -> float:
        """(predicted - measured) / measured."""
        return (self.predicted - self.measured) / self.measured

    def to_dict(self) -> dict:
        """The row as `simulator validate --json` writes it."""
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
            "attention_kernel": self.attention_kernel,
            "defaulted": ";".join(self.defaulted),
            **{f"from_{kind}": ";".join(k for k, v in self.origin.items() if v == kind) for kind in ORIGINS},
            **{f"searched_{k}": v for k, v in self.spread.items()},
            "skipped": self.skipped,
        }


class _Skip(Exception):
    """A row that cannot be read: its reason."""


def _opt(out: Row, key: str, value):
    """A field the row may leave unstated: recorded as defaulted (None) or read from the row."""
    if value is None:
        out.defaulted.append(key)
        out.origin.setdefault(key, "default")
    else:
        out.origin.setdefault(key, "row")
    return value


def parse_row(row: dict) -> tuple[Row, tuple | None]:
    """Read one CSV row into (Row, (model, cluster, layout)), or a skipped Row with its reason."""
    out = Row(row_id=row.get("id") or "?", model=row.get("model", ""))
    out.defaulted.extend(row.get("_unreadable", ()))  # cells read as unstated (check_values)
    try:
        out.stack = _read_stack(row, out)
        shape, extras, builtin = _read_shape(row, out)
        acc = _read_measurement(row, out)
        batch = _int(row, "global_batch_seqs")
        if batch is None and _num(row.get("global_batch_tokens")):
            batch = int(_num(row.get("global_batch_tokens")) // shape["seq_len"])
        if not batch:
            raise _Skip("global batch missing")
        text = " ".join(str(row.get(k, "")) for k in ("arch", "notes", "sharding"))
        model = _read_model(row, out, shape, extras, builtin, text)
        tp, pp, dp, cp, ep, unsplit = _read_split(row, out)
        settings = _read_settings(row, out, tp, pp, text, unsplit)
        layout = Layout(global_batch=batch, dp=dp, tp=tp, pp=pp, cp=cp, ep=ep,
                        attention=_read_attention(row, out, acc, text), **settings)
        intra, inter, per_node = default_links(acc.name)
        if intra is None or inter is None or per_node is None:
            raise _Skip(f"no default links for {acc.name}")
    except _Skip as why:
        out.skipped = str(why)
        return out, None
    out.layout = layout.text()
    return out, (model, Cluster(acc, out.n_devices, per_node, intra, inter), layout)


def _read_stack(row: dict, out: Row) -> Stack | None:
    """The row's software stack: its `stack` column, else a stack its text names, else none."""
    key = (row.get("stack") or "").strip()
    if not key:
        words = " ".join(str(row.get(k, "")) for k in ("source", "notes", "sharding")).lower()
        key = next((k for ws, k in STACK_WORDS if any(w in words for w in ws)), "")
        if key:
            out.defaulted.append(f"stack {key} (named in the row's text)")
    if not key:
        return None
    try:
        return find_stack(key)
    except KeyError as e:
        raise _Skip(str(e).strip("'\"")) from None


def _read_shape(row: dict, out: Row) -> tuple[dict, dict, object]:
    """(the model's shape columns, its optional columns, the built-in model the row names)."""
    shape = {k: _int(row, k) for k in (*REQUIRED, "vocab", "ffn_hidden", "kv_heads")}
    if shape["seq_len"] is None and _int(row, "seq"):
        shape["seq_len"] = _int(row, "seq")
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
        raise _Skip(f"model shape missing: {', '.join(missing)}")
    return shape, extras, builtin


def _read_measurement(row: dict, out: Row):
    """The device count, the accelerator and the first metric the row gives (in METRICS order)."""
    n = _int(row, "n_devices")
    if n is None:
        raise _Skip("device count missing")
    out.n_devices = n
    try:
        acc = find_accelerator(row.get("hardware", ""))
    except KeyError as exc:  # unknown, or ambiguous ("'A100' is ambiguous: a100-40gb, a100-80gb; name one ...")
        ambiguous = "is ambiguous" in str(exc.args[0] if exc.args else "")
        raise _Skip(f"accelerator {exc.args[0]}" if ambiguous
                    else f"unknown accelerator {row.get('hardware', '')!r}") from None
    for metric in METRICS:
        value = _num(row.get(metric))
        if value is not None and value > 0:
            out.metric, out.measured = metric, value
            return acc
    raise _Skip("no measured iteration time, tokens/s per device, MFU or HFU")


def _read_model(row: dict, out: Row, shape: dict, extras: dict, builtin, text: str) -> Transformer:
    """The transformer the row trained; a gated MLP when the row, its `text` (arch, notes,
    sharding) or its built-in says so."""
    gated = read_bool(row.get("gated_mlp") or "")
    if gated is None:
        gated = gated_in(text) if gated_in(text) is not None else bool(builtin and builtin.gated_mlp)
    vocab = _opt(out, "vocab", shape["vocab"]) or 51200
    ffn, kv = _opt(out, "ffn_hidden", shape["ffn_hidden"]), _opt(out, "kv_heads", shape["kv_heads"])
    return Transformer(name=row.get("model") or out.row_id, layers=shape["layers"], hidden=shape["hidden"],
                       heads=shape["heads"], seq_len=shape["seq_len"], vocab=vocab, kv_heads=kv, ffn_hidden=ffn,
                       gated_mlp=gated, **extras)


def _read_split(row: dict, out: Row) -> tuple[int, int, int, int, int, bool]:
    """(tp, pp, dp, cp, ep, whether the row says nothing of the split): stated, read in the sharding
    text ("8-way model parallel"), derived from the device count, or 1 where the row is silent."""
    n, sharding = out.n_devices, row.get("sharding") or ""
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
        raise _Skip(f"dp {dp} x tp {tp} x pp {pp} x cp {cp} != {n} devices")
    return tp, pp, dp, cp, ep, unsplit


def _read_settings(row: dict, out: Row, tp: int, pp: int, text: str, unsplit: bool) -> dict:
    """The layout's training settings: interleaving, recompute, sequence parallelism (the row, its
    overlaps or its stack), precision, micro-batch, ZeRO and offload. May replace `out.stack` with
    the overlaps the row's text names."""
    v = _int(row, "virtual_pipeline_stages") or 1
    out.origin["virtual_pipeline_stages"] = "row"
    if _int(row, "virtual_pipeline_stages") is None:
        out.defaulted.append("virtual_pipeline_stages")
        out.origin["virtual_pipeline_stages"] = "default"
    if unsplit:
        out.defaulted.append("tp and pp unstated (tp 1, pp 1 unless searched)")
    recompute = _opt(out, "activation_recompute", read_recompute(row.get("activation_recompute") or ""))
    st, flags = out.stack, overlaps_in(text)
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
    sp = _opt(out, "sequence_parallel", sp)
    precision = _opt(out, "precision", read_precision(row.get("precision") or ""))
    micro = _opt(out, "micro_batch", _int(row, "micro_batch")) or 1
    sharding = row.get("sharding") or ""
    return {"micro_batch": micro, "schedule": Schedule.INTERLEAVED if v > 1 else Schedule.ONE_F_ONE_B,
            "virtual_stages": v, "recompute": recompute or Recompute.NONE, "sequence_parallel": bool(sp),
            "zero": _read_zero(out, st, sharding, flags, pp), "precision": precision or Precision.BF16,
            "offload": "offload" in sharding.lower()}


def _read_zero(out: Row, st: Stack | None, sharding: str, flags, pp: int) -> Zero:
    """The ZeRO stage: the sharding text, else what an overlapped parameter gather implies, else the stack's."""
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
    return zero


def _read_attention(row: dict, out: Row, acc, text: str) -> Attention:
    """Flash when the row says so; else by the run's date (its arXiv number or the latest year its
    source names), else its stack's release, else its device's: a 2023 run on a 2020 A100 used
    FlashAttention."""
    out.origin["attention"] = "text"
    if "flash" in text.lower():
        return Attention.FLASH
    out.origin["attention"] = "derived"
    st = out.stack
    when = run_date(row)
    basis = "the run's date" if when else None
    if when is None and st is not None:
        when, basis = st.since, f"{st.key}'s release"
    if when is None:
        when, basis = acc.release_date, "the device's release"
    attention = Attention.MATERIALIZED if when is not None and when < FLASH_ATTENTION_DATE else Attention.FLASH
    out.defaulted.append(f"attention {attention.value} ({basis})")
    return attention
