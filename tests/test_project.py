"""The Monte Carlo projection (simulator.trend.project)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_line, run

from simulator.frontier.config import load_frontier
from simulator.frontier.solver import solve
from simulator.trend.project import (
    ASPECT,
    GDP_SHARE_CAP,
    LIMITS,
    Param,
    latency_flop,
    parse_params,
    project,
    projection_parameters,
    start_date,
)


@pytest.fixture(scope="module")
def start():
    return solve(start_date(2025), load_frontier(), relax=False)


def test_every_parameter_has_a_source_and_samples_hit_its_quantiles():
    params = projection_parameters()
    assert all(p.source for p in params.values())
    rng = np.random.default_rng(0)
    x = params["gpu_flops_growth"].sample(rng, 200_000)
    assert np.percentile(x, [10, 50, 90]) == pytest.approx([1.31, 1.44, 1.59], rel=0.01)
    spend = params["training_spend_growth"]  # a 95% interval: p10 / p90 columns are the 2.5 / 97.5 percentiles
    assert spend.ci95
    assert np.percentile(spend.sample(rng, 200_000), [2.5, 97.5]) == pytest.approx([2.0, 3.1], rel=0.01)
    assert (Param("c", "x", None, 3.0, None, "s", False).sample(rng, 5) == 3.0).all()


def test_bad_parameter_rows_name_line_and_column():
    with pytest.raises(ValueError, match=r"line 2 \('x'\): column 'median'"):
        parse_params("parameter,unit,p10,median,p90,source,notes\nx,u,,abc,,src,\n")


def test_latency_wall_closed_form():
    # a model at the bound takes exactly the allowed time: steps x layers x t_layer = T
    t, b, tl = 1.5e7, 6e7, 8 * 12e-6
    c = latency_flop(t, b, tl)
    n = (c / 120) ** 0.5
    layers = (n / (12 * ASPECT ** 2)) ** (1 / 3)
    assert 20 * n / b * layers * tl == pytest.approx(t, rel=1e-9)


def test_same_seed_same_table_and_seeds_overlap(start):
    a = project(start, 2035, 400, seed=1).table()
    b = project(start, 2035, 400, seed=1).table()
    c = project(start, 2035, 400, seed=2).table()
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert ((a.flop_p10 <= c.flop_p90) & (c.flop_p10 <= a.flop_p90)).all()


def test_limits_bind_and_each_is_the_minimum(start):
    proj = project(start, 2040, 300, seed=0)
    t = proj.table()
    shares = t[[f"share_bound_by_{k}" for k in LIMITS]].sum(axis=1)
    assert np.allclose(shares, 1.0)
    assert (t.flop_p10 <= t.flop_median).all() and (t.flop_median <= t.flop_p90).all()
    assert t.flop_median.iloc[-1] > start.flop  # the frontier keeps growing


def test_budget_is_capped_at_a_share_of_gdp(start):
    rich = replace(start, caps=replace(start.caps, budget_usd=1e15))  # beyond any GDP share
    proj = project(rich, 2030, 50, seed=0)
    params = projection_parameters()
    assert (proj.cost_usd <= GDP_SHARE_CAP * params["us_gdp_2021"].median * (1 + 1e-9)).all()


def test_project_cli_run_folder_and_json(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, text, _ = run(capsys, "project", "--to", "2030", "--samples", "50", "--seed", "3", "--json")
    assert code == 0
    data = json.loads(text)
    assert data["seed"] == 3 and [r["year"] for r in data["table"]] == list(range(2026, 2031))
    assert Path(data["figure"]).stat().st_size > 10_000
    meta = json.loads((Path(data["csv"]).parent / "meta.json").read_text())
    assert meta["seed"] == 3


def test_project_bad_flags(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "project", "--to", "2020")
    assert code == 2 and "--to 2020" in one_line(err)


def test_start_date_is_mid_year():
    assert start_date(2025) == date(2025, 7, 1)
