"""The constraints of a frontier run: a scenario's [frontier] table, with defaults.

A frontier scenario is a TOML file with `name`, `description`, a [frontier] table of
optional keys (below) and a [sources] table naming the source of every number set in
[frontier]. Keys left out take the default: the era series of catalog/frontier_inputs.csv
(budget, largest cluster, devices per host, longest run) or a constant below with its
source. Bad input raises ScenarioError (one line: file, table, key, value).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path

from simulator.catalog.hardware import accelerators, links
from simulator.catalog.recovery import last_published, recovery_at
from simulator.catalog.runfacts import resolve_withhold
from simulator.catalog.scenario import ScenarioError, unknown_key
from simulator.catalog.stacks import find_stack, stacks
from simulator.catalog.uncertain import uncertain_row
from simulator.core.units import name_list
from simulator.costs.batch import batch_laws
from simulator.frontier.actors import actors
from simulator.frontier.workloads import families

BASELINE = Path(__file__).resolve().parent.parent / "catalog" / "frontier_baseline.toml"

#: McCandlish et al. 2018 (arXiv 1812.06162), Sec. 2.2: at B = B_crit a run takes twice the
#: minimum examples and twice the minimum steps, their suggested trade-off; it wastes half
#: the compute against the smallest batches (C = C_min (1 + B / B_crit)).
MAX_WASTE = 0.5
#: Llama 3 (Dubey et al. 2024, Sec. 3.3.1): Tectonic storage sustains 2 TB/s, peak 7 TB/s
#: (from memory - verify). Checkpoints are written at the sustained rate.
CHECKPOINT_BYTES_PER_S = 2e12
#: Bytes of training state per parameter written in a checkpoint: fp32 weights and two
#: fp32 Adam moments (12 B) plus the 16-bit working copy (2 B) and gradients are not
#: saved; Rajbhandari et al. 2019 (ZeRO) Sec. 3.1 counts 16 B per parameter in memory,
#: of which the 12 B of optimizer state and master weights plus 2 B of fp16 weights = 14 B.
CHECKPOINT_BYTES_PER_PARAM = 14.0

#: The software the frontier's actor trains with: each stack from its `since` date
#: (catalog/stacks.toml), the newest that has begun; before the first, no stack (DeepSpeed's
#: combination rules, gradient reduction overlapped). NVIDIA's reference frameworks, whose
#: behaviour is documented in code and recipes (stack_evidence.csv): Megatron-LM v2.5 (2021),
#: NeMo's performance recipes on Megatron-Core (2024), NeMo 25.09 (2025). The labs' own
#: frameworks are not public.
STACK_LINEAGE = ("megatron-lm-2021", "nemo-2024", "nemo-2025")

#: The row a projected run's recovery time is drawn from (trend/project.py `sample_configs`).
PROJECTED_RECOVERY_REF = "projection_parameters.csv:recovery_time_after_series"

#: Sources of the constant defaults, written into a resolved scenario (the series defaults
#: - budget, largest cluster, devices per host, longest run - are left out of it and keep
#: their per-row sources in catalog/frontier_inputs.csv).
DEFAULT_SOURCES = {
    "max_waste": "McCandlish et al. 2018 (arXiv 1812.06162), Sec. 2.2: B = B_crit trade-off",
    "checkpoint_bytes_per_s": "Llama 3 (Dubey et al. 2024, Sec. 3.3.1): 2 TB/s sustained storage (from memory - verify)",
    "budget_scale": "1: the budget series as sourced (no scaling)",
    "critical_batch_scale": "1: the batch limits as sourced in catalog/workloads.toml (no scaling)",
    "memory_scale": "1: device memory as in catalog/accelerators.csv (no scaling)",
    "data_scale": "1: the training data of catalog/workloads.toml as sourced (no scaling)",
    "supply_scale": "1: the actors' sites as sourced (no scaling)",
    "host_scale": "1: the hosts as sourced (no scaling)",
    "duration_scale": "1: the decided run length (no scaling)",
    "stacks": "NVIDIA's reference frameworks, each from its release (catalog/stacks.toml, stack_evidence.csv)",
    "max_sites": "1: one site per run, as the published frontier runs (Llama 3, Dubey et al. 2024, Sec. 3.3.1)",
    "latency_scale": "1: link and hop latencies as in catalog/links.csv and efficiency.toml (no scaling)",
    "chip_scale": "1: the chip supply as drawn from catalog/projection_parameters.csv (no scaling)",
}


@dataclass(frozen=True)
class FrontierConfig:
    """What bounds the largest run. None means: the era series (frontier_inputs.csv)."""

    name: str = "baseline"
    description: str = ""
    origin: str = "<built-in>"
    budget_usd: float | None = None  # a fixed budget per run instead of the series
    budget_scale: float = 1.0
    budget_frozen_at: date | None = None  # the series' budget of this date from then on
    max_duration_days: float | None = None
    max_devices: float | None = None  # largest synchronous cluster
    host_devices: float | None = None  # most devices in one host
    devices: tuple[str, ...] | None = None  # accelerator keys allowed (None: all)
    families: tuple[str, ...] | None = None  # workload families allowed (None: all)
    techniques_frozen_at: date | None = None  # techniques known at this date, no later ones
    critical_batch_scale: float = 1.0
    max_waste: float = MAX_WASTE
    failure_rate_per_device_hour: float | None = None  # None: 1 / uncertainty.csv device_hours_per_failure
    checkpoint_bytes_per_s: float = CHECKPOINT_BYTES_PER_S
    restart_s: float | None = None  # None: uncertainty.csv restart_s (drawn), or the best published recovery
    recovery_scale: float = 1.0  # multiplies the recovery time (the failures' relaxation only; not a scenario key)
    projected_recovery_s: float | None = None  # after the last published recovery: the projection's draw
    price: str = "capex"  # "capex": amortised purchase first (Cottier et al.); "cloud": cloud first
    memory_scale: float = 1.0  # device memory multiplier (for the 2x relaxation)
    data_scale: float = 1.0  # training data multiplier (examples and tokens that exist; for the 2x relaxation)
    intra_link: str | None = None  # links.csv key replacing every device's scale-up link
    inter_link: str | None = None  # links.csv key replacing every device's scale-out link
    power_cap_w: float | None = None  # most power one site can give a run (the projection's site power cap)
    site_power_w: float | None = None  # a site's power for every date instead of the series (W)
    async_replicas: float | None = None  # useful asynchronous replicas instead of the series
    supply_scale: float = 1.0  # multiplies every actor's site power and cluster (for the 2x relaxation)
    host_scale: float = 1.0  # multiplies the largest host (for the 2x relaxation)
    duration_scale: float = 1.0  # multiplies the decided run length (for the 2x relaxation)
    max_tp: float | None = None  # most tensor-parallel ranks searched (None: utilization.MAX_TP)
    ignore_budget: bool = False  # "disregarding cost": no budget at any date
    device_grid: bool = False  # runs on the device grid, exactly the devices searched (frontier/utilization.grid_floor)
    min_utilization: float | None = None  # a run must reach this share of the device's best MFU
    stacks: tuple[str, ...] = STACK_LINEAGE  # the software, each stack from its release ([] for none)
    max_sites: float = 1.0  # most sites one run may span (data parallelism across them)
    site_link_gb_s: float | None = None  # bandwidth between sites, per site and direction (GB/s)
    site_distance_km: float | None = None  # distance between sites (fibre delay 4.9 us/km)
    latency_scale: float = 1.0  # multiplies every link and hop latency (for the 2x relaxation)
    chip_scale: float = 1.0  # multiplies the chip supply of a projected year (for the 2x relaxation)
    actors: tuple[str, ...] | None = None  # actors allowed (None: every actor of catalog/actors.csv)
    seq_len: float | None = None  # training sequence length of sized models (None: the family's series)
    batch_law: str | None = None  # key of catalog/batch_laws.csv for sized models (None: Kaplan's critical batch)
    withhold: frozenset[str] = frozenset()  # runs whose facts the rules may not read (catalog/runfacts.py)
    draws: tuple[tuple[str, float], ...] = ()  # values set for uncertain inputs (catalog/uncertainty.csv)
    quantiles: tuple[tuple[str, float], ...] = ()  # standard-normal quantiles drawn for uncertain inputs
    sources: tuple[tuple[str, str], ...] = ()
    _memo: dict = field(init=False, default_factory=dict, compare=False, hash=False, repr=False)

    def input(self, key: str) -> float:
        """An uncertain input: its value set in this config, else its value at the drawn
        quantile, else its median (catalog/uncertainty.csv), from the range a frontier
        withholding `withhold` may read."""
        if key in self._memo:
            return self._memo[key]
        value = dict(self.draws).get(key)
        if value is None:
            row = uncertain_row(key).seen(self.withhold)
            z = dict(self.quantiles).get(key)
            value = row.median if z is None else row.quantile(z)
        self._memo[key] = value
        return value

    @property
    def failure_rate(self) -> float:
        """Failures per device-hour: the scenario's, else 1 / the drawn device-hours per failure."""
        if self.failure_rate_per_device_hour is not None:
            return self.failure_rate_per_device_hour
        return 1.0 / self.input("device_hours_per_failure")

    @property
    def restart(self) -> float:
        """Seconds to restart after a failure: the scenario's, else the drawn value (before any
        published recovery lowers it: `recovery`), times `recovery_scale`."""
        return (self.restart_s if self.restart_s is not None else self.input("restart_s")) * self.recovery_scale

    def recovery(self, start: date, actor: str | None = None) -> tuple[float, str]:
        """(seconds lost to restart after each failure, the catalog row it came from) for a run
        of `actor` starting at `start`: the scenario's restart_s where set (a constant, ""),
        else the shorter of the drawn restart_s (uncertainty.csv) and the best published
        recovery available to the actor by then (catalog/recovery.py: its own at once, others'
        after the drawn technique adoption lag, its withheld runs' never), times
        `recovery_scale`: never increases with the date, and holds at its last level after the
        newest published row. A projection sets `projected_recovery_s`, its own draw for runs
        starting after the newest row (trend/project.py `sample_configs`)."""
        if self.restart_s is not None:
            return self.restart, ""
        if self.projected_recovery_s is not None and start > last_published():
            return self.projected_recovery_s * self.recovery_scale, PROJECTED_RECOVERY_REF
        best, ref = recovery_at(start, self.withhold, self.input("technique_adoption_lag_days"), actor or None)
        drawn = self.input("restart_s")
        if best < drawn:
            return best * self.recovery_scale, ref
        return drawn * self.recovery_scale, ""

    def with_draws(self, values: dict[str, float]) -> FrontierConfig:
        """A copy with these inputs set to values (replacing earlier values of the same keys)."""
        kept = tuple((k, v) for k, v in self.draws if k not in values)
        return replace(self, draws=kept + tuple(sorted(values.items())))

    def with_quantiles(self, z: dict[str, float]) -> FrontierConfig:
        """A copy with these inputs drawn at standard-normal quantiles z (each mapped through the
        input's range, or through its withheld range where the config withholds its runs)."""
        kept = tuple((k, v) for k, v in self.quantiles if k not in z)
        return replace(self, quantiles=kept + tuple(sorted(z.items())))

    def withholding(self, runs) -> FrontierConfig:
        """A copy that also withholds the facts of `runs` (run ids)."""
        return replace(self, withhold=self.withhold | frozenset(runs))

    def relaxed(self, constraint: str, factor: float = 2.0, scales: dict | None = None) -> FrontierConfig:
        """A copy with one constraint relaxed by `factor` (scales: the current values)."""
        s = scales or {}
        if constraint == "budget":
            return replace(self, budget_scale=self.budget_scale * factor)
        if constraint == "duration":
            if self.max_duration_days is not None:
                return replace(self, max_duration_days=self.max_duration_days * factor)
            return replace(self, duration_scale=self.duration_scale * factor)
        if constraint == "supply":
            return replace(self, supply_scale=self.supply_scale * factor)
        if constraint == "power":  # a site's power, and a scenario's cap on it
            return replace(self, site_power_w=s["site_power_w"] * factor,
                           power_cap_w=None if self.power_cap_w is None else self.power_cap_w * factor)
        if constraint == "chips":
            return replace(self, chip_scale=self.chip_scale * factor)
        if constraint == "sites":
            return replace(self, max_sites=self.max_sites * factor)
        if constraint == "latency":
            return replace(self, latency_scale=self.latency_scale / factor)
        if constraint == "host":
            return replace(self, host_scale=self.host_scale * factor)
        if constraint == "batch":
            return replace(self, critical_batch_scale=self.critical_batch_scale * factor)
        if constraint == "memory":
            return replace(self, memory_scale=self.memory_scale * factor)
        if constraint == "data":
            return replace(self, data_scale=self.data_scale * factor)
        if constraint == "failures":  # fewer failures and faster recovery, both by the factor
            return replace(self, failure_rate_per_device_hour=self.failure_rate / factor,
                           recovery_scale=self.recovery_scale / factor)
        raise ValueError(f"unknown constraint {constraint!r}")

    def to_raw(self) -> dict:
        """The scenario file (resolved: every key written), for the run folder."""
        table = {}
        for f in fields(self):
            if f.name in ("name", "description", "origin", "sources", "_memo"):
                continue
            v = getattr(self, f.name)
            if v is not None:
                if f.name in ("draws", "quantiles", "projected_recovery_s", "recovery_scale"):  # not scenario keys
                    continue
                table[f.name] = v.isoformat() if isinstance(v, date) else (
                    sorted(v) if isinstance(v, frozenset) else list(v) if isinstance(v, tuple) else v)
        srcs = {**{k: v for k, v in DEFAULT_SOURCES.items() if k in table}, **dict(self.sources)}
        return {"name": self.name, "description": self.description, "frontier": table, "sources": srcs}


