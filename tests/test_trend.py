"""Trend fits and the reproduction of "AI and Compute" (simulator.trend)."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import pytest
from cli_helpers import one_line, run

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.runfacts import scored_runs
from simulator.catalog.uncertain import uncertain_inputs
from simulator.frontier.config import load_frontier
from simulator.frontier.ledger import facts_of, run_facts
from simulator.frontier.series import scored_points
from simulator.frontier.solver import solve
from simulator.frontier.utilization import Utilization
from simulator.trend.fit import fit_doubling, moore_growth
from simulator.trend.reproduce import PUBLISHED, _grid, ceiling_gaps, evaluate, windows
from simulator.trend.uncertainty import Z_P95, draw_values


def _exponential(doubling_months: float, start=date(2000, 1, 1), n=40, noise=None):
    dates = [start + timedelta(days=91 * i) for i in range(n)]
    flop = [1e18 * 2 ** ((d - start).days / 365.25 * 12 / doubling_months) for d in dates]
    if noise is not None:
        flop = [f * 2 ** e for f, e in zip(flop, noise)]
    return dates, flop


def test_fit_recovers_a_known_doubling_time():
    dates, flop = _exponential(3.4)
    fit = fit_doubling(dates, flop, date(1999, 1, 1), date(2020, 1, 1), n_boot=200)
    assert fit.doubling_months == pytest.approx(3.4, rel=1e-9)
    assert fit.ci_low == pytest.approx(3.4, rel=1e-6) and fit.ci_high == pytest.approx(3.4, rel=1e-6)


def test_bootstrap_interval_is_seeded_and_contains_the_estimate():
    noise = [((i * 7919) % 13 - 6) / 4 for i in range(40)]  # deterministic scatter in log2
    dates, flop = _exponential(24.0, noise=noise)
    a = fit_doubling(dates, flop, date(1999, 1, 1), date(2020, 1, 1), n_boot=300, seed=1)
    b = fit_doubling(dates, flop, date(1999, 1, 1), date(2020, 1, 1), n_boot=300, seed=1)
    c = fit_doubling(dates, flop, date(1999, 1, 1), date(2020, 1, 1), n_boot=300, seed=2)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high) != (c.ci_low, c.ci_high)
    assert a.ci_low < a.doubling_months < a.ci_high


def test_too_few_points_give_no_fit():
    dates, flop = _exponential(12.0, n=2)
    assert fit_doubling(dates, flop, date(1999, 1, 1), date(2030, 1, 1)) is None


def test_moore_counterfactual_is_two_year_doubling():
    assert moore_growth(date(2012, 1, 1), date(2016, 1, 1)) == pytest.approx(4.0, rel=1e-3)


@pytest.fixture(scope="module")
def rep(reproduction):
    """The docs' reproduction (200 draws, seed 0; tests/conftest.py): one solve for the session."""
    return reproduction


FIGURES = ("modern_doubling_months", "first_era_doubling_months", "post_2018_growth_per_year",
           "alexnet_to_alphago_zero_growth")


def test_every_headline_figure_has_a_median_a_band_and_the_published_percentile(rep):
    s = rep.summary()
    for key in FIGURES:
        values = [d[key] for d in rep.drawn if math.isfinite(d[key])]
        med, (lo, hi) = s[f"{key}_median"], s[f"{key}_band"]
        assert lo <= med <= hi and len(values) >= 190
        pub = PUBLISHED[key][0]
        assert s[f"{key}_published_percentile"] == pytest.approx(100 * sum(v <= pub for v in values) / len(values))
    g = s["alexnet_to_alphago_zero_growth_from_rate_median"]
    assert g == pytest.approx(2 ** ((DAYS_AGZ / 30.4375) / s["modern_doubling_months_median"]), rel=0.35)
    # our own fit of the published points over the same windows (OpenAI: 3.4 months; about two years)
    assert 2.5 <= s["published_refit"]["modern_doubling_months"] <= 4.0
    assert 18 <= s["published_refit"]["first_era_doubling_months"] <= 30
    assert s["published_growth_of_points"] == pytest.approx(1850 / 0.0058, rel=0.02)


