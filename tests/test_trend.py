"""Trend fits and the reproduction of "AI and Compute" (simulator.trend)."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import pytest
from cli_helpers import one_line, run

from simulator.frontier.config import load_frontier
from simulator.trend.fit import fit_doubling, moore_growth
from simulator.trend.reproduce import DATA_END, ERAS, reproduce


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
def baseline():
    return reproduce(load_frontier(), date(1959, 1, 1), DATA_END, "quarter", samples=8, seed=0)


def test_reproduction_summary(baseline):
    s = baseline.summary()
    assert s["alexnet_to_alphago_zero_growth"] == pytest.approx(baseline.alphago_zero.flop / baseline.alexnet.flop)
    assert s["published"]["alexnet_to_alphago_zero_growth_of_points"] == pytest.approx(1850 / 0.0058, rel=0.02)
    for era in ERAS:
        assert sum(s["binding_by_era"][era].values()) == pytest.approx(1.0, abs=0.01)
    # our own fit of the published points lands on OpenAI's numbers (3.4 months; about two years)
    assert 3.0 <= s["published"]["modern_doubling_months_refit"] <= 4.0
    assert 18 <= s["published"]["first_era_doubling_months_refit"] <= 30


def test_reproduction_shows_the_regime_change(baseline):
    """What the mechanism reproduces from sourced inputs: a much faster modern era."""
    s = baseline.summary()
    assert s["modern_doubling_months"] * 4 < s["first_era_doubling_months"]
    assert s["alexnet_to_alphago_zero_growth"] > 1000 * s["moore_growth_same_span"]
    assert "batch" in s["binding_by_era"]["modern"]  # data parallelism was batch-bound in 2012-2018


def test_intervals_come_from_input_draws(baseline):
    s = baseline.summary()
    lo, hi = s["alexnet_to_alphago_zero_growth_ci"]
    assert lo < hi and lo <= s["alexnet_to_alphago_zero_growth"] * 1.05 and hi >= s["alexnet_to_alphago_zero_growth"] / 1.05
    # no uncertain input reaches the first era (the run-length growth starts in 2010, the budget
    # never binds a one-computer run), so its interval has no width: not a bootstrap artefact
    first = s["first_era_doubling_ci"]
    assert first[1] - first[0] < 0.01 * s["first_era_doubling_months"]
    lo, hi = s["post_2018_doubling_ci"]
    assert lo < hi and lo / 1.05 <= s["post_2018_doubling_months"] <= hi * 1.05  # 8 draws: the median may sit near an edge


def test_frontier_falls_only_for_a_stated_reason(baseline):
    f = baseline.frame[baseline.frame.feasible].reset_index(drop=True)
    for i in range(1, len(f)):
        if f.flop[i] < f.flop[i - 1] * (1 - 1e-9):
            assert f.fall_reason[i] and "carried" not in f.fall_reason[i], f.date[i]


def test_first_era_points_sit_under_the_frontier(baseline):
    fe = baseline.summary()["first_era_points"]
    assert fe["compared"] >= 5 and fe["all_under_frontier"]  # every point at or below, within 0.5 orders


# The targets. Each is a strict expected failure while the sourced inputs do not meet it
# (the README says which input would have to differ); a change that meets one makes its test fail,
# so the note gets updated.
@pytest.mark.xfail(strict=True, reason="modern doubling 4.2 months from the sourced inputs (target 3-4)")
def test_target_modern_doubling(baseline):
    assert 3.0 <= baseline.summary()["modern_doubling_months"] <= 4.0


@pytest.mark.xfail(strict=True, reason="first-era doubling 35.8 months (target 18-30): largest-computer series")
def test_target_first_era_doubling(baseline):
    assert 18 <= baseline.summary()["first_era_doubling_months"] <= 30


def test_target_alexnet_to_alphago_zero(baseline):
    assert 1e5 <= baseline.summary()["alexnet_to_alphago_zero_growth"] <= 1e6


@pytest.mark.xfail(strict=True, reason="first-era points 2.3 orders below the frontier (median; target about 1)")
def test_target_first_era_frontier_within_an_order(baseline):
    assert baseline.summary()["first_era_points"]["median_oom_above"] <= 1.0


@pytest.mark.xfail(strict=True, reason="after 2018 the frontier grows 3.2x a year (target 4-5x)")
def test_target_post_2018_growth(baseline):
    assert 4.0 <= baseline.summary()["post_2018_growth_per_year"] <= 5.0


def test_reproduce_cli_writes_summary_and_json(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, text, _ = run(capsys, "reproduce", "--start", "1990", "--end", "2019", "--step", "year",
                        "--samples", "3", "--json")
    assert code == 0
    data = json.loads(text)
    for key in ("modern_doubling_months", "first_era_doubling_months", "post_2018_doubling_months",
                "alexnet_to_alphago_zero_growth", "frontier_csv"):
        assert key in data
    assert Path(data["frontier_csv"]).exists() and Path(data["figure"]).stat().st_size > 10_000
    saved = json.loads((Path(data["frontier_csv"]).parent / "summary.json").read_text())
    assert saved["modern_doubling_months"] == data["modern_doubling_months"]
    assert math.isfinite(data["alexnet_to_alphago_zero_growth"])


def test_reproduce_bad_flags(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "reproduce", "--end", "1950")
    assert code == 2 and "before --start" in one_line(err)


def test_efficiency_cli(capsys):
    code, text, _ = run(capsys, "efficiency", "--years", "2012,2019", "--json")
    data = json.loads(text)
    assert code == 0 and data["fit"]["total_reduction"] == pytest.approx(44, rel=0.1)
    assert [r["year"] for r in data["runs"]] == [2012, 2019]
    code, _, err = run(capsys, "efficiency", "--years", "twenty")
    assert code == 2 and "--years 'twenty'" in one_line(err)
