"""Scenario files (TOML) -> a validated Scenario: model, cluster and layout.

Every problem with user input raises ScenarioError, whose message is one line:
``scenarios/x.toml: [cluster] devices=-4: must be a positive integer``.
Memory feasibility is not checked here: the engine reports out-of-memory as a
result. Schema (see scenarios/default.toml for a commented example)::

    name = "..."                 # optional, default: the file's stem
    description = "..."          # optional
    [model]    name = "<built-in>" (plus optional overrides), or inline fields:
               transformer: layers hidden heads seq_len vocab [kv_heads ffn_hidden gated_mlp]
               generic:     params flops_per_example activation_bytes_per_example [layers]
    [cluster]  accelerator devices [devices_per_node intra_link inter_link]
    [layout]   global_batch [tp pp dp micro_batch schedule virtual_stages recompute
               sequence_parallel zero precision attention cp ep offload site_split]
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from simulator import catalog
from simulator.catalog.models import find_model
from simulator.catalog.stacks import find_stack, stacks
from simulator.core.specs import (
    DIMENSION_KEYS,
    SITE_SPLITS,
    Attention,
    Cluster,
    GenericNetwork,
    Layout,
    Link,
    Precision,
    Recompute,
    Schedule,
    SearchSpace,
    Stack,
    Transformer,
    Zero,
)
from simulator.core.units import FIBRE_S_PER_KM, name_list

DEFAULT_SCENARIO = Path(__file__).parent / "default_scenario.toml"
_MISSING = object()


def default_scenario_path() -> Path:
    """The packaged copy of scenarios/default.toml (loadable without a path).

    >>> default_scenario_path().name
    'default_scenario.toml'
    """
    return DEFAULT_SCENARIO


def unknown_key(key: str, allowed, listed_in: str | None = None) -> str:
    """The problem text of a key not in `allowed`: the closest allowed key when one is close
    ("did you mean", and where all are listed), else the allowed keys (units.name_list: cut
    short, with `listed_in`, where all are listed): one short line."""
    names = [str(a) for a in allowed]
    close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
    if close:  # the likely key; the whole list where it is kept
        return f"unknown key; did you mean {close[0]!r}?" + (f" (all keys: {listed_in})" if listed_in else "")
    return f"unknown key; allowed: {name_list(names, listed_in=listed_in)}"


class ScenarioError(Exception):
    """A scenario file problem, as one line naming file, table, key and value."""

    def __init__(self, origin: str, table: str | None, key: str | None, value=_MISSING,
                 problem: str = "invalid"):
        self.origin, self.table, self.key, self.value, self.problem = (
            origin, table, key, value, problem)
        where = f"[{table}] " if table else ""
        what = key or ""
        if key and value is not _MISSING:
            what += "=" + _short(value)
        head = " ".join(p for p in (where.strip(), what) if p)
        text = f"{origin}: {head}: {problem}" if head else f"{origin}: {problem}"
        super().__init__(" ".join(text.split()))


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    model: Transformer | GenericNetwork
    cluster: Cluster
    layout: Layout
    origin: str
    raw: dict = field(hash=False, compare=False, repr=False)
    search: SearchSpace | None = None  # the [search] table, for `simulator search`
    has_layout: bool = True  # False: [layout] gives only batch/precision, the search picks the rest
    stack: Stack | None = None  # the [stack] table: the framework (None: DeepSpeed's rules)


# ------------------------------------------------------------------ schema
NUMBER = "number"  # positive int or float
TOP = {"name": str, "description": str, "model": dict, "cluster": dict, "layout": dict,
       "search": dict, "stack": dict}
STACK = {"name": str}
TRANSFORMER = {"name": str, "source": str, "layers": int, "hidden": int, "heads": int,
               "seq_len": int, "vocab": int, "kv_heads": int, "ffn_hidden": int,
               "gated_mlp": bool, "experts": int, "top_k": int, "expert_ffn": int,
               "shared_experts": int, "dense_layers": int, "capacity_factor": NUMBER,
               "load_imbalance": NUMBER, "head_size": int, "q_lora_rank": int,
               "kv_lora_rank": int, "rope_head_dim": int}
GENERIC = {"name": str, "source": str, "params": NUMBER, "flops_per_example": NUMBER,
           "activation_bytes_per_example": NUMBER, "layers": int}
MODEL = {**TRANSFORMER, **GENERIC}
TRANSFORMER_REQUIRED = ("layers", "hidden", "heads", "seq_len", "vocab")
GENERIC_REQUIRED = ("params", "flops_per_example", "activation_bytes_per_example")
CLUSTER = {"accelerator": str, "devices": int, "devices_per_node": int,
           "intra_link": str, "inter_link": str, "sites": int, "site_link_gb_s": NUMBER,
           "site_distance_km": NUMBER}
#: Most micro-batches per step the event simulation accepts: it keeps every micro-batch's
#: events (measured: 8,192 take 0.9 s and 136 MB; the cost grows linearly), so a step of
#: 1.5e12 sequences would not finish. A resource limit, not a modelled fact.
MAX_MICROBATCHES = 65_536
LAYOUT = {"global_batch": int, **dict.fromkeys(DIMENSION_KEYS, int), "micro_batch": int,
          "schedule": Schedule, "virtual_stages": int, "recompute": Recompute,
          "sequence_parallel": bool, "zero": Zero, "precision": Precision,
          "attention": Attention, "offload": bool, "site_split": str}
SEARCH = {"global_batches": (int,), "max_micro_batch": int, "schedules": (Schedule,),
          "max_virtual_stages": int, "recompute": (Recompute,), "sequence_parallel": (bool,),
          "zero": (Zero,), "max_global_batch": int, "top_k": int, "max_tp": int, "max_pp": int,
          "divisors_only": bool, "tp_across_nodes": bool, "context_parallel": (int,),
          "expert_parallel": (int,), "offload": (bool,), "site_splits": (str,)}
#: [layout] keys that make it a complete layout (else the search chooses them)
LAYOUT_SPLIT = ("tp", "pp", "dp")


class _Reader:
    """Reads one file's tables, converting and checking each value against a schema."""

    def __init__(self, origin: str):
        self.origin = origin

    def error(self, table, key, value=_MISSING, problem="invalid") -> ScenarioError:
        """A ScenarioError naming this file, the table, the key and the value."""
        return ScenarioError(self.origin, table, key, value, problem)

    def table(self, table: str | None, data: dict, schema: dict, required=()) -> dict:
        """Checked, converted copy of `data`; unknown keys and missing ones are errors."""
        for key, value in data.items():
            if key not in schema:
                raise self.error(table, key, value, unknown_key(key, schema))
        for key in required:
            if key not in data:
                raise self.error(table, key, problem="missing required key")
        return {key: self.value(table, key, value, schema[key]) for key, value in data.items()}

    def value(self, table, key, value, kind):
        """`value` of `table.key` checked to be of `kind` (and in its range); ScenarioError otherwise."""
        def bad(problem):
            """The error for this key and value, with its problem."""
            return self.error(table, key, value, problem)

        if kind is bool:
            if not isinstance(value, bool):
                raise bad("must be true or false")
            return value
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise bad("must be a positive integer")
            return value
        if kind is NUMBER:
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value) or value <= 0):
                raise bad("must be a positive number")
            return float(value)
        if kind is str:
            if not isinstance(value, str) or not value.strip():
                raise bad("must be a non-empty string")
            return value.strip()
        if isinstance(kind, tuple):  # a list of one kind
            if not isinstance(value, list) or not value:
                raise bad(f"must be a non-empty list of {getattr(kind[0], '__name__', kind[0])}")
            items = [self.value(table, key, item, kind[0]) for item in value]
            return tuple(dict.fromkeys(items))
        if kind is dict:
            if not isinstance(value, dict):
                raise bad(f"must be a table ([{key}])")
            return value
        ok_types = (str, int) if kind is Zero else (str,)
        if isinstance(value, bool) or not isinstance(value, ok_types):
            raise bad(f"must be a string, one of {kind.allowed()}")
        try:
            return kind.parse(value)
        except ValueError as e:
            raise bad(str(e)) from None