_NUMBERS = {"budget_usd", "budget_scale", "max_duration_days", "max_devices", "host_devices",
            "critical_batch_scale", "max_waste", "failure_rate_per_device_hour", "checkpoint_bytes_per_s",
            "restart_s", "memory_scale", "data_scale", "power_cap_w", "site_power_w", "async_replicas", "supply_scale", "host_scale",
            "duration_scale", "seq_len",
            "max_tp", "min_utilization", "max_sites", "site_link_gb_s", "site_distance_km", "latency_scale",
            "chip_scale"}
_LINKS = {"intra_link", "inter_link"}
_ZERO_OK = {"failure_rate_per_device_hour", "site_distance_km"}
_DATES = {"budget_frozen_at", "techniques_frozen_at"}
_LISTS = {"devices", "families", "stacks", "actors"}
_BOOLS = {"ignore_budget", "device_grid"}
_TOP = {"name", "description", "frontier", "sources"}


def _frontier_value(key: str, value, sources: dict, bad):
    """The value of [frontier] `key` as FrontierConfig holds it; `bad(problem)` gives the error
    to raise for a value out of its type or range."""
    if key in _NUMBERS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < 0 or (value == 0 and key not in _ZERO_OK):
            raise bad("must be a number > 0" if key not in _ZERO_OK else "must be a number >= 0")
        if key == "max_waste" and not value < 1:
            raise bad("must be in (0, 1)")
        if key == "min_utilization" and not value <= 1:
            raise bad("must be in (0, 1]")
        if key in ("max_sites", "seq_len", "max_tp", "host_devices") and not (
                value >= 1 and float(value).is_integer()):
            raise bad("must be a whole number >= 1")
        if key not in sources or not str(sources[key]).strip():
            raise bad(f"no source: add [sources] {key} = \"...\" (every number needs a source)")
        return float(value)
    if key in _DATES:
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise bad("must be an ISO date, e.g. \"2016-06-30\"") from None
    if key == "withhold":
        try:
            return resolve_withhold(value if isinstance(value, list) else [value])
        except ValueError as exc:
            raise bad(str(exc)) from None
    if key in _LISTS:
        known = (accelerators() if key == "devices" else families() if key == "families"
                 else actors() if key == "actors" else stacks())
        if not isinstance(value, list) or not (value or key == "stacks") or any(v not in known for v in value):
            where = "simulator catalog " + ("accelerators" if key == "devices" else key) if key != "families" else None
            raise bad(f"must be a {'' if key == 'stacks' else 'non-empty '}list of: "
                      f"{name_list(known, limit=24, listed_in=where)}")
        return tuple(dict.fromkeys(value))
    if key in _BOOLS:
        if not isinstance(value, bool):
            raise bad("must be true or false")
        return value
    if key in _LINKS:
        if value not in links():
            raise bad(f"not a link: {name_list(links(), limit=24, listed_in='simulator catalog links')}")
        return value
    if key == "batch_law":
        if value not in batch_laws():
            raise bad(f"not a law of batch_laws.csv; one of: {name_list(batch_laws())}")
        return value
    if value not in ("capex", "cloud"):  # price
        raise bad("must be \"capex\" or \"cloud\"")
    return value


