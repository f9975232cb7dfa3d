"""Tests of simulator.trend.efficiency (Hernandez & Brown 2020, "AI and Efficiency")."""

from __future__ import annotations

import inspect
import itertools
import json
import math
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path

import pytest

from simulator.trend import efficiency as eff
from simulator.trend.efficiency import (
    EffPoint,
    alexnet_level_run,
    efficiency_points,
    efficiency_report,
    fit_efficiency,
    multiplier,
    parse_efficiency_csv,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "algorithmic_efficiency.csv"
HEADER = "benchmark,target,model,compute_tfs_days,reduction_vs_first,date,source\n"
GOOD_ROW = "ImageNet,T,AlexNet,3.1,1,2012-06-01,src\n"


@pytest.fixture(scope="module")
def fit():
    return fit_efficiency(efficiency_points())


def _synthetic(halving_months: float, n: int = 8) -> list[EffPoint]:
    start = date(2012, 6, 1)
    pts = []
    for i in range(n):
        d = start + timedelta(days=round(i * 200))
        years = (d.toordinal() - start.toordinal()) / 365.25
        pts.append(EffPoint("b", "t", f"m{i}", 1.0, 2.0 ** (years * 12 / halving_months), d, "synthetic"))
    return pts


# ------------------------------------------------------------------ data
def test_packaged_csv_is_the_shared_copy():
    packaged = files("simulator.catalog").joinpath("algorithmic_efficiency.csv").read_bytes()
    if SHARED.exists():
        assert packaged == SHARED.read_bytes()
    assert packaged.startswith(HEADER.encode())


def test_module_reads_only_package_data():
    assert "shared" not in inspect.getsource(eff)


def test_alexnet_points_are_sorted_and_sourced():
    pts = efficiency_points()
    assert pts[0].model == "AlexNet" and pts[-1].model == "EfficientNet"
    assert all(a.date <= b.date for a, b in itertools.pairwise(pts))
    assert all(p.source for p in pts)
    assert pts[0].compute_tfs_days == pytest.approx(3.1)


def test_unknown_target_is_a_value_error():
    with pytest.raises(ValueError, match="target"):
        efficiency_points("no such target")


@pytest.mark.parametrize(("row", "column"), [
    ("ImageNet,T,AlexNet,lots,1,2012-06-01,src\n", "compute_tfs_days"),
    ("ImageNet,T,AlexNet,3.1,-2,2012-06-01,src\n", "reduction_vs_first"),
    ("ImageNet,T,AlexNet,3.1,1,June 2012,src\n", "date"),
    ("ImageNet,T,AlexNet,3.1,1,2012-06-01,\n", "source"),
])
def test_bad_csv_names_file_row_and_column(row, column):
    with pytest.raises(ValueError) as info:
        parse_efficiency_csv(HEADER + GOOD_ROW + row, name="bad.csv")
    message = str(info.value)
    assert "bad.csv" in message and "line 3" in message and repr(column) in message


def test_missing_column_is_named():
    with pytest.raises(ValueError, match="'date'"):
        parse_efficiency_csv(HEADER.replace(",date", "") + "ImageNet,T,AlexNet,3.1,1,src\n")


# ------------------------------------------------------------------ fit
def test_fit_reproduces_published_numbers(fit):
    assert fit.total_reduction == pytest.approx(44, rel=0.10)
    assert fit.fitted_reduction == pytest.approx(44, rel=0.15)
    assert 14 <= fit.halving_months <= 18
    assert fit.moore_reduction == pytest.approx(11, rel=0.10)
    assert fit.span_years == pytest.approx(7.0, abs=0.05)
    assert fit.sources and all("Hernandez" in s for s in fit.sources)


def test_fit_recovers_a_known_halving_time():
    synthetic = fit_efficiency(_synthetic(16.0), n_boot=200)
    assert synthetic.halving_months == pytest.approx(16.0, rel=1e-9)
    lo, hi = synthetic.ci_months
    assert lo == pytest.approx(16.0, rel=1e-6) and hi == pytest.approx(16.0, rel=1e-6)
    assert fit_efficiency(_synthetic(9.0), n_boot=10).halving_months == pytest.approx(9.0, rel=1e-9)


def test_bootstrap_is_seeded_and_contains_the_estimate(fit):
    again = fit_efficiency(efficiency_points(), seed=0)
    assert again.ci_months == fit.ci_months
    lo, hi = fit.ci_months
    assert lo < fit.halving_months < hi
    assert fit_efficiency(efficiency_points(), seed=1).ci_months != fit.ci_months


def test_degenerate_input_is_rejected():
    one_date = [EffPoint("b", "t", "m", 1.0, r, date(2015, 1, 1), "s") for r in (1.0, 2.0)]
    with pytest.raises(ValueError):
        fit_efficiency(one_date)


def test_multiplier_is_one_at_start_and_two_one_halving_later(fit):
    assert multiplier(fit.first_date, fit) == pytest.approx(1.0)
    later = fit.first_date + timedelta(days=fit.halving_months / 12 * 365.25)
    assert multiplier(later, fit) == pytest.approx(2.0, rel=1e-3)
    assert multiplier(fit.last_date, fit) == pytest.approx(fit.fitted_reduction)


# ------------------------------------------------------------------ runs
def test_alexnet_2012_on_a_gtx580_era_device(fit):
    run = alexnet_level_run(2012, fit)
    assert run is not None
    assert run.device_key == "gtx580"
    assert run.cost_usd < 1000
    assert run.hours < 60 * 24
    assert 0 < run.mfu <= 1
    assert run.flop == pytest.approx(3.1 * 8.64e16 / run.multiplier)
    assert run.hours == pytest.approx(run.flop / (1.581e12 * run.mfu) / 3600, rel=0.01)


def test_later_years_are_cheaper(fit):
    early, late = alexnet_level_run(2012, fit), alexnet_level_run(2020, fit)
    assert early is not None and late is not None
    assert late.cost_usd < early.cost_usd
    assert late.flop < early.flop


def test_years_before_the_fit_are_clamped(fit):
    run = alexnet_level_run(2011, fit)
    assert run is not None and run.multiplier == 1.0
    assert alexnet_level_run(2005, fit) is None  # no priced device yet


def test_report_is_json_ready():
    report = efficiency_report(years=(2012, 2019))
    text = json.dumps(report)
    assert "published" in report and report["published"]["reduction"] == 44
    assert report["published"]["halving_months"] == 16 and report["published"]["moore"] == 11
    assert [r["year"] for r in report["runs"]] == [2012, 2019]
    assert math.isfinite(report["fit"]["halving_months"]) and len(report["fit"]["ci"]) == 2
    assert "NaN" not in text and "Infinity" not in text
    assert eff.FLOP_PER_TFS_DAY == pytest.approx(8.64e16)
