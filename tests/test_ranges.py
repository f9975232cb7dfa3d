"""Dates outside the data (issue 14): an error when impossible, a warning when extrapolated."""

from __future__ import annotations

from datetime import date

import pytest

from simulator.catalog.ranges import EARLIEST, FRONTIER_INPUTS_END, LATEST, check_date_range


def test_limits_agree_with_the_data():
    from simulator.trend.reproduce import DATA_END

    assert FRONTIER_INPUTS_END == DATA_END
    assert (EARLIEST.year, LATEST.year) == (1950, 2100)


@pytest.mark.parametrize("start, end, command", [
    ("2012", "2018", "frontier"),
    ("1959", "2026-07-01", "reproduce"),
    (date(1950, 1, 1), date(2026, 7, 1), "frontier"),
    (2025, 2100, "project"),  # a projection runs past the inputs by design
    (2026, 2040, "project"),  # the start run at 2026-07-01, the inputs' last date
    (2012, 2025, "efficiency"),
    (2012, 2026, "efficiency"),
])
def test_inside_the_data_no_warning(start, end, command):
    assert check_date_range(start, end, command) is None


@pytest.mark.parametrize("start, end, command, flag", [
    ("2012", "2030", "frontier", "--end 2030"),
    ("1959", "2026-08", "reproduce", "--end 2026-08"),
    ("2030", "2031", "frontier", "--end 2031"),
    (2030, 2060, "project", "--from 2030"),
    (2012, 2100, "efficiency", "--years 2100"),
])
def test_past_the_inputs_is_a_one_line_warning(start, end, command, flag):
    warning = check_date_range(start, end, command)
    assert warning.startswith(f"warning: {flag} is past 2026-07-01, ") and "extrapolation" in warning
    assert "\n" not in warning


@pytest.mark.parametrize("start, end, command, message", [
    ("1900", "2000", "frontier", "--start 1900: before 1950"),
    ("1949-12", "2000", "reproduce", "--start 1949-12: before 1950"),
    ("2012", "3000", "frontier", "--end 3000: after 2100"),
    ("2012", "2101", "reproduce", "--end 2101: after 2100"),
    (2025, 2101, "project", "--to 2101: after 2100"),
    (1949, 2025, "efficiency", "--years 1949: before 1950"),
    (2012, 2200, "efficiency", "--years 2200: after 2100"),
    ("2018", "2012", "frontier", "--end 2012: before --start 2018"),
])
def test_impossible_range_is_a_one_line_error(start, end, command, message):
    with pytest.raises(ValueError) as exc:
        check_date_range(start, end, command)
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)


def test_unknown_command_and_bad_dates():
    with pytest.raises(ValueError, match="unknown command 'sweep'"):
        check_date_range("2012", "2013", "sweep")
    with pytest.raises(ValueError, match="not a date"):
        check_date_range("2012-13", "2013", "frontier")