def _one_line(err: Exception) -> str:
    text = err.args[0] if err.args else str(err)
    return " ".join(str(text).split())


# ------------------------------------------------------------------ model
def _model(r: _Reader, data: dict) -> Transformer | GenericNetwork:
    fields = r.table("model", data, MODEL)
    name = fields.get("name")
    base = None
    if name is not None:
        try:
            base = find_model(name)
        except KeyError as e:
            if not set(fields) - {"name", "source"}:
                raise r.error("model", "name", name, _one_line(e)) from None
    if base is not None:
        schema = TRANSFORMER if isinstance(base, Transformer) else GENERIC
        kind = "transformer" if isinstance(base, Transformer) else "generic network"
        overrides = {k: v for k, v in fields.items() if k != "name"}
        for key, value in overrides.items():
            if key not in schema:
                raise r.error("model", key, value,
                              f"cannot override a {kind} ({base.name}); allowed: "
                              f"{', '.join(schema)}")
        if overrides and "source" not in overrides:
            changed = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
            overrides["source"] = f"{base.source}; overridden in scenario: {changed}"
        model = dataclasses.replace(base, **overrides)
    elif set(fields) & (set(TRANSFORMER) - set(GENERIC)):
        mixed = sorted(set(fields) & (set(GENERIC) - set(TRANSFORMER)))
        if mixed:
            raise r.error("model", mixed[0], fields[mixed[0]], "is a generic-network "
                          "field, but transformer fields are given too")
        r.table("model", data, TRANSFORMER, TRANSFORMER_REQUIRED)
        model = Transformer(**{"name": "custom-transformer", **fields})
    elif set(fields) & set(GENERIC_REQUIRED):
        r.table("model", data, GENERIC, GENERIC_REQUIRED)
        model = GenericNetwork(**{"name": "custom-network", **fields})
    else:
        raise r.error("model", "name", problem="missing: give a built-in model name or "
                      f"inline fields ({', '.join(TRANSFORMER_REQUIRED)} or "
                      f"{', '.join(GENERIC_REQUIRED)})")
    if isinstance(model, Transformer):
        if model.hidden % model.heads and model.head_size is None:
            raise r.error("model", "heads", model.heads,
                          f"must divide hidden={model.hidden} (or give head_size)")
        if model.moe and not 1 <= model.top_k <= model.experts:
            raise r.error("model", "top_k", model.top_k, f"must be between 1 and experts={model.experts}")
        if model.dense_layers >= model.layers:
            raise r.error("model", "dense_layers", model.dense_layers, f"must be below layers={model.layers}")
        if (model.capacity_factor is not None and model.capacity_factor < 1) or model.load_imbalance < 1:
            key = "load_imbalance" if model.load_imbalance < 1 else "capacity_factor"
            raise r.error("model", key, getattr(model, key), "must be at least 1 (the busiest expert's "
                          "load over the mean)")
        if model.heads % model.n_kv_heads:
            raise r.error("model", "kv_heads", model.kv_heads,
                          f"must divide heads={model.heads}")
    return model


