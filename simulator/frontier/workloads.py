"""Workload families: what the frontier trained in each era (catalog/workloads.toml).

A family names the models it may be sized with, the parallel techniques it admits and
its largest useful batch from each date on. Read on first use and checked against the
other catalog tables: models against models.toml, techniques against techniques.csv,
batch rows against batch_limits.csv (the value must be the row's batch size).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files

from simulator.catalog.eras import techniques
from simulator.catalog.models import builtin_models
from simulator.costs.batch import batch_limits
from simulator.specs import GenericNetwork, Transformer

WORKLOADS_TOML = "workloads.toml"
_KEYS = {"name", "since", "source", "models", "model_since", "techniques", "per_device_batch",
         "per_device_batch_source", "batch_free_with", "batch_limits", "critical_batch", "actors_per_learner",
         "actors_per_learner_source", "size_rule", "tokens_per_param", "tokens_available", "max_epochs",
         "size_rule_source", "data"}
_LIMIT_KEYS = {"since", "examples", "row", "source", "technique"}
_DATA_KEYS = {"since", "examples", "epochs", "source"}


@dataclass(frozen=True)
class BatchStep:
    """From `since` on, batches up to `examples` are useful (given `technique`, if any)."""

    since: date
    examples: int
    source: str
    technique: str | None = None


@dataclass(frozen=True)
class DataStep:
    """From `since` a training set of `examples` existed, used for `epochs` passes."""

    since: date
    examples: float
    epochs: float
    source: str


@dataclass(frozen=True)
class Family:
    key: str
    name: str
    since: date
    source: str
    models: tuple[Transformer | GenericNetwork, ...]
    model_since: dict[str, date]
    techniques: frozenset[str]
    per_device_batch: int
    batch_free_with: str | None
    batch_limits: tuple[BatchStep, ...]
    kaplan: bool  # critical batch from Kaplan et al. 2020 instead of batch_limits
    actors_per_learner: float | None = None  # independent actors per (batch-bound) learner device
    size_rule: str | None = None  # "chinchilla": sized by frontier/sizing.py instead of `models`
    tokens_per_param: float = 20.0
    tokens_available: float = float("inf")
    max_epochs: float = 1.0
    data: tuple[DataStep, ...] = ()  # training sets known from each date, with their passes

    def examples_at(self, at: date) -> float | None:
        """Most training examples one run could process at `at` (examples x passes of the
        largest documented use of each set); None: no bound documented."""
        known = [d.examples * d.epochs for d in self.data if d.since <= at]
        return float(max(known)) if known else None

    @property
    def sized(self) -> bool:
        return self.size_rule is not None


    def models_at(self, at: date) -> tuple[Transformer | GenericNetwork, ...]:
        """The family's models published on or before `at`."""
        return tuple(m for m in self.models if self.model_since.get(m.name, self.since) <= at)

    def batch_limit(self, at: date, known: set[str]) -> BatchStep | None:
        """The largest useful batch at `at` with the techniques `known` (None: none known)."""
        steps = [s for s in self.batch_limits if s.since <= at and (s.technique is None or s.technique in known)]
        return max(steps, key=lambda s: s.examples) if steps else None


def _date(value, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: not an ISO date: {value!r}") from None


def _family(key: str, t: dict, batch_rows: dict) -> Family:
    where = f"{WORKLOADS_TOML}: [{key}]"
    unknown = sorted(set(t) - _KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}")
    models, known_tech = builtin_models(), techniques()
    missing = [m for m in t["models"] if m not in models] + [x for x in t["techniques"] if x not in known_tech]
    if missing:
        raise ValueError(f"{where}: unknown models or techniques {missing}")
    steps = []
    for i, s in enumerate(t.get("batch_limits", [])):
        here = f"{where} batch_limits[{i}]"
        if set(s) - _LIMIT_KEYS or ("row" in s) == ("source" in s):
            raise ValueError(f"{here}: needs since, examples and exactly one of row / source")
        if "row" in s:
            row = batch_rows.get(s["row"])
            if row is None or row.batch_size != s["examples"]:
                raise ValueError(f"{here}: examples={s['examples']!r} is not the batch of batch_limits.csv "
                                 f"row {s['row']!r}")
            source = f"batch_limits.csv row {s['row']!r}: {row.source}"
        else:
            source = s["source"]
        if s.get("technique") and s["technique"] not in known_tech:
            raise ValueError(f"{here}: unknown technique {s['technique']!r}")
        steps.append(BatchStep(_date(s["since"], here), int(s["examples"]), source, s.get("technique")))
    data = []
    for i, d in enumerate(t.get("data", [])):
        here = f"{where} data[{i}]"
        if set(d) != _DATA_KEYS or not str(d["source"]).strip() or not (float(d["examples"]) > 0
                                                                         and float(d["epochs"]) > 0):
            raise ValueError(f"{here}: needs since, examples > 0, epochs > 0 and source")
        data.append(DataStep(_date(d["since"], here), float(d["examples"]), float(d["epochs"]), d["source"]))
    kaplan = t.get("critical_batch") == "kaplan"
    if "actors_per_learner" in t and not t.get("actors_per_learner_source"):
        raise ValueError(f"{where}: actors_per_learner needs actors_per_learner_source")
    if "size_rule" in t and (t["size_rule"] != "chinchilla" or not t.get("size_rule_source")):
        raise ValueError(f"{where}: size_rule must be 'chinchilla' and needs size_rule_source")
    if not steps and not kaplan and t["techniques"] != ["single_device"]:
        raise ValueError(f"{where}: a multi-device family needs batch_limits or critical_batch = 'kaplan'")
    return Family(key, t["name"], _date(t["since"], where), t["source"], tuple(models[m] for m in t["models"]),
                  {m: _date(d, where) for m, d in t.get("model_since", {}).items()}, frozenset(t["techniques"]),
                  int(t.get("per_device_batch", 1)), t.get("batch_free_with"), tuple(steps), kaplan,
                  t.get("actors_per_learner"), t.get("size_rule"), float(t.get("tokens_per_param", 20.0)),
                  float(t.get("tokens_available", float("inf"))), float(t.get("max_epochs", 1.0)), tuple(data))


@cache
def _families() -> dict[str, Family]:
    data = tomllib.loads(files("simulator.catalog").joinpath(WORKLOADS_TOML).read_text(encoding="utf-8"))
    rows = {r.key: r for r in batch_limits()}
    return {key: _family(key, t, rows) for key, t in data.items()}


def families() -> dict[str, Family]:
    """All workload families by key (a fresh dict of frozen objects)."""
    return dict(_families())


def families_at(at: date) -> list[Family]:
    """Families that exist at `at`."""
    return [f for f in _families().values() if f.since <= at]
