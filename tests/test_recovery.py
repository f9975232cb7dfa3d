"""Recovery time from sources (catalog/recovery_times.csv, catalog/recovery.py) and its use.

The published series is read and validated (a bad row names file, line, key, column and
value); the best published recovery never increases with the date; a run's own recovery
is withheld when it is scored; rows that need spare machines are never read; projected
runs draw their own recovery; and the goodput it enters has the closed form of Daly 2006.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from itertools import pairwise

import numpy as np
import pytest

from simulator.catalog.recovery import (
    COLUMNS,
    RECOVERY_CSV,
    best_recovery,
    last_published,
    parse_recovery,
    readable,
    recovery_at,
    recovery_points,
)
from simulator.catalog.runfacts import scored_runs
from simulator.costs import failures as cf
from simulator.frontier.config import PROJECTED_RECOVERY_REF, FrontierConfig
from simulator.trend.project import RECOVERY_PARAM, parse_params, projection_parameters, sample_configs

HEADER = ",".join(COLUMNS)
GOOD = "ok,2025-09-03,150,restart,4800,GPU,,not stated,,a source,https://x,abstract,"


def _parse(*rows: str, header: str = HEADER):
    return parse_recovery("\n".join((header, *rows)) + "\n", "t.csv", actors=frozenset({"meta"}))


def test_the_series_is_read_oldest_first_each_row_with_a_source():
    points = recovery_points()
    assert len(points) >= 2 and [p.at for p in points] == sorted(p.at for p in points)
    assert all(p.source and p.recovery_s > 0 and p.devices > 0 for p in points)
    assert last_published() == points[-1].at
    # the Llama 3 row is a fact of the scored run, so it is withheld when that run is scored
    llama = next(p for p in points if p.key == "llama3_405b_2024")
    assert llama.run_fact_of == {"llama3_405b"} and "llama3_405b" in scored_runs()
    assert llama.recovery_s == pytest.approx(0.1 * 54 * 86400 / 466, abs=1)  # Dubey et al. 2024, Sec. 3.3.4


def test_a_good_row_parses():
    (p,) = _parse(GOOD)
    assert (p.key, p.at, p.recovery_s, p.measure, p.spares) == ("ok", date(2025, 9, 3), 150.0, "restart", "not stated")


@pytest.mark.parametrize("row, column, value", [
    ("ok,2025-13-40,150,restart,4800,GPU,,no,,src,,,", "date", "2025-13-40"),
    ("ok,2025-09-03,-5,restart,4800,GPU,,no,,src,,,", "recovery_s", "-5"),
    ("ok,2025-09-03,fast,restart,4800,GPU,,no,,src,,,", "recovery_s", "fast"),
    ("ok,2025-09-03,150,restart,0,GPU,,no,,src,,,", "devices", "0"),
    ("ok,2025-09-03,150,reboot,4800,GPU,,no,,src,,,", "measure", "reboot"),
    ("ok,2025-09-03,150,restart,4800,GPU,,maybe,,src,,,", "spares", "maybe"),
    ("ok,2025-09-03,150,restart,4800,GPU,nolab,no,,src,,,", "actor", "nolab"),
    ("ok,2025-09-03,150,restart,4800,GPU,,no,,,,,", "source", ""),
])
def test_a_bad_row_names_file_line_key_column_and_value(row, column, value):
    with pytest.raises(ValueError) as e:
        _parse(GOOD.replace("ok,", "first,", 1), row)
    msg = str(e.value)
    assert msg.startswith("t.csv: line 3: key='ok'") and f"column {column!r}" in msg and repr(value) in msg
    assert "\n" not in msg


def test_duplicate_key_unknown_run_and_missing_column_are_refused():
    with pytest.raises(ValueError, match=r"t\.csv: line 3: key='ok': column 'key': empty or duplicate key"):
        _parse(GOOD, GOOD)
    with pytest.raises(ValueError, match=r"t\.csv: line 2: key='ok': column 'run_fact_of': unknown run 'no_such_run'"):
        _parse(GOOD.replace(",not stated,,", ",not stated,no_such_run,"))
    with pytest.raises(ValueError, match=r"t\.csv: line 1: missing column 'spares'"):
        _parse(GOOD, header=HEADER.replace(",spares", ",sparez"))


def test_the_catalog_file_itself_is_checked_against_actors():
    text = "\n".join((HEADER, GOOD.replace(",GPU,,", ",GPU,meta,"))) + "\n"
    assert parse_recovery(text, RECOVERY_CSV, actors=frozenset({"meta"}))[0].actor == "meta"
    with pytest.raises(ValueError, match=rf"{RECOVERY_CSV}: line 2: key='ok': column 'actor'"):
        parse_recovery(text, RECOVERY_CSV, actors=frozenset({"google"}))


@pytest.mark.parametrize("actor", [None, "meta", "openai", "alibaba"])
@pytest.mark.parametrize("lag", [0.0, 270.0, 940.0])
@pytest.mark.parametrize("withhold", [frozenset(), frozenset({"llama3_405b"})])
def test_the_best_published_recovery_never_increases_with_the_date(actor, lag, withhold):
    days = [date(2023, 1, 1) + timedelta(days=15 * k) for k in range(250)]
    values = [recovery_at(d, withhold, lag, actor)[0] for d in days]
    assert all(b <= a for a, b in pairwise(values))
    assert values[0] == math.inf and values[-1] < math.inf  # nothing before the first row; held after the last


def test_its_own_actor_has_a_row_at_once_others_after_the_lag():
    at = date(2024, 8, 1)  # a day after the Llama 3 report
    assert best_recovery(at, lag_days=270, actor="meta").key == "llama3_405b_2024"
    assert best_recovery(at, lag_days=270, actor="openai") is None
    assert best_recovery(at + timedelta(days=270), lag_days=270, actor="openai").key == "llama3_405b_2024"


def test_rows_needing_spares_are_never_read():
    spare = [p for p in recovery_points() if p.spares == "yes"]
    assert spare and min(p.recovery_s for p in spare) < min(p.recovery_s for p in readable(recovery_points()))
    late = date(2040, 1, 1)
    for actor in (None, "alibaba", "meta"):
        assert best_recovery(late, lag_days=0.0, actor=actor).spares != "yes"


def test_a_scored_run_never_reads_its_own_recovery():
    withheld = frozenset({"llama3_405b"})
    for d in (date(2024, 8, 1), date(2025, 6, 1), date(2030, 1, 1)):
        p = best_recovery(d, withheld, 0.0, "meta")
        assert p is None or "llama3_405b" not in p.run_fact_of
    # a config drawing a slow restart reads the Llama 3 row, unless that run is withheld
    slow = FrontierConfig().with_quantiles({"restart_s": 2.0})
    seconds, ref = slow.recovery(date(2024, 9, 1), "meta")
    assert seconds == pytest.approx(1001) and ref == f"{RECOVERY_CSV}:llama3_405b_2024"
    seconds, ref = slow.withholding({"llama3_405b"}).recovery(date(2024, 9, 1), "meta")
    assert ref == "" and seconds < 1001


def test_a_solved_run_lists_the_recovery_it_read_and_not_a_withheld_one():
    from simulator.frontier.solver import solve
    slow = FrontierConfig(families=("transformer_lm",), actors=("meta",)).with_quantiles({"restart_s": 2.0})
    run = solve(date(2025, 6, 1), slow, relax=False)
    assert run.feasible and f"{RECOVERY_CSV}:llama3_405b_2024" in run.inputs
    held = solve(date(2025, 6, 1), slow.withholding({"llama3_405b"}), relax=False)
    assert held.feasible and not any(i.startswith(f"{RECOVERY_CSV}:llama3") for i in held.inputs)
    assert held.goodput > run.goodput  # the withheld range is faster than Llama 3's bound


def test_the_recovery_is_the_shorter_of_the_draw_and_the_published_level():
    c = FrontierConfig()
    early, late = date(2020, 1, 1), date(2027, 1, 1)
    assert c.recovery(early, "openai") == (c.input("restart_s"), "")
    best, ref = recovery_at(late, frozenset(), c.input("technique_adoption_lag_days"), "openai")
    assert c.recovery(late, "openai") == (min(best, c.input("restart_s")), ref if best < c.input("restart_s") else "")
    fixed = FrontierConfig(restart_s=500.0)  # a scenario's constant has no trend
    assert fixed.recovery(early) == fixed.recovery(late) == (500.0, "")


def test_the_failures_relaxation_scales_the_recovery():
    c = FrontierConfig()
    for d in (date(2020, 1, 1), date(2027, 1, 1)):
        assert c.relaxed("failures", 100.0).recovery(d, "openai")[0] == pytest.approx(c.recovery(d, "openai")[0] / 100)
    assert c.relaxed("failures", 100.0).failure_rate == pytest.approx(c.failure_rate / 100)


def test_projected_runs_draw_their_own_recovery_around_the_last_published_level():
    configs, _ = sample_configs(FrontierConfig(), 400, 0)
    values = np.array([c.projected_recovery_s for c in configs])
    param = projection_parameters()[RECOVERY_PARAM]
    assert param.ci95 and (param.p10, param.median, param.p90) == (20.0, 150.0, 1001.0)
    assert np.median(values) == pytest.approx(150.0, rel=0.25) and values.min() > 5 and values.max() < 3000
    # the median holds the last level a run may read: no trend beyond the data
    assert param.median == min(p.recovery_s for p in readable(recovery_points()))
    c = configs[0]
    after = last_published() + timedelta(days=1)
    assert c.recovery(after, "openai") == (c.projected_recovery_s, PROJECTED_RECOVERY_REF)
    assert c.recovery(last_published(), "openai")[1] != PROJECTED_RECOVERY_REF  # the history's rule up to then
    # the other draws are those drawn before the recovery was added
    again, _ = sample_configs(FrontierConfig(), 400, 0)
    assert [x.quantiles for x in again] == [x.quantiles for x in configs]


def test_a_bad_projection_row_names_file_line_and_column():
    text = ("parameter,unit,p10,median,p90,source,notes\n"
            "recovery_time_after_series,s,20,-150,1001,src,\n")
    with pytest.raises(ValueError, match=r"p\.csv: line 2 \('recovery_time_after_series'\): column 'median': "
                                         r"not a number > 0: '-150'"):
        parse_params(text, "p.csv")


def test_goodput_closed_form_by_hand():
    # tau = 1 h of work, C = 60 s checkpoint, R = 150 s recovery, M = 10 h between failures:
    # T_seg = M e^{R/M} (e^{(tau + C)/M} - 1) = 36000 x 1.0041754 x 0.1070154 = 3868.6 s
    assert cf.segment_wall_s(3600.0, 60.0, 150.0, 36000.0) == pytest.approx(3868.60, abs=0.01)
    assert cf.expected_goodput(3600.0, 60.0, 150.0, 36000.0) == pytest.approx(0.930568, abs=1e-6)
    # first order: 1 - 60/3600 - 3600/72000 - 150/36000 = 0.929167
    assert cf.first_order_goodput(3600.0, 60.0, 150.0, 36000.0) == pytest.approx(0.929167, abs=1e-6)
    # a shorter recovery only raises the goodput, by the factor e^{(R1 - R2)/M}
    g1, g2 = (cf.expected_goodput(3600.0, 60.0, r, 36000.0) for r in (1001.0, 150.0))
    assert g2 / g1 == pytest.approx(math.exp((1001.0 - 150.0) / 36000.0))