# ------------------------------------------------------------------ cluster
def _cluster(r: _Reader, data: dict) -> tuple[Cluster, dict]:
    f = r.table("cluster", data, CLUSTER, ("accelerator", "devices"))
    try:
        acc = catalog.find_accelerator(f["accelerator"])
    except KeyError as e:
        raise r.error("cluster", "accelerator", f["accelerator"], _one_line(e)) from None
    acc_key = next((k for k, a in catalog.accelerators().items() if a is acc), None)
    acc_key = acc_key or next((k for k, a in catalog.accelerators().items() if a == acc),
                              f["accelerator"])
    try:
        intra, inter, per_node = catalog.default_links(acc_key)
    except KeyError:
        intra, inter, per_node = None, None, None
    links = {}
    for key, default in (("intra_link", intra), ("inter_link", inter)):
        if key in f:
            try:
                links[key] = catalog.find_link(f[key])
            except KeyError as e:
                raise r.error("cluster", key, f[key], _one_line(e)) from None
        else:
            links[key] = default
    per_node = f.get("devices_per_node", per_node)
    if per_node is None:
        raise r.error("cluster", "devices_per_node", problem=f"missing, and accelerator "
                      f"{acc_key!r} has no default; give it")
    devices = f["devices"]
    # a tier that no traffic crosses may borrow the other tier's link
    if links["intra_link"] is None and per_node == 1:
        links["intra_link"] = links["inter_link"]
    if links["inter_link"] is None and devices <= per_node:
        links["inter_link"] = links["intra_link"]
    for key in ("intra_link", "inter_link"):
        if links[key] is None:
            raise r.error("cluster", key, problem=f"missing, and accelerator {acc_key!r} "
                          "has no default; give it")
    sites, site_link = f.get("sites", 1), None
    if sites > 1:
        for key in ("site_link_gb_s", "site_distance_km"):
            if key not in f:
                raise r.error("cluster", key, problem=f"missing: sites={sites} needs the link between sites "
                              "(site_link_gb_s: GB/s per site and direction; site_distance_km)")
        if devices % sites:
            raise r.error("cluster", "sites", sites, f"must divide [cluster] devices={devices}")
        site_link = Link(f"{sites} sites {f['site_distance_km']:g} km apart", f["site_link_gb_s"] * 1e9,
                         f["site_distance_km"] * FIBRE_S_PER_KM, "scenario [cluster] site_link_gb_s, site_distance_km")
    elif {"site_link_gb_s", "site_distance_km"} & set(f):
        key = next(k for k in ("site_link_gb_s", "site_distance_km") if k in f)
        raise r.error("cluster", key, f[key], "needs sites > 1")
    cluster = Cluster(accelerator=acc, n_devices=devices, devices_per_node=per_node,
                      intra_link=links["intra_link"], inter_link=links["inter_link"], sites=sites,
                      site_link=site_link)
    raw = {"accelerator": acc_key, "devices": devices, "devices_per_node": per_node}
    for key in ("intra_link", "inter_link"):
        raw[key] = f.get(key) or _link_key(links[key])
    for key in ("sites", "site_link_gb_s", "site_distance_km"):
        if key in f:
            raw[key] = f[key]
    return cluster, raw


