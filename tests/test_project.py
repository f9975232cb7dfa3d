"""The projection: the frontier solver run forward on projected markets (simulator.trend.project)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_line, run

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.lengths import parse_lengths, pretraining_lengths
from simulator.catalog.supply import generic_facility_watts
from simulator.core.specs import Precision
from simulator.costs.batch import batch_laws
from simulator.frontier.actors import actors
from simulator.frontier.ceilings import CEILING_CONSTRAINTS
from simulator.frontier.config import load_frontier
from simulator.frontier.market import ActorMarket
from simulator.frontier.projected import H100_FP8, ProjectedMarket, Rates, parse_roadmap, roadmap, years_between
from simulator.frontier.solver import PROJECTION_CONSTRAINTS, solve
from simulator.frontier.utilization import Utilization
from simulator.frontier.workloads import families_at
from simulator.trend.project import (
    Param,
    draw_rates,
    model_families,
    parse_params,
    project,
    projection_parameters,
    sample_configs,
    start_date,
)

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
START = 2026


@pytest.fixture(scope="module")
def util():
    return Utilization(default_efficiency())


@pytest.fixture(scope="module")
def base():
    return load_frontier()


@pytest.fixture(scope="module")
def start(base, util):
    return solve(start_date(START), base, util, constraints=PROJECTION_CONSTRAINTS)


def rates(**kw) -> Rates:
    values = {"spend_growth": 2.4, "flops_growth": 1.44, "memory_growth": 1.19, "memory_bandwidth_growth": 1.17,
              "link_growth": 1.18, "flops_per_watt_growth": 1.28, "price_performance_ooms": 0.14,
              "campus_power_2030_w": 2.2e9, "distributed_power_2030_w": 9e9, "stock_end_2023": 2.2e6,
              "production_2024": 1.85e6, "production_growth": 1.7, "supply_share": 0.26, "budget_cap_usd": 2.33e11,
              "site_link_bytes_per_s": 5e14, "site_distance_km": 1000.0}
    return Rates(**{**values, **kw})


def market(base, start, config=None, **kw) -> ProjectedMarket:
    caps0, offers, _ = ActorMarket(actors()[start.actor], start.caps.max_duration_days)(start.start, base)
    offer0 = next(o for o in offers if o.key == start.device)
    return ProjectedMarket(start.at, caps0, offer0, config or base, rates(**kw),
                           start.n_devices * offer0.watts)


# ------------------------------------------------------------------ inputs
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
    assert params["gpu_flops_growth"].at(0.0) == pytest.approx(1.44)


def test_bad_parameter_and_roadmap_rows_name_line_and_column():
    with pytest.raises(ValueError, match=r"line 2 \('x'\): column 'median'"):
        parse_params("parameter,unit,p10,median,p90,source,notes\nx,u,,abc,,src,\n")
    head = "key,name,vendor,announced,available,bf16_tflops,fp8_tflops,memory_gb,memory_bw_gb_s," \
           "scale_up_gb_s_per_direction,scale_up_domain,tdp_w,source,verification,notes\n"
    with pytest.raises(ValueError, match=r"line 2 \('x'\): column 'fp8_tflops'"):
        parse_roadmap(head + "x,X,V,2025-01-01,2026-01-01,,-5,1,1,1,8,,src,,\n")
    with pytest.raises(ValueError, match=r"line 2 \('x'\): column 'available'"):
        parse_roadmap(head + "x,X,V,2025-01-01,H2 2026,,5,1,1,1,8,,src,,\n")
    with pytest.raises(ValueError, match="column 'source': empty"):
        parse_roadmap(head + "x,X,V,2025-01-01,2026-01-01,,5,1,1,1,8,,,,\n")


def test_roadmap_rows_are_sourced_and_dated():
    chips = roadmap()
    assert chips and all(c.source for c in chips)
    assert [c.available for c in chips] == sorted(c.available for c in chips)
    assert any(c.usable for c in chips) and any(not c.usable for c in chips)  # Feynman: a date only


def test_hardware_rates_share_one_stratum_and_draws_are_seeded():
    a, ha = draw_rates(300, seed=4)
    b, hb = draw_rates(300, seed=4)
    assert a == b and (ha == hb).all()
    assert len({r.flops_growth for r in a}) <= 5 and len({r.hardware_stratum for r in a}) == 5
    for r in a:  # the strata are comonotone: a fast FLOP/s stratum is a fast memory-bandwidth stratum
        same = [s for s in a if s.hardware_stratum == r.hardware_stratum]
        assert {s.memory_bandwidth_growth for s in same} == {r.memory_bandwidth_growth}
    assert len({r.spend_growth for r in a}) == 300  # the rest drawn per sample
    # each sample's run length is the economic optimum of its own rates (Sevilla et al. 2022: L = 1 / r)
    for r, h in zip(a, ha, strict=True):
        rate = r.price_performance_ooms * math.log(10) + math.log(2) / (h / 12) + math.log(r.spend_growth)
        assert r.run_length_days == pytest.approx(365.25 / rate)


# ------------------------------------------------------------------ the projected market (closed forms)
def test_projected_market_closed_forms(base, start):
    m = market(base, start)
    at = date(2030, 7, 1)
    caps, (offer,), _ = m(at, base)
    t = years_between(start.at, at)
    expected = 2.33e11 if start.caps.budget_usd is None else min(start.caps.budget_usd * 2.4 ** t, 2.33e11)
    assert caps.budget_usd == pytest.approx(expected)  # no documented budget: the share of GDP alone
    y = years_between(date(2024, 1, 1), at)
    stock = 2.2e6 + 1.85e6 * (1.7 ** y - 1) / math.log(1.7)
    fp8 = offer.acc.peak(Precision.FP8)
    assert caps.chips == pytest.approx(0.26 * stock * H100_FP8 / fp8)
    assert caps.site_power_w == pytest.approx(2.2e9)  # reached in 2030 and held
    assert m(date(2035, 7, 1), base)[0].site_power_w == pytest.approx(2.2e9)
    assert offer.watts == pytest.approx(generic_facility_watts(offer.acc.tdp_w))
    # the price per FLOP/s falls at the price-performance trend from the start device's
    p0 = start.price_usd_per_hour / start.peak_flops_per_s
    assert offer.price / fp8 == pytest.approx(p0 / 10 ** (0.14 * t), rel=1e-9)
    # the announced chip at its date, the trend after the roadmap
    chip = max((c for c in roadmap() if c.usable and c.available <= date(2027, 7, 1)), key=lambda c: c.fp8_flops)
    assert m.device_at(date(2027, 7, 1))[0].name == chip.name
    last = [c for c in roadmap() if c.usable][-1]
    later = m.device_at(date(2034, 7, 1))[0]
    assert later.peak(Precision.FP8) == pytest.approx(max(c.fp8_flops for c in roadmap() if c.usable)
                                                      * 1.44 ** years_between(last.available, date(2034, 7, 1)))
    assert later.peak(Precision.BF16) == pytest.approx(later.peak(Precision.FP8) / 2)


def test_run_length_is_the_samples_economic_optimum(base, start):
    for days in (120.0, 240.0):
        for year in (2028, 2036):
            caps = market(base, start, base, run_length_days=days)(date(year, 7, 1), base)[0]
            assert caps.max_duration_days == pytest.approx(days)
    held = market(base, start, base)(date(2030, 7, 1), base)[0]  # no draw: the start run's length
    assert held.max_duration_days == pytest.approx(start.caps.max_duration_days)


def test_scenario_values_hold_in_projected_years(base, start):
    fixed = replace(base, site_power_w=3e8, power_cap_w=2e8, max_duration_days=90.0)
    caps, _, _ = market(base, start, fixed)(date(2032, 7, 1), fixed)
    assert caps.site_power_w == pytest.approx(2e8) and caps.max_duration_days == 90.0
    capped = market(base, start, base, spend_growth=10.0)(date(2036, 7, 1), base)[0]
    assert capped.budget_usd == pytest.approx(2.33e11)  # a share of GDP


# ------------------------------------------------------------------ the projection
def test_projection_starts_at_the_simulated_frontier_and_is_seeded(base, start, util):
    a = project(base, START, START + 1, 4, seed=1, util=util, start=start)
    b = project(base, START, START + 1, 4, seed=1, util=util, start=start)
    c = project(base, START, START + 1, 4, seed=2, util=util, start=start)
    ta, tb, tc = a.table(), b.table(), c.table()
    pd.testing.assert_frame_equal(ta, tb)
    frontier = solve(start_date(START), base, util, relax=False).flop
    assert ta.flop_median.iloc[0] == pytest.approx(frontier, rel=0.10)  # continuity
    assert ta.flop_median.iloc[1] > ta.flop_median.iloc[0]
    assert not ta.equals(tc)
    assert ((ta.flop_p10 <= tc.flop_p90) & (tc.flop_p10 <= ta.flop_p90)).all()  # the bands overlap
    keys = {"year", "flop_p10", "flop_median", "flop_p90", "mfu_median", "sites_median", "cost_usd_median",
            "effective_flop_median", "binding_margin_median", *(f"binding_share_{k}" for k in CEILING_CONSTRAINTS),
            *(f"ceiling_{k}_median" for k in CEILING_CONSTRAINTS)}
    assert keys <= set(ta.columns)
    assert set(a.first_year_binding()) == set(CEILING_CONSTRAINTS)


def test_each_constraint_ceiling_bounds_the_run_and_the_lowest_binds(base, start, util):
    proj = project(base, START, START + 2, 3, seed=4, util=util, start=start)
    for row in proj.runs:
        assert not row[0].ceilings  # the start year is the history's run
        for r in row[1:]:
            assert set(r.ceilings) == set(CEILING_CONSTRAINTS)
            # relaxing the others only adds choices: no ceiling is below the run itself
            assert min(r.ceilings.values()) >= r.flop * (1 - 1e-9)
            assert r.binding == (min(r.ceilings, key=r.ceilings.get),)
    t = proj.table()
    shares = t[[f"binding_share_{k}" for k in CEILING_CONSTRAINTS]].iloc[1:]
    assert np.allclose(shares.sum(axis=1), 1.0)  # exactly one constraint has the lowest ceiling
    assert (t.binding_margin_median.iloc[1:] >= 1.0).all()
    # one answer per question (issue 23): the CSV's and figure's binding is the table's most common
    for (_, row), share in zip(t.iloc[1:].iterrows(), shares.to_numpy(), strict=True):
        assert share[list(CEILING_CONSTRAINTS).index(row.primary_binding)] == share.max()


def test_more_budget_or_power_never_shrinks_a_projected_run(base, start, util):
    fam = replace(base, families=(start.family,))
    for year in (2028, 2031):
        at = date(year, 7, 1)
        runs = [solve(at, c, util, relax=False, market=market(base, start, c)).flop
                for c in (fam, replace(fam, budget_scale=2.0), replace(fam, budget_scale=4.0))]
        assert runs[0] <= runs[1] * (1 + 1e-9) and runs[1] <= runs[2] * (1 + 1e-9), (year, runs)


def test_batch_laws_are_drawn_per_sample_and_a_scenario_fixes_one(base, start, util):
    proj = project(base, START, START + 1, 12, seed=0, util=util, start=start, bind_samples=0)
    assert set(proj.laws) <= set(batch_laws()) and len(set(proj.laws)) > 1
    fixed = project(replace(base, batch_law="step_law"), START, START + 1, 3, seed=0, util=util, start=start,
                    bind_samples=0)
    assert set(fixed.laws) == {"step_law"}
    assert set(proj.by_law().law) == set(proj.laws)


def test_sequence_length_is_drawn_per_sample_and_the_families_a_scenario_lists(base, start, util):
    proj = project(base, START, START + 1, 12, seed=0, util=util, start=start, bind_samples=0)
    lengths = {x.seq_len for x in pretraining_lengths().values()}
    assert set(proj.seq_lens) == lengths and len(lengths) > 1
    # a few choices: read by its choices (the largest median over the smallest), not by thirds
    seq = next(r for r in proj.sensitivity(START + 1) if r["input"] == "seq_len")
    flop = proj.array("flop")[:, 1]
    meds = [np.nanmedian(flop[np.array(proj.seq_lens) == x]) for x in sorted(lengths)]
    assert seq["effect_oom"] == pytest.approx(math.log10(max(meds) / min(meds)))
    assert set(proj.families) == {start.family}  # the baseline lists no families: the start run's
    # the draws of the other inputs are those of before (drawn after them)
    assert list(proj.laws) == list(sample_configs(replace(base, families=(start.family,)), 12, 0)[1])
    # a scenario listing both sized families: one drawn per sample, each sample's run of its own family
    sized = {f.key for f in families_at(start.start, base.withhold) if f.sized}
    assert {"transformer_lm", "moe_lm"} <= sized
    both = replace(base, families=tuple(sorted(sized)))
    assert set(model_families(start, both)) == sized
    drawn = project(both, START, START + 1, 8, seed=0, util=util, start=start, bind_samples=0)
    assert set(drawn.families) == sized
    for fam, row in zip(drawn.families, drawn.runs):
        assert row[1].family == fam or not row[1].feasible
    assert set(drawn.by_family().family) == sized
    assert "model_family" in {r["input"] for r in drawn.sensitivity(START + 1)}
    fixed = project(replace(base, seq_len=2048.0), START, START + 1, 3, seed=0, util=util, start=start,
                    bind_samples=0)
    assert set(fixed.seq_lens) == {2048} and all(r[1].feasible for r in fixed.runs)


def test_a_pretraining_length_must_be_a_whole_number():
    rows = [{"key": "x", "model": "m", "published": "2024-01-01", "seq_len": "4k", "source": "a paper"}]
    with pytest.raises(ValueError, match=r"pretraining_lengths.csv: key='x': column 'seq_len': not a whole number"):
        parse_lengths(rows)
    assert parse_lengths([{**rows[0], "seq_len": "4096"}])["x"].seq_len == 4096


def test_power_binding_is_relieved_by_more_sites_only_where_allowed(base, start, util):
    one = replace(base, site_power_w=3e8, families=(start.family,))
    many = replace(one, max_sites=8.0, site_link_gb_s=5e5, site_distance_km=1000.0)
    at = date(2028, 7, 1)
    r1 = solve(at, one, util, market=market(base, start, one), constraints=PROJECTION_CONSTRAINTS)
    r8 = solve(at, many, util, market=market(base, start, many), constraints=PROJECTION_CONSTRAINTS)
    assert r1.sites == 1 and r1.binding[0] == "power" and "sites" in r1.binding
    assert r8.sites > 1 and r8.flop > 1.5 * r1.flop and r8.n_devices > r1.n_devices
    assert r8.binding[0] != "power"


def test_latency_wall_binds_early_and_keeps_utilization_down(base, start, util):
    slow = replace(load_frontier(SCENARIOS / "latency-wall-early.toml"), families=(start.family,))
    at = date(2028, 7, 1)
    fast = solve(at, replace(base, families=(start.family,)), util, market=market(base, start),
                 constraints=PROJECTION_CONSTRAINTS)
    walled = solve(at, slow, util, market=market(base, start, slow), constraints=PROJECTION_CONSTRAINTS)
    assert "latency" not in fast.binding and "latency" in walled.binding
    assert walled.mfu < 0.7 * fast.mfu and walled.flop < fast.flop
    later = solve(date(2032, 7, 1), slow, util, market=market(base, start, slow), constraints=PROJECTION_CONSTRAINTS)
    fast_later = solve(date(2032, 7, 1), replace(base, families=(start.family,)), util, market=market(base, start),
                       constraints=PROJECTION_CONSTRAINTS)
    # larger runs on faster chips: the wall still binds four years on, the run still smaller and slower
    assert "latency" in later.binding and later.mfu < fast_later.mfu and later.flop < fast_later.flop


def test_the_latency_wall_year_is_reported(util):
    slow = load_frontier(SCENARIOS / "latency-wall-early.toml")
    proj = project(slow, START, START + 2, 2, seed=0, util=util)
    base = project(load_frontier(), START, START + 2, 2, seed=0, util=util)
    # the wall's own ceiling is lower with a hundred times the latency (the batch law held), and the
    # baseline's latency never has the lowest ceiling
    assert np.nanmedian(proj.ceiling("latency")[:, 1:]) < 0.9 * np.nanmedian(base.ceiling("latency")[:, 1:])
    assert base.first_year_binding()["latency"] is None


def test_utilization_of_the_projected_frontier_falls_as_runs_grow(base, start, util):
    proj = project(base, START, 2036, 1, seed=0, util=util, start=start, bind_samples=0)
    t = proj.table()
    assert t.flop_median.is_monotonic_increasing
    late, early = t.set_index("year").mfu_median[2036], t.set_index("year").mfu_median[2028]
    assert late < 0.8 * early  # past the size where data movement binds, each device does less


# ------------------------------------------------------------------ the command
def test_project_cli_run_folder_json_and_figure(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, text, _ = run(capsys, "project", "--to", "2027", "--samples", "2", "--seed", "3", "--json",
                        "--workers", "1")
    assert code == 0
    data = json.loads(text)
    assert data["seed"] == 3 and [r["year"] for r in data["table"]] == [2026, 2027]
    assert {"start_run", "first_year_binding", "latency_wall_year", "epoch_2030", "by_batch_law", "sensitivity"} \
        <= set(data)
    assert data["epoch_2030"]["power"]["high_flop"] == 3e29 and data["sensitivity"]["2027"]
    assert data["start_run"]["flop"] == pytest.approx(data["table"][0]["flop_median"])
    assert Path(data["figure"]).stat().st_size > 10_000
    meta = json.loads((Path(data["csv"]).parent / "meta.json").read_text())
    assert meta["seed"] == 3


def test_project_bad_flags_and_scenarios(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "project", "--to", "2020")
    assert code == 2 and "--to 2020" in one_line(err)
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "b"\n[frontier]\nmax_sites = 2.5\n[sources]\nmax_sites = "x"\n')
    code, _, err = run(capsys, "project", str(bad))
    assert code == 2 and "max_sites" in one_line(err) and "2.5" in one_line(err)
    bad.write_text('name = "b"\n[frontier]\nmax_sites = 4\n[sources]\nmax_sites = "x"\n')
    code, _, err = run(capsys, "project", str(bad))
    assert code == 2 and "site_link_gb_s" in one_line(err)


def test_start_date_is_mid_year():
    assert start_date(2025) == date(2025, 7, 1)


def test_the_command_default_of_ceiling_samples_is_the_library_s():
    import inspect

    from simulator.cli.trend import project as command
    from simulator.trend.project import BIND_SAMPLES

    assert inspect.signature(command).parameters["bind_samples"].default.default == BIND_SAMPLES


def test_sensitivity_ranks_the_input_the_flop_follows():
    from simulator.frontier.solver import Run
    from simulator.trend.project import Projection

    rng = np.random.default_rng(0)
    x, noise = rng.uniform(1, 10, 90), rng.uniform(1, 10, 90)
    runs = [[Run(date(2026, 7, 1), True, flop=1e27), Run(date(2030, 7, 1), True, flop=1e28 * xi ** 2)] for xi in x]
    laws = tuple(("kaplan", "step_law")[i % 2] for i in range(90))
    proj = Projection(np.array([2026, 2030]), runs, np.ones(90), runs[0][0], 0, 0, laws, {"x": x, "noise": noise})
    ranked = proj.sensitivity(2030)
    assert ranked[0]["input"] == "x"
    # closed form: top third of x over bottom third, squared: about (8.5 / 2.5)^2, over half an order
    assert 0.8 < ranked[0]["effect_oom"] < 1.4
    assert {r["input"] for r in ranked} == {"x", "noise", "batch_law"}


def test_project_refuses_a_huge_sample_count_before_any_work(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "project", "--samples", "100000000")
    line = one_line(err)
    assert code == 2 and "--samples 100000000: at most 100,000" in line
    assert not (tmp_path / "outputs").exists()  # nothing was started
