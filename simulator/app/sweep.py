"""Sweeps: a grid (and Monte Carlo samples) of scenario keys, run through any command.

A point sets dotted scenario keys (`frontier.budget_scale`, `layout.tp`,
`cluster.devices` ...) and the command's own parameters (`date` for frontier; `to`,
`samples`, `seed` for project) and runs one command on the modified scenario:

    step      one simulated step        search   the best layout
    frontier  the largest run at `date`  project  the projected run in year `to`

`run_point` is a pure top-level function of (command, scenario text, origin, point),
so the same point gives the same row whichever executor runs it: in this process,
in local processes (concurrent.futures), or on a Dask cluster. A point that fails
returns its error in the row; the others still finish. Every row also carries the
command's own parameters (the defaults where a point does not set them), so a default
such as the frontier's date is recorded next to the results.
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import tomllib
from collections import Counter

import numpy as np

from simulator.core.pool import process_pool

COMMANDS = ("step", "search", "frontier", "project")
#: Parameters of each command that are not scenario keys, with their defaults.
COMMAND_KEYS = {"step": {}, "search": {}, "frontier": {"date": "2020-01-01"},
                "project": {"from": 2026, "to": 2030, "samples": 100, "seed": 0}}


class SweepError(ValueError):
    """A bad --set / --samples argument (one line)."""


#: Most points a sweep takes (a frontier point is about 0.05-1 s of one core, a projection
#: point minutes): a resource limit, refused before any point is built.
MAX_POINTS = 100_000
#: Exceptions whose rows mean the scenario or the swept values are wrong (not the simulation).
CONFIG_ERRORS = ("ScenarioError", "SweepError")


def _param(command: str, key: str, value):
    """A command parameter's value, checked: SweepError naming the key and value otherwise."""
    if key == "date":  # the frontier command's own rules (catalog/ranges.py)
        from simulator.catalog.ranges import EARLIEST, LATEST
        from simulator.core.units import partial_date

        try:
            at = partial_date(value)
        except ValueError as exc:
            raise SweepError(f"{key}={value!r}: {exc}") from None
        if not EARLIEST <= at <= LATEST:
            raise SweepError(f"{key}={value!r}: outside {EARLIEST.year}-{LATEST.year}, as `simulator frontier` "
                             "refuses it")
        return at
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SweepError(f"{key}={value!r}: {command} needs a number (whole numbers are used)")
    return int(value)


def check_points(command: str, pts: list[dict]) -> None:
    """Check the command's own parameters in every point before any runs (SweepError, one line)."""
    if command not in COMMANDS:
        raise SweepError(f"--command {command!r}: one of {', '.join(COMMANDS)}")
    for point in pts:
        for key, value in point.items():
            if key in COMMAND_KEYS[command]:
                try:
                    _param(command, key, value)
                except SweepError as exc:
                    raise SweepError(f"--set {exc}") from None


def is_config_error(error: str) -> bool:
    """Whether a row's `error` text is a configuration error (a bad key or value, not a failed run)."""
    return error.split(":", 1)[0] in CONFIG_ERRORS


def failure_counts(rows: list[dict]) -> list[tuple[str, int]]:
    """(error text, number of points) of the failed rows, most frequent first."""
    return Counter(r["error"] for r in rows if r.get("error")).most_common()


def point_text(point: dict) -> str:
    """'key=value, key=value' of a point (what a one-line error names)."""
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "(no --set)"


def _value(text: str):
    """A TOML scalar (number, bool, quoted or bare string)."""
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_set(text: str) -> tuple[str, list | tuple[float, float]]:
    """'key=v1,v2,...' -> (key, [values]); 'key=lo:hi' -> (key, (lo, hi)) for sampling."""
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key or not rest.strip():
        raise SweepError(f"--set {text!r}: expected key=v1,v2,... or key=lo:hi")
    if ":" in rest and "," not in rest and not rest.strip().startswith('"'):
        lo, hi = (_value(x) for x in rest.split(":", 1))
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (lo, hi)) or not lo < hi:
            raise SweepError(f"--set {text!r}: a range needs two numbers lo < hi")
        return key, (float(lo), float(hi))
    return key, [_value(v) for v in rest.split(",")]