def _link_key(link) -> str:
    """Catalog key of a (default) link, for the resolved table; its name if none found."""
    table = getattr(catalog, "links", None)
    for key, candidate in (table() if callable(table) else {}).items():
        if candidate == link:
            return key
    return link.name


# ------------------------------------------------------------------ layout
def _layout(r: _Reader, data: dict, model, cluster: Cluster, partial: bool = False) -> Layout:
    """The layout's form: its values, dp from the devices, the schedule's own fields and the
    event simulation's bound; `partial` (a search scenario without tp/pp/dp) checks types only.
    The structural rules (tp and the heads, pp and the layers, the batch in whole micro-batches
    ...) are costs/rules.py's, applied to the parsed scenario by `costs.step.check_scenario`."""
    f = r.table("layout", data, LAYOUT, ("global_batch",))
    defaults = {fl.name: fl.default for fl in dataclasses.fields(Layout)}
    v = {**defaults, **f}
    if v["site_split"] not in SITE_SPLITS:
        raise r.error("layout", "site_split", v["site_split"], f"must be one of {', '.join(SITE_SPLITS)} "
                      "(the dimension spread over the sites)")
    if v["site_split"] != "dp" and cluster.sites == 1:
        raise r.error("layout", "site_split", v["site_split"], "needs [cluster] sites > 1")
    if partial:
        return Layout(**{**v, "dp": cluster.n_devices})
    _check_split(r, v, "dp" in f, cluster)
    _check_schedule(r, v)
    return Layout(**v)


def _check_split(r: _Reader, v: dict, dp_given: bool, cluster: Cluster) -> None:
    """tp x pp x cp x dp against the devices (dp derived when omitted, in `v`)."""
    tp, pp, cp, devices = v["tp"], v["pp"], v["cp"], cluster.n_devices
    if dp_given:
        if v["dp"] * tp * pp * cp != devices:
            raise r.error("layout", "dp", v["dp"], f"dp*tp*pp*cp = {v['dp'] * tp * pp * cp} must "
                          f"equal [cluster] devices={devices}")
    elif devices % (tp * pp * cp):
        raise r.error("layout", "pp", pp, f"tp*pp*cp = {tp * pp * cp} must divide [cluster] "
                      f"devices={devices} (dp = devices/(tp*pp*cp) when omitted)")
    else:
        v["dp"] = devices // (tp * pp * cp)


def _check_schedule(r: _Reader, v: dict) -> None:
    """Virtual stages with the interleaved schedule only (and at least two there), and no more
    micro-batches per step than the event simulation takes."""
    per_step = v["dp"] * v["micro_batch"]
    if v["global_batch"] // per_step > MAX_MICROBATCHES:
        raise r.error("layout", "global_batch", v["global_batch"],
                      f"{v['global_batch'] // per_step:,} micro-batches a step; the simulation takes at most "
                      f"{MAX_MICROBATCHES:,} (about 7 s, 0.7 GB)")
    if v["schedule"] is Schedule.INTERLEAVED and v["virtual_stages"] < 2:
        raise r.error("layout", "virtual_stages", v["virtual_stages"],
                      "the interleaved schedule needs virtual_stages > 1")
    if v["schedule"] is not Schedule.INTERLEAVED and v["virtual_stages"] > 1:
        raise r.error("layout", "virtual_stages", v["virtual_stages"], "virtual_stages > 1 "
                      f"needs schedule = 'interleaved' (schedule is '{v['schedule'].value}')")


