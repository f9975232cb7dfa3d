"""Built-in models, read once from models.toml (next to this file).

Each table of models.toml is one model; `kind` picks Transformer or
GenericNetwork, `note` is documentation only and is not loaded, and `aliases` lists the
names papers and tables write it under ("Megatron-Turing NLG 530B"), for `validate`.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from simulator.core.specs import GenericNetwork, Transformer
from simulator.core.units import name_list

MODELS_FILE = Path(__file__).with_name("models.toml")

_TRANSFORMER_KEYS = {"layers", "hidden", "heads", "seq_len", "vocab", "kv_heads",
                     "ffn_hidden", "gated_mlp", "source", "experts", "top_k", "expert_ffn",
                     "shared_experts", "dense_layers", "capacity_factor", "load_imbalance",
                     "head_size", "q_lora_rank", "kv_lora_rank", "rope_head_dim"}
_GENERIC_KEYS = {"params", "flops_per_example", "activation_bytes_per_example", "layers",
                 "source"}


def _build(key: str, table: dict) -> Transformer | GenericNetwork:
    fields = {k: v for k, v in table.items() if k not in ("kind", "note", "aliases")}
    kind = table.get("kind")
    allowed = {"transformer": _TRANSFORMER_KEYS, "generic": _GENERIC_KEYS}.get(kind)
    if allowed is None:
        raise ValueError(f"{MODELS_FILE}: [{key}] kind={kind!r}: must be transformer or generic")
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValueError(f"{MODELS_FILE}: [{key}] unknown keys {unknown}")
    if kind == "transformer":
        return Transformer(name=key, **fields)
    fields = {k: (float(v) if k != "layers" and k != "source" else v) for k, v in fields.items()}
    return GenericNetwork(name=key, **fields)


@lru_cache(maxsize=1)
def _tables() -> dict[str, dict]:
    """models.toml, parsed once (the models, their notes and aliases all come from it)."""
    with MODELS_FILE.open("rb") as f:
        return tomllib.load(f)


@lru_cache(maxsize=1)
def _load() -> dict[str, Transformer | GenericNetwork]:
    return {key: _build(key, table) for key, table in _tables().items()}


def builtin_models() -> dict[str, Transformer | GenericNetwork]:
    """All built-in models by key (a fresh dict; the models are frozen).

    >>> "llama3-405b" in builtin_models()
    True
    """
    return dict(_load())


def model_notes() -> dict[str, str]:
    """The `note` field of each built-in model that has one (caveats, estimates)."""
    return {key: t["note"] for key, t in _tables().items() if "note" in t}


def find_model(key: str) -> Transformer | GenericNetwork:
    """A built-in model by key (case-insensitive); KeyError lists the known keys.

    >>> m = find_model("GPT3-175B")  # case-insensitive
    >>> m.name, m.layers, m.hidden, m.heads
    ('gpt3-175b', 96, 12288, 96)
    """
    models = _load()
    wanted = str(key).strip().lower()
    for name, model in models.items():
        if name.lower() == wanted:
            return model
    raise KeyError(f"unknown model {key!r}; known: {name_list(models, listed_in='simulator catalog models')}")


@lru_cache(maxsize=1)
def model_aliases() -> dict[str, str]:
    """Each alias of a built-in model (as written in models.toml) -> the model's key."""
    out = {}
    for key, table in _tables().items():
        names = table.get("aliases", [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise ValueError(f"{MODELS_FILE}: [{key}] aliases={names!r}: a list of names")
        out.update({n: key for n in names})
    return out