DAYS_AGZ = (date(2017, 10, 18) - date(2012, 9, 30)).days


def test_the_headline_frontier_reads_no_scored_runs_facts():
    config = load_frontier().withholding(scored_runs())
    util = Utilization(default_efficiency())
    for era, (a, b, step) in windows().items():
        for at in _grid(a, b, step)[::3]:
            run = solve(at, config, util, relax=False)
            read = {r for ref in run.inputs for r in facts_of(ref)} & scored_runs()
            assert not read, (at, read)


def test_a_scored_run_never_reads_its_own_facts():
    base, util = load_frontier(), Utilization(default_efficiency())
    for p in scored_points():
        run = solve(p.at, base.withholding({p.run_id}), util, relax=False)
        assert not [ref for ref in run.inputs if p.run_id in facts_of(ref)], p.key


@pytest.mark.parametrize("run_id, at, ref", [
    ("alexnet", date(2013, 3, 31), "frontier_inputs.csv:alexnet_host_2012"),
    ("nas", date(2017, 11, 4), "frontier_inputs.csv:google_nasv3_2016"),
    ("transformer", date(2017, 11, 30), "workloads.toml:transformer_lm.since[0]"),
])
def test_withholding_a_run_removes_the_facts_it_would_read(run_id, at, ref):
    base, util = load_frontier(), Utilization(default_efficiency())
    assert ref in solve(at, base, util, relax=False).inputs and run_id in facts_of(ref)
    assert ref not in solve(at, base.withholding({run_id}), util, relax=False).inputs
    assert any(r["ref"] == ref and run_id in r["runs"] for r in run_facts())


def test_the_frontier_is_a_ceiling_except_where_an_input_is_named_missing(rep):
    rows = rep.ceiling()
    assert len(rows) == len(scored_points()) >= 40
    above = {f"{r['file']}:{r['run']}": r for r in rows if not r["under"]}
    # a run above the frontier's 95th percentile (its own facts withheld, 0.3 orders of magnitude for its
    # own uncertainty) names the missing input or mechanism in catalog/ceiling_gaps.csv; a gap that
    # closes must be removed from that file
    assert set(above) == set(ceiling_gaps()), {k: f"{r['published_flop'] / (r['frontier_p95'] or 1):.2g}x above"
                                                for k, r in above.items()}
    assert all(r["missing"] for r in above.values())


def test_the_modern_frontier_is_within_an_order_of_its_runs(rep):
    level = rep.era_levels()["modern"]
    assert level["points"] >= 15 and level["within"], level


@pytest.mark.xfail(strict=True, reason="the first era's frontier is orders of magnitude above its published points "
                   "(the assertion prints the figure; docs/reproduction.md)")
def test_target_first_era_frontier_within_an_order(rep):
    assert rep.era_levels()["first_era"]["within"], rep.era_levels()["first_era"]


def test_reproduction_shows_the_regime_change(rep):
    s = rep.summary()
    assert s["modern_doubling_months_median"] * 4 < s["first_era_doubling_months_median"]
    assert s["alexnet_to_alphago_zero_growth_median"] > 100 * s["moore_growth_same_span"]


def test_sensitivity_ranks_every_input_and_is_reproducible(rep):
    inputs = uncertain_inputs()
    for key, swings in rep.swings.items():
        assert {w.key for w in swings} == {k for k, u in inputs.items() if u.drawn}
        effects = [w.effect for w in swings if math.isfinite(w.effect)]
        assert effects == sorted(effects, reverse=True)
    top = rep.swings["alexnet_to_alphago_zero_growth"][0]
    assert top.effect > 0
    moved = evaluate(load_frontier().with_quantiles({top.key: Z_P95}), "move")
    assert moved["alexnet_to_alphago_zero_growth"] == pytest.approx(top.high)
    assert top.high_value == pytest.approx(inputs[top.key].quantile(Z_P95))