# ------------------------------------------------------------------ entry points
def parse_scenario(data: dict, origin: str) -> Scenario:
    """Validate a scenario table (as read from TOML); `origin` names it in errors."""
    r = _Reader(str(origin))
    if not isinstance(data, dict):
        raise ScenarioError(r.origin, None, None, problem="a scenario must be a TOML table")
    top = r.table(None, data, TOP, ("model", "cluster", "layout"))
    model = _model(r, top["model"])
    cluster, cluster_raw = _cluster(r, top["cluster"])
    has_layout = "search" not in top or any(k in top["layout"] for k in LAYOUT_SPLIT)
    stack = None
    if "stack" in top:
        key = r.table("stack", top["stack"], STACK, ("name",))["name"]
        try:
            stack = find_stack(key)
        except KeyError:
            raise r.error("stack", "name", key, f"unknown stack; one of: {', '.join(stacks())}") from None
    layout = _layout(r, top["layout"], model, cluster, partial=not has_layout)
    search = _search(r, top["search"], layout) if "search" in top else None
    if search is not None and stack is not None:
        search = dataclasses.replace(search, stack=stack.key)
    name = top.get("name") or Path(r.origin).stem
    raw = {"name": name, **({"description": top["description"]} if top.get("description") else {}),
           "model": _model_raw(model), "cluster": cluster_raw, "layout": _layout_raw(layout)}
    if stack is not None:
        raw["stack"] = {"name": stack.key}
    if search is not None:
        raw["search"] = _search_raw(search)
        if not has_layout:
            raw["layout"] = {k: raw["layout"][k] for k in ("global_batch", "precision", "attention")}
    return Scenario(name=name, description=top.get("description", ""), model=model,
                    cluster=cluster, layout=layout, origin=r.origin, raw=raw, search=search,
                    has_layout=has_layout, stack=stack)


def _search(r: _Reader, data: dict, layout: Layout) -> SearchSpace:
    """The [search] table: what the layout search may vary, with defaults."""
    f = r.table("search", data, SEARCH)
    f.setdefault("global_batches", (layout.global_batch,))
    for split in f.get("site_splits", ()):
        if split not in SITE_SPLITS:
            raise r.error("search", "site_splits", list(f["site_splits"]), f"{split!r}: each must be one of "
                          f"{', '.join(SITE_SPLITS)} (the dimension spread over the sites)")
    if "max_virtual_stages" in f and f["max_virtual_stages"] < 2 and Schedule.INTERLEAVED in f.get(
            "schedules", (Schedule.INTERLEAVED,)):
        raise r.error("search", "max_virtual_stages", f["max_virtual_stages"],
                      "the interleaved schedule needs at least 2 (or leave it out of schedules)")
    return SearchSpace(**f)


def _search_raw(space: SearchSpace) -> dict:
    out = {}
    for key, value in dataclasses.asdict(space).items():
        if value is None or (key == "site_splits" and value == ("dp",)):
            continue
        if isinstance(value, tuple):
            value = [x.stage if isinstance(x, Zero) else getattr(x, "value", x) for x in value]
        out[key] = value
    return out


#: Model keys written to a resolved scenario only when they differ from their default
#: (a dense model with multi-head attention needs none of them).
_OPTIONAL_MODEL_KEYS = ("experts", "top_k", "shared_experts", "dense_layers", "load_imbalance", "rope_head_dim")


def _model_raw(model) -> dict:
    defaults = {f.name: f.default for f in dataclasses.fields(model)}
    return {k: v for k, v in dataclasses.asdict(model).items()
            if v is not None and not (k in _OPTIONAL_MODEL_KEYS and v == defaults[k])}


def _layout_raw(layout: Layout) -> dict:
    out = {}
    for key, value in dataclasses.asdict(layout).items():
        if isinstance(value, Zero):
            value = value.stage
        elif isinstance(value, (Schedule, Recompute, Precision, Attention)):
            value = value.value
        elif key == "site_split" and value == "dp":
            continue  # the default: written only when the pipeline spans the sites
        out[key] = value
    return out


def load_scenario(path) -> Scenario:
    """Read and validate a scenario file; every problem is a one-line ScenarioError.

    >>> sc = load_scenario(default_scenario_path())
    >>> sc.model.name, sc.cluster.n_devices, sc.layout.tp * sc.layout.pp * sc.layout.dp
    ('gpt3-175b', 1024, 1024)
    """
    origin = str(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ScenarioError(origin, None, None, problem="file not found") from None
    except IsADirectoryError:
        raise ScenarioError(origin, None, None, problem="is a directory, not a file") from None
    except OSError as e:
        raise ScenarioError(origin, None, None, problem=f"cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ScenarioError(origin, None, None, problem=f"not UTF-8 text: {e.reason}") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(origin, None, None,
                            problem=f"TOML syntax error: {_one_line(e)}") from None
    return parse_scenario(data, origin)
