"""Every shipped scenario loads, runs, and says its question and its answer."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import pytest

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.scenario import load_scenario
from simulator.engine.step import simulate_step
from simulator.frontier.config import load_frontier
from simulator.frontier.solver import solve
from simulator.frontier.utilization import Utilization
from simulator.search.rank import used_cluster
from simulator.trend.project import project

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))
FRONTIER = [p for p in SCENARIOS if "frontier" in tomllib.loads(p.read_text())]
STEP = [p for p in SCENARIOS if p not in FRONTIER]
LIBRARY = {"frontier-baseline", "only-gtx580", "no-nvlink", "budget-frozen-2016", "techniques-frozen-2012",
           "critical-batch-x4", "critical-batch-div4", "failures-off", "failures-x10", "tpu-only", "power-capped-2030"}


@pytest.fixture(scope="module")
def util():
    return Utilization(default_efficiency())


def test_the_library_is_complete():
    assert LIBRARY <= {p.stem for p in FRONTIER}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_each_file_states_its_question_and_answer(path):
    text = path.read_text()
    assert "question" in text.lower()[:2000], path.name
    assert "# Answer" in text[:3000], path.name


@pytest.mark.parametrize("path", FRONTIER, ids=lambda p: p.stem)
def test_frontier_scenarios_answer_their_question_and_run(path, util):
    assert "# Answer" in path.read_text(), path.name
    config = load_frontier(path)
    for at in (date(2014, 1, 1), date(2021, 1, 1)):
        run = solve(at, config, util, relax=False)
        assert run.feasible or run.reason, (path.name, at)
    if config.power_cap_w is not None or config.max_sites > 1 or config.latency_scale != 1:  # projection what-ifs
        proj = project(config, 2026, 2027, 2, seed=0, util=util)
        assert (proj.table().flop_median > 0).all()


@pytest.mark.parametrize("path", STEP, ids=lambda p: p.stem)
def test_step_scenarios_simulate(path):
    sc = load_scenario(path)
    if sc.has_layout:  # every shipped layout is feasible (the answers quote its numbers)
        result = simulate_step(sc.model, used_cluster(sc.cluster, sc.layout), sc.layout, default_efficiency(), sc.stack)
        assert result.feasible and result.step_time_s > 0, (path.name, result.detail)


def test_what_ifs_move_the_frontier_the_expected_way(util):
    at = date(2025, 1, 1)
    base = solve(at, load_frontier(), util, relax=False).flop
    scen = Path(__file__).resolve().parents[1] / "scenarios"

    def flop(name):
        return solve(at, load_frontier(scen / f"{name}.toml"), util, relax=False).flop

    assert flop("techniques-frozen-2012") < base / 10  # hosts, or asynchronous replicas of one host each
    assert flop("no-nvlink") < base
    assert flop("failures-off") > base > flop("failures-x10")
    assert flop("critical-batch-div4") < base <= flop("critical-batch-x4")