def points(sets: list[str], samples: int = 0, seed: int = 0) -> list[dict]:
    """The Cartesian grid of the value lists, times `samples` uniform draws of the ranges
    (SweepError before anything is built when that is more than MAX_POINTS)."""
    parsed = [parse_set(s) for s in sets]
    keys = [k for k, _ in parsed]
    if len(set(keys)) != len(keys):
        raise SweepError(f"--set: a key is given twice: {keys}")
    grid = [(k, v) for k, v in parsed if isinstance(v, list)]
    ranges = [(k, v) for k, v in parsed if isinstance(v, tuple)]
    if ranges and samples < 1:
        raise SweepError(f"--set {ranges[0][0]}=lo:hi needs --samples N")
    count = math.prod(len(v) for _, v in grid) * (max(samples, 1) if ranges else 1)
    if count > MAX_POINTS:
        raise SweepError(f"--set/--samples: {count:,} points; a sweep takes at most {MAX_POINTS:,} "
                         "(each point is a full command run)")
    rng = np.random.default_rng(seed)
    out = []
    for combo in itertools.product(*(v for _, v in grid)) if grid else [()]:
        base = dict(zip((k for k, _ in grid), combo))
        for _ in range(max(samples, 1) if ranges else 1):
            out.append({**base, **{k: float(rng.uniform(lo, hi)) for k, (lo, hi) in ranges}})
    return out


def _apply(raw: dict, point: dict, command: str) -> tuple[dict, dict]:
    """(scenario dict with the point's keys set, the command's own parameters)."""
    data, params = copy.deepcopy(raw), dict(COMMAND_KEYS[command])
    for key, value in point.items():
        if key in params:
            params[key] = _param(command, key, value)
            continue
        *tables, leaf = key.split(".")
        node = data
        for t in tables:
            node = node.setdefault(t, {})
            if not isinstance(node, dict):
                raise SweepError(f"--set {key}: {t} is not a table")
        node[leaf] = value
        if tables == ["frontier"] and isinstance(value, (int, float)) and not isinstance(value, bool):
            data.setdefault("sources", {})[leaf] = f"sweep: {key} = {value} (a what-if)"
    return data, params


_UTIL = None  # one layout-search cache per process


def _util():
    global _UTIL
    if _UTIL is None:
        from simulator.catalog.efficiency import default_efficiency
        from simulator.frontier.utilization import Utilization

        _UTIL = Utilization(default_efficiency())
    return _UTIL


def _parse(command: str, data: dict, origin: str):
    """The point's scenario, validated (ScenarioError on a bad key or value)."""
    if command in ("step", "search"):
        from simulator.catalog.scenario import parse_scenario
        from simulator.costs.step import check_scenario

        sc = parse_scenario(data, origin)
        check_scenario(sc)
        return sc
    from simulator.frontier.config import parse_frontier

    return parse_frontier(data, origin)


def check_first(command: str, text: str, origin: str, pts: list[dict]) -> None:
    """Resolve and validate the first point's scenario before any point runs: a misspelt key
    or a scenario of the wrong kind fails every point (SweepError, one line)."""
    if not pts:
        return
    try:
        data, _ = _apply(tomllib.loads(text), pts[0], command)
        _parse(command, data, origin)
    except Exception as exc:  # noqa: BLE001 - ScenarioError, SweepError, TOMLDecodeError: all the input's
        from simulator.catalog.scenario import ScenarioError

        # the point's settings, unless the error is a scenario error about the one key the point sets
        named = isinstance(exc, ScenarioError) and list(pts[0]) in ([f"{exc.table}.{exc.key}"], [exc.key])
        raise SweepError(f"sweep: first point{'' if named else f' ({point_text(pts[0])})'}: "
                         f"{' '.join(str(exc).split())}") from None