def parse_frontier(data: dict, origin: str) -> FrontierConfig:
    """A FrontierConfig from a parsed TOML document; ScenarioError on bad input."""
    for key, value in data.items():
        if key not in _TOP:
            hint = " (a step scenario? frontier commands take [frontier])" if key in (
                "model", "cluster", "layout", "search") else ""
            raise ScenarioError(origin, None, key, value, unknown_key(key, sorted(_TOP)) + hint)
    table, sources = data.get("frontier", {}), data.get("sources", {})
    if not isinstance(table, dict) or not isinstance(sources, dict):
        raise ScenarioError(origin, None, "frontier", problem="[frontier] and [sources] must be tables")
    allowed = _NUMBERS | _DATES | _LISTS | _LINKS | _BOOLS | {"price", "withhold", "batch_law"}
    out = {}
    for key, value in table.items():
        def bad(problem, key=key, value=value):
            return ScenarioError(origin, "frontier", key, value, problem)

        if key not in allowed:
            raise bad(unknown_key(key, sorted(allowed), "docs/frontier.md"))
        out[key] = _frontier_value(key, value, sources, bad)
    for key in sources:
        if key not in allowed:
            raise ScenarioError(origin, "sources", key, sources[key], "names no [frontier] key")
    for key in ("name", "description"):
        if key in data and not (isinstance(data[key], str) and data[key].strip()):
            raise ScenarioError(origin, None, key, data[key], "must be a non-empty string")
    if out.get("max_sites", 1) > 1 and "site_link_gb_s" not in out:
        raise ScenarioError(origin, "frontier", "max_sites", table["max_sites"],
                            "more than one site needs site_link_gb_s (and site_distance_km) between them")
    return FrontierConfig(name=data.get("name", Path(origin).stem), description=data.get("description", ""),
                          origin=origin, sources=tuple((k, str(v)) for k, v in sources.items()), **out)


def stack_at(at: date, config: FrontierConfig) -> str | None:
    """The stack the frontier's actor trains with at `at`: the newest of `config.stacks`
    released by then (None before the first)."""
    begun = [find_stack(k) for k in config.stacks if find_stack(k).since <= at]
    return max(begun, key=lambda st: st.since).key if begun else None


def load_frontier(path: Path | str | None = None) -> FrontierConfig:
    """Read a frontier scenario (None: the built-in baseline).

    >>> config = load_frontier()  # the built-in baseline
    >>> type(config).__name__
    'FrontierConfig'
    """
    path = Path(path) if path is not None else BASELINE
    origin = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(origin, None, None, problem="file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(origin, None, None, problem=f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(origin, None, None, problem=f"not valid TOML: {exc}") from None
    return parse_frontier(data, origin)