def test_draws_are_seeded_and_follow_their_ranges():
    a, b = draw_values(500, seed=7), draw_values(500, seed=7)
    assert a == b and a != draw_values(500, seed=8)
    share = sorted(d["run_share"] for d in a)
    assert share[50] == pytest.approx(0.16, rel=0.15) and share[450] == pytest.approx(0.40, rel=0.15)
    turnaround = [d["research_turnaround_days"] for d in a]
    assert 7 <= min(turnaround) and max(turnaround) <= 28  # a uniform range stays in its bounds


def test_frontier_falls_only_for_a_stated_reason(rep):
    f = rep.frame[rep.frame.feasible].reset_index(drop=True)
    for i in range(1, len(f)):
        if f.flop[i] < f.flop[i - 1] * (1 - 1e-9):
            assert f.fall_reason[i] and "carried" not in f.fall_reason[i], f.date[i]


# Each published figure against the simulated 5th-95th percentile band. The ones the mechanism
# misses are strict expected failures (the assertion prints the band; the README and docs/reproduction.md name the input
# that decides each): a change that meets one fails the test, so the docs get regenerated.
MISSED = "lies outside the simulated band (the assertion prints it)"


@pytest.mark.parametrize(("key", "published"), [
    ("post_2018_growth_per_year", 4.5),  # Epoch AI's 4-5x a year for frontier models, its middle
    pytest.param("modern_doubling_months", 3.43, marks=pytest.mark.xfail(strict=True, reason=f"3.4 months {MISSED}")),
    pytest.param("first_era_doubling_months", 24, marks=pytest.mark.xfail(strict=True,
                                                                          reason=f"about two years {MISSED}")),
    pytest.param("alexnet_to_alphago_zero_growth", 3e5, marks=pytest.mark.xfail(strict=True,
                                                                               reason=f"300,000x {MISSED}")),
])
def test_target_published_figure_in_the_band(rep, key, published):
    lo, hi = rep.summary()[f"{key}_band"]
    assert lo <= published <= hi, (lo, hi)


def test_reproduce_cli_writes_summary_and_json(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, text, _ = run(capsys, "reproduce", "--start", "1990", "--end", "2019", "--step", "year",
                        "--samples", "3", "--workers", "1", "--json")
    assert code == 0
    data = json.loads(text)
    for key in FIGURES:
        assert {f"{key}_median", f"{key}_band", f"{key}_published_percentile"} <= set(data)
    assert set(data["sensitivity"]) == set(FIGURES) and all(len(v) == 10 for v in data["sensitivity"].values())
    assert {"date", "published_flop", "frontier_p95", "ratio"} <= set(data["ceiling"][0])
    folder = Path(data["frontier_csv"]).parent
    for name in ("reproduce.png", "sensitivity.png", "ceiling.csv", "draws.csv", "sensitivity.csv"):
        assert (folder / name).stat().st_size > 100, name
    saved = json.loads((folder / "summary.json").read_text())
    assert saved["modern_doubling_months_median"] == data["modern_doubling_months_median"]


def test_reproduce_bad_flags(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "reproduce", "--end", "1950")
    assert code == 2 and "before --start" in one_line(err)
    code, _, err = run(capsys, "reproduce", "--samples", "1000000")
    assert code == 2 and "--samples 1000000" in one_line(err)
    assert not (tmp_path / "outputs").exists()


def test_efficiency_cli(capsys):
    code, text, _ = run(capsys, "efficiency", "--years", "2012,2019", "--json")
    data = json.loads(text)
    assert code == 0 and data["fit"]["total_reduction"] == pytest.approx(44, rel=0.1)
    assert [r["year"] for r in data["runs"]] == [2012, 2019]
    code, _, err = run(capsys, "efficiency", "--years", "twenty")
    assert code == 2 and "--years 'twenty'" in one_line(err)
