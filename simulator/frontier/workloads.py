"""Workload families: what the frontier trained in each era (catalog/workloads.toml).

A family is a way of using many devices for one result: the parallel techniques it
admits, its batch limits, and either a network fitted to one device ("unsized": its
utilization is a drawn share of peak, its data never binds) or a transformer sized by
the compute-optimal rule of its date ("sized"; a mixture of experts when it has `moe`
design rows, the design in force at a date the latest published). Every number that is a fact of one run
names it (`run_fact_of`), and `Family.view(withhold)` gives the family as a frontier
scoring those runs sees it: their rows dropped (the family may then begin later, lose
a batch limit or a learner bound). Read on first use and checked against the other
catalog tables: techniques against techniques.csv, batch rows against batch_limits.csv
(the value must be the row's batch size), run ids against the run registry.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from importlib.resources import files

from simulator.catalog.runfacts import parse_run_facts
from simulator.catalog.techniques import techniques
from simulator.catalog.uncertain import uncertain_inputs
from simulator.costs.batch import batch_limits
from simulator.frontier.sizing import MoEDesign

WORKLOADS_TOML = "workloads.toml"
_KEYS = {"name", "kind", "since", "source", "techniques", "per_device_batch", "per_device_batch_source",
         "per_device_batch_run_fact_of", "batch_practice", "batch_limits", "batch_free_with", "learners", "utilization",
         "multi_node_efficiency", "algorithmic_halving", "critical_batch", "tokens_available",
         "max_epochs", "data_source", "sizing", "seq_len", "moe"}
#: The keys whose value names a row of catalog/uncertainty.csv.
UNCERTAIN_KEYS = ("batch_practice", "utilization", "multi_node_efficiency", "algorithmic_halving")
_MOE_KEYS = {"since", "experts", "top_k", "shared", "expert_width", "dense_share", "run_fact_of", "source"}
_LIMIT_KEYS = {"since", "examples", "row", "source", "technique", "run_fact_of"}
KINDS = ("unsized", "sized")
SIZING_RULES = ("kaplan", "chinchilla")


@dataclass(frozen=True)
class Dated:
    """A dated fact of a family (evidence of its start, a batch limit, a sizing rule,
    a sequence length), with the runs it is a fact of."""

    key: str
    since: date
    value: float = 0.0
    source: str = ""
    run_fact_of: frozenset[str] = frozenset()
    technique: str | None = None
    rule: str = ""
    design: MoEDesign | None = None

    @property
    def ref(self) -> str:
        return f"{WORKLOADS_TOML}:{self.key}"


@dataclass(frozen=True)
class Family:
    key: str
    name: str
    kind: str
    source: str
    since: tuple[Dated, ...]
    techniques: frozenset[str]
    per_device_batch: int = 1
    per_device_batch_facts: frozenset[str] = frozenset()
    batch_practice: str | None = None
    batch_limits: tuple[Dated, ...] = ()
    batch_free_with: str | None = None
    learners: tuple[Dated, ...] = ()  # self-play designs: value = learner devices x (1 + actors per device)
    utilization: str | None = None
    multi_node_efficiency: str | None = None  # also the asynchronous replicas' (the hardware's scaling)
    algorithmic_halving: str | None = None
    kaplan: bool = False
    tokens_available: float = float("inf")
    max_epochs: float = 1.0
    sizing: tuple[Dated, ...] = ()
    seq_len: tuple[Dated, ...] = ()
    moe: tuple[Dated, ...] = ()  # mixture-of-experts designs (a sized MoE family): the latest in force

    @property
    def is_moe(self) -> bool:
        """A mixture-of-experts family (it has design rows)."""
        return bool(self.moe)

    @property
    def sized(self) -> bool:
        return self.kind == "sized"

    @property
    def ref(self) -> str:
        return f"{WORKLOADS_TOML}:{self.key}"

    def start(self) -> Dated | None:
        return self.since[0] if self.since else None

    def view(self, withhold: frozenset[str]) -> Family | None:
        """The family without the rows of the withheld runs; None when no evidence of
        its start is left."""
        if not withhold:
            return self
        since = tuple(d for d in self.since if not (d.run_fact_of & withhold))
        moe = tuple(d for d in self.moe if not (d.run_fact_of & withhold))
        if not since or (self.moe and not moe):  # an MoE family with no design left cannot be shaped
            return None
        out = replace(self, since=since,
                      batch_limits=tuple(d for d in self.batch_limits if not (d.run_fact_of & withhold)),
                      sizing=tuple(d for d in self.sizing if not (d.run_fact_of & withhold)),
                      learners=tuple(d for d in self.learners if not (d.run_fact_of & withhold)),
                      seq_len=tuple(d for d in self.seq_len if not (d.run_fact_of & withhold)), moe=moe)
        if self.per_device_batch_facts & withhold:
            out = replace(out, per_device_batch=1, per_device_batch_facts=frozenset())
        return out

    def batch_limit(self, at: date, known: set[str], practice: float) -> tuple[float, tuple[str, ...]]:
        """(largest useful batch, rows read) at `at` with the techniques `known`:
        the conventional practice, or a larger limit whose technique is known."""
        steps = [d for d in self.batch_limits if d.since <= at and (d.technique is None or d.technique in known)]
        best = max(steps, key=lambda d: d.value, default=None)
        if best is not None and best.value > practice:
            return best.value, (best.ref,)
        return practice, (f"uncertainty.csv:{self.batch_practice}",)

    def learner_bound(self, at: date) -> Dated | None:
        """The largest self-play design documented by `at` (None: none, the supply alone bounds)."""
        return max((d for d in self.learners if d.since <= at), key=lambda d: d.value, default=None)

    def rule_at(self, at: date) -> Dated | None:
        """The compute-optimal sizing rule in force at `at` (the first before any)."""
        rules = [d for d in self.sizing if d.since <= at]
        return rules[-1] if rules else (self.sizing[0] if self.sizing else None)

    def seq_len_at(self, at: date) -> Dated | None:
        rows = [d for d in self.seq_len if d.since <= at]
        return rows[-1] if rows else (self.seq_len[0] if self.seq_len else None)

    def design_at(self, at: date) -> Dated | None:
        """The MoE design in force at `at`: the latest published (the first before any; None: dense)."""
        rows = [d for d in self.moe if d.since <= at]
        return rows[-1] if rows else (self.moe[0] if self.moe else None)


def _date(value, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: not an ISO date: {value!r}") from None


def _facts(value, where: str) -> frozenset[str]:
    return parse_run_facts(value, where)


def _design(key: str, i: int, d: dict) -> Dated:
    """One MoE design row: whole numbers of experts (>= 2), top_k (1..experts) and shared
    experts (>= 0), an expert width > 0 (x d_model), a dense share in [0, 1), a source."""
    here = f"{WORKLOADS_TOML}: [{key}] moe[{i}]"
    unknown = sorted(set(d) - _MOE_KEYS)
    if unknown:
        raise ValueError(f"{here}: unknown keys {unknown}")

    def whole(name: str, low: int) -> int:
        v = d.get(name)
        if not (isinstance(v, int) and not isinstance(v, bool) and v >= low):
            raise ValueError(f"{here}: {name}={v!r}: a whole number >= {low}")
        return v

    experts, top_k, shared = whole("experts", 2), whole("top_k", 1), whole("shared", 0)
    if top_k > experts:
        raise ValueError(f"{here}: top_k={top_k!r}: at most experts={experts}")
    width, dense = d.get("expert_width"), d.get("dense_share", 0.0)
    if not (isinstance(width, (int, float)) and not isinstance(width, bool) and width > 0):
        raise ValueError(f"{here}: expert_width={width!r}: a number > 0 (expert ffn / d_model)")
    if not (isinstance(dense, (int, float)) and not isinstance(dense, bool) and 0 <= dense < 1):
        raise ValueError(f"{here}: dense_share={dense!r}: a number in [0, 1)")
    if not str(d.get("source", "")).strip():
        raise ValueError(f"{here}: source={d.get('source')!r}: needs a source")
    return Dated(f"{key}.moe[{i}]", _date(d.get("since"), here), float(experts), d["source"],
                 _facts(d.get("run_fact_of"), here), design=MoEDesign(experts, top_k, shared, float(width),
                                                                      float(dense)))


def _batch_steps(key: str, t: dict, batch_rows: dict, known_tech, where: str) -> list[Dated]:
    """A family's `batch_limits` rows: each names a batch_limits.csv row (whose batch it must
    state) or its own source."""
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
        steps.append(Dated(f"{key}.batch_limits[{i}]", _date(s["since"], here), float(s["examples"]), source,
                           _facts(s.get("run_fact_of"), here), s.get("technique")))
    return steps


def _check_names(t: dict, known_tech: dict, where: str) -> None:
    """Every technique a family names is in techniques.csv, every input in uncertainty.csv."""
    missing = [x for x in t["techniques"] + ([t["batch_free_with"]] if t.get("batch_free_with") else [])
               if x not in known_tech]
    if missing:
        raise ValueError(f"{where}: unknown techniques {missing}")
    inputs = uncertain_inputs()
    for name in UNCERTAIN_KEYS:  # each names a row of uncertainty.csv, read when a run is solved
        if t.get(name) is not None and t[name] not in inputs:
            raise ValueError(f"{where}: {name}={t[name]!r}: not a key of uncertainty.csv")


def _family(key: str, t: dict, batch_rows: dict) -> Family:
    where = f"{WORKLOADS_TOML}: [{key}]"
    unknown = sorted(set(t) - _KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}")
    if t.get("kind") not in KINDS:
        raise ValueError(f"{where}: kind={t.get('kind')!r}: one of {', '.join(KINDS)}")
    known_tech = techniques()
    _check_names(t, known_tech, where)
    since = []
    for i, d in enumerate(t.get("since", [])):
        here = f"{where} since[{i}]"
        if not str(d.get("source", "")).strip():
            raise ValueError(f"{here}: needs date and source")
        since.append(Dated(f"{key}.since[{i}]", _date(d.get("date"), here), source=d["source"],
                           run_fact_of=_facts(d.get("run_fact_of"), here)))
    if not since:
        raise ValueError(f"{where}: since needs at least one dated entry")
    steps = _batch_steps(key, t, batch_rows, known_tech, where)
    learners = []
    for i, d in enumerate(t.get("learners", [])):
        here = f"{where} learners[{i}]"
        if not (d.get("devices", 0) > 0 and d.get("actors_per_device", -1) >= 0 and str(d.get("source", "")).strip()):
            raise ValueError(f"{here}: needs since, devices > 0, actors_per_device >= 0 and source")
        learners.append(Dated(f"{key}.learners[{i}]", _date(d["since"], here),
                              float(d["devices"]) * (1 + float(d["actors_per_device"])), d["source"],
                              _facts(d.get("run_fact_of"), here)))
    sizing = []
    for i, s in enumerate(t.get("sizing", [])):
        here = f"{where} sizing[{i}]"
        if s.get("rule") not in SIZING_RULES or not str(s.get("source", "")).strip():
            raise ValueError(f"{here}: rule must be one of {', '.join(SIZING_RULES)}, with a source")
        sizing.append(Dated(f"{key}.sizing[{i}]", _date(s["since"], here), float(s.get("tokens_per_param", 0)),
                            s["source"], _facts(s.get("run_fact_of"), here), rule=s["rule"]))
    seq = []
    for i, s in enumerate(t.get("seq_len", [])):
        here = f"{where} seq_len[{i}]"
        if not (isinstance(s.get("value"), int) and s["value"] > 0 and str(s.get("source", "")).strip()):
            raise ValueError(f"{here}: needs since, value (a whole number > 0) and source")
        seq.append(Dated(f"{key}.seq_len[{i}]", _date(s["since"], here), float(s["value"]), s["source"],
                         _facts(s.get("run_fact_of"), here)))
    designs = [_design(key, i, d) for i, d in enumerate(t.get("moe", []))]
    if designs and t["kind"] != "sized":
        raise ValueError(f"{where}: moe designs need kind = \"sized\"")
    if t["kind"] == "sized" and not (sizing and seq):
        raise ValueError(f"{where}: a sized family needs sizing and seq_len rows")
    if t["kind"] == "unsized" and not t.get("utilization"):
        raise ValueError(f"{where}: an unsized family needs a utilization key (uncertainty.csv)")
    return Family(
        key, t["name"], t["kind"], t["source"], tuple(sorted(since, key=lambda d: d.since)), frozenset(t["techniques"]),
        int(t.get("per_device_batch", 1)), _facts(t.get("per_device_batch_run_fact_of"), where),
        t.get("batch_practice"), tuple(steps), t.get("batch_free_with"), tuple(sorted(learners, key=lambda d: d.since)),
        t.get("utilization"),
        t.get("multi_node_efficiency"), t.get("algorithmic_halving"),
        t.get("critical_batch") == "kaplan", float(t.get("tokens_available", float("inf"))),
        float(t.get("max_epochs", 1.0)), tuple(sorted(sizing, key=lambda d: d.since)),
        tuple(sorted(seq, key=lambda d: d.since)), tuple(sorted(designs, key=lambda d: d.since)))


@cache
def _families() -> dict[str, Family]:
    data = tomllib.loads(files("simulator.catalog").joinpath(WORKLOADS_TOML).read_text(encoding="utf-8"))
    rows = {r.key: r for r in batch_limits()}
    return {key: _family(key, t, rows) for key, t in data.items()}


def families() -> dict[str, Family]:
    """All workload families by key (a fresh dict of frozen objects)."""
    return dict(_families())


@cache
def families_at(at: date, withhold: frozenset[str] = frozenset()) -> tuple[Family, ...]:
    """Families that exist at `at`, as seen when the runs in `withhold` are scored."""
    out = []
    for f in _families().values():
        v = f.view(withhold)
        if v is not None and v.since[0].since <= at:
            out.append(v)
    return tuple(out)