def _run(command: str, data: dict, params: dict, origin: str) -> dict:
    if command in ("step", "search"):
        from simulator.catalog.efficiency import default_efficiency
        from simulator.core.specs import DIMENSION_KEYS, SearchSpace
        from simulator.engine.step import simulate_step
        from simulator.search import search_layouts
        from simulator.search.rank import used_cluster

        sc = _parse(command, data, origin)
        eff = default_efficiency()
        if command == "step":
            r = simulate_step(sc.model, used_cluster(sc.cluster, sc.layout), sc.layout, eff, sc.stack)
            return {"feasible": r.feasible, "step_time_s": r.step_time_s, "mfu": r.mfu, "detail": r.detail}
        space = sc.search or SearchSpace(global_batches=(sc.layout.global_batch,))
        res = search_layouts(sc.model, sc.cluster, sc.layout, space, eff)
        if res.best is None:
            return {"feasible": False, "evaluated": res.evaluated}
        lay, best = res.best
        return {"feasible": True, "step_time_s": best.step_time_s, "mfu": best.mfu,
                **{k: getattr(lay, k) for k in DIMENSION_KEYS}, "evaluated": res.evaluated}
    from simulator.frontier.solver import solve

    config = _parse(command, data, origin)
    if command == "frontier":
        r = solve(_param(command, "date", params["date"]), config, _util(), relax=False)
        return {"feasible": r.feasible, "flop": r.flop, "pfs_days": r.pfs_days, "n_devices": r.n_devices,
                "device": r.device, "family": r.family, "days": r.days, "mfu": r.mfu, "cost_usd": r.cost_usd,
                "devices_limited_by": r.devices_limited_by, "reason": r.reason}
    from simulator.trend.project import project

    proj = project(config, int(params["from"]), int(params["to"]), int(params["samples"]), seed=int(params["seed"]),
                   util=_util())
    last = proj.table().iloc[-1]
    return {"feasible": True, "year": int(last.year), "flop_p10": float(last.flop_p10),
            "flop_median": float(last.flop_median), "flop_p90": float(last.flop_p90),
            "cost_usd_median": float(last.cost_usd_median)}


def run_point(command: str, text: str, origin: str, point: dict) -> dict:
    """One row: the point's values, the command's other parameters, then its outputs, or `error`."""
    row = dict(point)
    row.update({k: v for k, v in COMMAND_KEYS.get(command, {}).items() if k not in point})
    try:
        data, params = _apply(tomllib.loads(text), point, command)
        row.update(_run(command, data, params, origin))
        row["error"] = ""
    except Exception as exc:  # noqa: BLE001 - a failed point is reported in its row; the sweep goes on
        row["error"] = " ".join(f"{type(exc).__name__}: {exc}".split())
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


def run_points(command: str, text: str, origin: str, pts: list[dict], workers: int = 1, client=None,
               progress=None) -> list[dict]:
    """Rows in point order. workers=1: this process; >1: local processes; client: Dask."""
    if command not in COMMANDS:
        raise SweepError(f"--command {command!r}: one of {', '.join(COMMANDS)}")
    rows: list[dict | None] = [None] * len(pts)
    done = 0

    def tick():
        """Count one finished point and report it."""
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(pts))

    if client is not None:
        from distributed import as_completed

        futures = client.map(run_point, [command] * len(pts), [text] * len(pts), [origin] * len(pts), pts,
                             pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                rows[index[fut.key]] = fut.result()
                tick()
        except BaseException:  # interrupted: the cluster's tasks stop too
            client.cancel(futures)
            raise
    elif workers > 1 and len(pts) > 1:
        with process_pool(workers) as pool:
            chunk = max(1, len(pts) // (workers * 8))
            for i, row in enumerate(pool.map(run_point, [command] * len(pts), [text] * len(pts),
                                             [origin] * len(pts), pts, chunksize=chunk)):
                rows[i] = row
                tick()
    else:
        for i, p in enumerate(pts):
            rows[i] = run_point(command, text, origin, p)
            tick()
    return rows  # type: ignore[return-value]


def default_workers() -> int:
    """Local processes by default: one per core."""
    return max(1, os.cpu_count() or 1)
