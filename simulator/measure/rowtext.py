"""Reading a measurement row's cells and free text for their meaning (`simulator validate`).

A published measurement states some fields in columns and others in words: "ZeRO stage 3",
"FSDP (not resharded)", "selective", "not verified", "--tp-comm-overlap", "(squared-ReLU,
not gated)", an arXiv number that dates the run, a model named as people write it. These
readers turn such cells into values, or None where the text leaves the field unstated
(then it is searched or defaulted, and the row says which: validation.py).
"""

from __future__ import annotations

import re
from datetime import date

from simulator.catalog.models import builtin_models, model_aliases
from simulator.core.specs import Precision, Recompute, Zero

#: Words in a row's source, notes or sharding that name its software stack, when it has no
#: `stack` column: (words, stack key). The first match wins.
STACK_WORDS = ((("nemo",), "nemo-2024"), (("torchtitan",), "torchtitan-fsdp2"),
               (("megatron-core", "mcore", "megatron core"), "megatron-core-2024"),
               (("megatron-deepspeed", "deepspeed"), "megatron-deepspeed-2022"))


def _num(text: str | None) -> float | None:
    """A number from a cell, or None when empty or not a number."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*~?([-+]?\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?)\s*", text)
    return float(m.group(1).replace(",", "")) if m else None


def _int(row: dict, key: str) -> int | None:
    v = _num(row.get(key))
    return None if v is None or v <= 0 else round(v)


def read_zero(text: str) -> Zero:
    """ZeRO stage from a free-text sharding column."""
    t = text.lower()
    m = re.search(r"(?:zero|stage)[\s_-]*(?:stage[\s_-]*)?([0-3])", t)
    if m:
        return Zero.parse(m.group(1))
    if re.search(r"shard_grad_op|no[\s_-]*reshard|not[\s_-]*reshard|reshard_after_forward\s*=\s*false", t):
        return Zero.STAGE_2  # FSDP keeping the weights after the forward pass: gradients and states sharded
    if "fsdp" in t or "full_shard" in t or "fully sharded" in t:
        return Zero.STAGE_3
    if "distributed optimizer" in t or "optimizer state" in t:
        return Zero.STAGE_1
    return Zero.STAGE_0


#: Words that leave a field unstated however they begin ("not verified" is not "no").
UNSTATED = re.compile(r"not (?:verified|stated|restated|reported|given|known)|unstated|unknown|unverified|"
                      r"unclear|n/?a\b|^\?+$")


def read_recompute(text: str) -> Recompute | None:
    """Activation recompute from a free-text cell; None when unstated."""
    t = text.lower().strip()
    if not t or UNSTATED.search(t):
        return None
    if "selective" in t:
        return Recompute.SELECTIVE
    if t.startswith(("no", "none", "off", "false")):
        return Recompute.NONE
    return Recompute.FULL  # "full", "yes", "checkpointing"


def read_bool(text: str) -> bool | None:
    """Yes or no from a free-text cell; None when unstated."""
    t = text.lower().strip()
    if not t or UNSTATED.search(t):
        return None
    return t.startswith(("y", "true", "on", "1"))


#: Overlaps a row's text names (Megatron-LM's flags, or the words a table uses for all three).
OVERLAP_WORDS = {"tp_overlap": r"tp[-_ ]comm[-_ ]overlap|tp comm(?:unication)? overlap",
                 "dp_overlap": r"overlap[-_ ]grad[-_ ]reduce|grad[- ]reduce overlap",
                 "param_gather_overlap": r"overlap[-_ ]param[-_ ]gather|param[- ]gather overlap"}
ALL_OVERLAPS = r"dp/tp/pp comm overlap|3d[- ]parallel comm(?:unication)? overlap"


def overlaps_in(text: str) -> set[str]:
    """The Stack overlap fields a row's text says were on."""
    t = text.lower()
    if re.search(ALL_OVERLAPS, t):
        return set(OVERLAP_WORDS)
    return {f for f, pattern in OVERLAP_WORDS.items() if re.search(pattern, t)}


def run_date(row: dict) -> date | None:
    """When a row's run was published: its source's arXiv number (YYMM), else the latest year
    from 2000 its source names (January 1st); None when the source gives neither."""
    text = " ".join(str(row.get(k, "")) for k in ("source", "source_table"))
    m = re.search(r"arXiv[:\s]*(\d{2})(\d{2})\.\d{4,5}", text, re.IGNORECASE)
    if m and 1 <= int(m.group(2)) <= 12:
        return date(2000 + int(m.group(1)), int(m.group(2)), 1)
    years = [int(y) for y in re.findall(r"\b(20[0-3]\d)\b", text)]
    return date(max(years), 1, 1) if years else None


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9.]", "", name.lower().replace("llama-", "llama"))


def find_builtin(name: str):
    """The built-in model a row names, by key or by its name as written ("Llama 3 405B",
    "GPT-3 175B", "Megatron 1T": case, spaces and hyphens aside); None when none matches."""
    models = builtin_models()
    key = name.strip()
    if key in models:
        return models[key]
    squashed = _squash(key)
    names = [(k, k) for k in models] + list(model_aliases().items())  # (name, model key)
    hits = {k for n, k in names if squashed and _squash(n) == squashed}
    return models[hits.pop()] if len(hits) == 1 else None


def gated_in(text: str) -> bool | None:
    """Whether free text says the MLP is gated: "not gated", "ungated" and "non-gated" say no,
    SwiGLU, GeGLU or "gated" yes; None when it says neither."""
    t = text.lower()
    if re.search(r"not[\s-]+gated|un-?gated|non-?gated", t):
        return False
    if re.search(r"swiglu|geglu|gated", t):
        return True
    return None


def read_precision(text: str) -> Precision | None:
    """The first precision a cell names (fp8, bf16, fp16, tf32, fp32); None when none."""
    for token in re.findall(r"fp8|bf16|fp16|tf32|fp32", text.lower()):
        return Precision.parse(token)
    return None
