"""Parallel-training scaling simulator: how much compute the largest training runs can use, and why.

The Python API. Every name below is imported on first use (``import simulator`` itself
reads no file and loads neither numpy nor pandas); each has its own docstring
(``help(simulator.search_layouts)``).

Scenarios and one step::

    import simulator as sim

    sc = sim.load_scenario(sim.default_scenario_path())       # or a path to your TOML
    sim.check_scenario(sc)                                    # its layout against the structural rules
    result = sim.simulate_step(sc.model, sc.cluster, sc.layout, sim.default_efficiency(), sc.stack)
    result.step_time_s, result.mfu, result.breakdown_s, result.memory

Building the inputs yourself (the catalog gives accelerators, links, models, stacks)::

    acc = sim.find_accelerator("a100-80gb")                   # a key, an exact name or free text
    intra, inter, per_node = sim.default_links("a100-80gb")
    cluster = sim.Cluster(acc, 1024, per_node, intra, inter)
    layout = sim.Layout(global_batch=1536, tp=8, pp=8, dp=16, recompute=sim.Recompute.FULL)
    model = sim.find_model("gpt3-175b")                       # or sim.Transformer(name=..., layers=..., ...)

Layout search::

    space = sim.SearchSpace(global_batches=(1536,), max_micro_batch=2)
    res = sim.search_layouts(model, cluster, layout, space, sim.default_efficiency())
    best_layout, best_step = res.best                         # res.frame: every candidate, ranked

The frontier, its reproduction and projection::

    runs = sim.solve_frontier("2012", "2018", step="year")    # the largest feasible run at each date
    run = sim.solve("2016-06")                                # one date, with what binds
    rep = sim.reproduce(workers=2)                            # `simulator reproduce`'s defaults; dates as text
    rep.summary()["modern_doubling_months_band"]              # every scored run's facts withheld
    rep.ceiling()                                             # each published run against the frontier
    proj = sim.project(workers=2)                             # 2026 to 2040, 1000 samples, seed 0
    proj.table()                                              # per year: FLOP band, ceilings, what binds
    sim.check_date_range("2012", "2030", "frontier")          # a warning past the data, ValueError before 1950

The entry points' own docstrings carry examples that the tests run (doctests). Errors are one line: ScenarioError for a scenario file, KeyError for an unknown or
ambiguous catalog name, ValueError for an impossible value.
"""

from __future__ import annotations

from importlib import import_module

# name -> module that defines it (imported on first access, PEP 562)
_EXPORTS = {
    # scenarios
    "load_scenario": "simulator.catalog.scenario",
    "default_scenario_path": "simulator.catalog.scenario",
    "Scenario": "simulator.catalog.scenario",
    "ScenarioError": "simulator.catalog.scenario",
    "check_scenario": "simulator.costs.step",
    # one step and the layout search
    "simulate_step": "simulator.engine.step",
    "StepResult": "simulator.engine.step",
    "search_layouts": "simulator.search.rank",
    "SearchResult": "simulator.search.rank",
    # the frontier, its reproduction and projection
    "solve_frontier": "simulator.app.api",
    "solve": "simulator.frontier.solver",
    "Run": "simulator.frontier.solver",
    "frontier_series": "simulator.frontier.series",
    "date_grid": "simulator.frontier.series",
    "load_frontier": "simulator.frontier.config",
    "FrontierConfig": "simulator.frontier.config",
    "reproduce": "simulator.trend.reproduce",
    "Reproduction": "simulator.trend.reproduce",
    "project": "simulator.trend.project",
    "Projection": "simulator.trend.project",
    "check_date_range": "simulator.catalog.ranges",
    # specifications
    "Transformer": "simulator.core.specs",
    "GenericNetwork": "simulator.core.specs",
    "Accelerator": "simulator.core.specs",
    "Link": "simulator.core.specs",
    "Cluster": "simulator.core.specs",
    "Layout": "simulator.core.specs",
    "SearchSpace": "simulator.core.specs",
    "Efficiency": "simulator.core.specs",
    "Stack": "simulator.core.specs",
    "Precision": "simulator.core.specs",
    "Schedule": "simulator.core.specs",
    "Recompute": "simulator.core.specs",
    "Zero": "simulator.core.specs",
    "Attention": "simulator.core.specs",
    # the catalog
    "default_efficiency": "simulator.catalog.efficiency",
    "find_accelerator": "simulator.catalog.hardware",
    "find_link": "simulator.catalog.hardware",
    "default_links": "simulator.catalog.hardware",
    "accelerators": "simulator.catalog.hardware",
    "find_model": "simulator.catalog.models",
    "builtin_models": "simulator.catalog.models",
    "find_stack": "simulator.catalog.stacks",
    "catalog_listing": "simulator.catalog.listing",
}

__all__ = list(_EXPORTS)  # derived from the one list of exports above


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
