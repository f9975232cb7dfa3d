"""Tables fit an 80-column terminal and never cut a number (issue 14); --wide shows every column."""

from __future__ import annotations

import pytest
from cli_helpers import run

from simulator.cli import common


@pytest.fixture
def terminal_80(monkeypatch):
    """The console as an 80-column terminal would size it."""
    monkeypatch.setattr(common.out, "_width", 80)
    yield


CASES = {
    "search": ("search", "scenarios/search-llama3-405b-16384.toml", "--top", "5"),
    "frontier": ("frontier", "--start", "2016", "--end", "2026", "--step", "year"),
    "project": ("project", "--samples", "3", "--to", "2028", "--workers", "1"),
}


@pytest.mark.parametrize("case", CASES)
def test_tables_fit_80_columns_and_never_cut_a_number(capsys, terminal_80, tmp_path, case):
    code, out, err = run(capsys, *CASES[case], "--output-dir", str(tmp_path))
    assert code == 0, err
    table = [line for line in out.splitlines() if line[:1] in "┃│┏┡└┌"]
    assert table, out
    assert all(len(line) <= 80 for line in table), max(table, key=len)
    assert "…" not in out


def test_wide_shows_every_column(capsys, tmp_path):
    code, out, _ = run(capsys, "frontier", "--start", "2016", "--end", "2018", "--step", "year", "--wide",
                       "--output-dir", str(tmp_path))
    assert code == 0 and "goodput" in out and "cost USD" in out
    code, out, _ = run(capsys, "frontier", "--start", "2016", "--end", "2018", "--step", "year",
                       "--output-dir", str(tmp_path))
    assert code == 0 and "goodput" not in out


def test_help_shows_what_the_source_says(capsys):
    code, out, _ = run(capsys, "search", "--help")
    assert code == 0
    assert "[search] table" in out  # not eaten as markup
    assert "<bool>" not in out and "--json" in out


def test_long_commands_show_their_stages(monkeypatch):
    """explain and project report each stage on a progress bar (issue 14: they showed none)."""
    import io

    from rich.console import Console

    buf = io.StringIO()
    monkeypatch.setattr(common, "err", Console(file=buf, force_terminal=True, width=80))
    with common.stages("project", ("the start run", "20 samples"), silent=False) as advance:
        advance("20 samples")
    text = buf.getvalue()
    assert "project: the start run" in text or "project: 20 samples" in text
    import inspect

    from simulator.cli import explore, trend

    assert "stages(" in inspect.getsource(explore.explain)
    assert "bar.update(task, completed=d)" in inspect.getsource(trend.project)  # one step per sample


def test_far_dates_are_an_error_or_a_warning(capsys, tmp_path):
    from cli_helpers import one_line

    code, _, err = run(capsys, "frontier", "--start", "2012", "--end", "3000", "--output-dir", str(tmp_path))
    assert code == 2 and "3000" in one_line(err) and "2100" in err
    code, _, err = run(capsys, "frontier", "--start", "2027", "--end", "2027", "--step", "year", "--quiet",
                       "--output-dir", str(tmp_path))
    assert code == 0 and "extrapolation" in err


def test_off_a_terminal_tables_take_columns_or_80(monkeypatch):
    monkeypatch.setattr(common.sys.stdout, "isatty", lambda: False, raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    assert common._piped_width() == 80
    monkeypatch.setenv("COLUMNS", "132")
    assert common._piped_width() == 132
    monkeypatch.setenv("COLUMNS", "wide")
    assert common._piped_width() == 80
