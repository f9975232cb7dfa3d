"""`simulator compare RUN_A RUN_B`: a what-if against its baseline, as a table and a figure.

Frontier runs (frontier, reproduce), projections and `step --json` files; the ratio B/A per
shared date or per metric; a new run folder with compare.csv, compare.png and summary.json;
anything that cannot be compared is one line and exit 2.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import one_line, run

import simulator.cli.compare_cmd  # noqa: F401  (registers `compare` until simulator/cli/__init__.py imports it)
from simulator.cli.common import out
from simulator.report.compare import CompareError, compare, read_run, shown_rows

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def frontier_runs(tmp_path_factory):
    """The baseline and the critical batch x4 what-if, 2012-2016 by year (about a second each)."""
    from simulator.cli import main

    where = tmp_path_factory.mktemp("runs")
    for scenario in ([], [str(ROOT / "scenarios" / "critical-batch-x4.toml")]):
        assert main(["frontier", *scenario, "--start", "2012", "--end", "2016", "--step", "year", "--output-dir",
                     str(where), "--quiet"]) == 0
    runs = sorted((where / "frontier").iterdir())
    assert len(runs) == 2
    a, b = sorted(runs, key=lambda p: "critical-batch-x4" in (p / "scenario.toml").read_text())  # baseline first
    return a, b


def _projection_run(folder: Path, years, scale: float) -> Path:
    run_dir = folder / "project" / f"2026-{scale}"
    run_dir.mkdir(parents=True)
    flop = [1e27 * scale * 2 ** (y - years[0]) for y in years]
    pd.DataFrame({"year": years, "flop_p10": [f / 3 for f in flop], "flop_median": flop,
                  "flop_p90": [f * 3 for f in flop]}).to_csv(run_dir / "projection.csv", index=False)
    (run_dir / "summary.json").write_text(json.dumps({"scenario": f"x{scale}"}))
    return run_dir


def test_compare_two_frontier_runs(capsys, frontier_runs, tmp_path):
    a, b = frontier_runs
    code, text, err = run(capsys, "compare", str(a), str(b), "--output-dir", str(tmp_path))
    assert code == 0, err
    assert "baseline" in text and "critical-batch-x4" in text
    folder = next((tmp_path / "compare").iterdir())
    assert {"compare.csv", "compare.png", "summary.json", "meta.json"} <= {p.name for p in folder.iterdir()}
    table = pd.read_csv(folder / "compare.csv")
    fa, fb = pd.read_csv(a / "frontier.csv"), pd.read_csv(b / "frontier.csv")
    assert list(table.date) == list(fa.date) == list(fb.date)
    for row, ra, rb in zip(table.itertuples(), fa.itertuples(), fb.itertuples(), strict=True):
        assert row.ratio_flop == pytest.approx(rb.flop / ra.flop)
        assert row.ratio_devices == pytest.approx(rb.n_devices / ra.n_devices)
        assert row.ratio_mfu == pytest.approx(rb.mfu / ra.mfu)
    assert (table.ratio_flop >= 1 - 1e-4).all()  # a larger critical batch never shrinks a run (layouts aside)
    grown = table.ratio_flop.idxmax()
    assert f"{table.ratio_flop.iloc[grown]:.3g}x" in text
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["shared"] == len(table) and summary["ratios"]["flop"]["max"] == pytest.approx(table.ratio_flop.max())


def test_compare_json(capsys, frontier_runs, tmp_path):
    a, b = frontier_runs
    code, text, err = run(capsys, "compare", str(a), str(b), "--json", "--output-dir", str(tmp_path))
    assert code == 0, err
    data = json.loads(text)
    assert data["kind"] == "frontier" and data["shared"] == 5 and len(data["rows"]) == 5
    assert Path(data["figure"]).exists() and Path(data["csv"]).exists()
    first = data["rows"][0]
    assert first["ratio_flop"] == pytest.approx(first["b_flop"] / first["a_flop"])


def test_compare_against_itself_is_one_everywhere(capsys, frontier_runs, tmp_path):
    a, _ = frontier_runs
    code, text, err = run(capsys, "compare", str(a), str(a / "frontier.csv"), "--json", "--output-dir", str(tmp_path))
    assert code == 0, err
    data = json.loads(text)
    assert all(r["ratio_flop"] == 1 for r in data["rows"])
    assert data["ratios"]["flop"]["unchanged"] == 5


def test_compare_fits_80_columns(capsys, monkeypatch, frontier_runs, tmp_path):
    """No number cut to '…' at 80 columns (the compact default: ratios only)."""
    monkeypatch.setattr(out, "width", 80)
    a, b = frontier_runs
    code, text, err = run(capsys, "compare", str(a), str(b), "--output-dir", str(tmp_path))
    assert code == 0, err
    table = [line for line in text.splitlines() if line.startswith(("│", "┃", "┏", "└"))]
    assert table and max(len(line) for line in table) <= 80
    assert "…" not in "\n".join(table)


def test_compare_projections(capsys, tmp_path):
    a = _projection_run(tmp_path, list(range(2026, 2036)), 1.0)
    b = _projection_run(tmp_path, list(range(2026, 2031)), 0.5)
    code, text, err = run(capsys, "compare", str(a), str(b), "--json", "--output-dir", str(tmp_path))
    assert code == 0, err
    data = json.loads(text)
    assert data["kind"] == "projection" and data["shared"] == 5 and data["only_a"] == 5 and data["only_b"] == 0
    assert all(r["ratio_flop"] == pytest.approx(0.5) for r in data["rows"])
    code, text, _ = run(capsys, "compare", str(a), str(b), "--output-dir", str(tmp_path))
    assert "0.5x" in text and "5 years only in A" in text


def test_compare_steps_per_metric(capsys, tmp_path):
    paths = []
    for name, scenario in (("a", []), ("b", [str(ROOT / "scenarios" / "gpt3-175b-zero3.toml")])):
        code, text, err = run(capsys, "step", *scenario, "--json")
        assert code == 0, err
        (tmp_path / f"{name}.json").write_text(text)
        paths.append(tmp_path / f"{name}.json")
    code, text, err = run(capsys, "compare", *map(str, paths), "--json", "--output-dir", str(tmp_path))
    assert code == 0, err
    data = json.loads(text)
    rows = {r["metric"]: r for r in data["rows"]}
    a, b = (json.loads(p.read_text()) for p in paths)
    assert rows["step time (s)"]["ratio_value"] == pytest.approx(b["step_time_s"] / a["step_time_s"])
    assert rows["devices"]["ratio_value"] == pytest.approx(b["n_devices"] / a["n_devices"])
    code, text, _ = run(capsys, "compare", *map(str, paths), "--output-dir", str(tmp_path))
    assert code == 0 and "step time" in text and "MFU" in text


@pytest.mark.parametrize("case", ["not a run folder", "missing", "no shared dates", "two kinds", "not a step json"])
def test_what_cannot_be_compared_is_one_line(capsys, frontier_runs, tmp_path, case):
    a, _ = frontier_runs
    other = tmp_path / "other"
    other.mkdir()
    if case == "not a run folder":
        args, words = [str(a), str(other)], "not a run folder"
    elif case == "missing":
        args, words = [str(a), str(tmp_path / "nope")], "no such file or folder"
    elif case == "no shared dates":
        pd.DataFrame({"date": ["1990-01-01"], "feasible": [True], "flop": [1e15]}).to_csv(other / "frontier.csv",
                                                                                          index=False)
        args, words = [str(a), str(other)], "no date in common"
    elif case == "two kinds":
        args, words = [str(a), str(_projection_run(tmp_path, [2026], 1.0))], "compare runs of one kind"
    else:
        (other / "x.json").write_text('{"hello": 1}')
        args, words = [str(other / "x.json"), str(other / "x.json")], "not the output of `simulator step --json`"
    code, _, err = run(capsys, "compare", *args, "--output-dir", str(tmp_path / "out"))
    assert code == 2 and words in one_line(err), err
    assert not (tmp_path / "out").exists()  # nothing written


def test_an_output_folder_that_is_a_file_is_one_line(capsys, frontier_runs, tmp_path):
    a, b = frontier_runs
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(capsys, "compare", str(a), str(b), "--output-dir", str(blocker))
    assert code == 2 and "not a folder" in one_line(err)


def test_long_comparisons_print_the_dates_that_matter(tmp_path):
    """Of 120 quarters, the first, the last and where the ratio moves, at most 30 rows."""
    dates = pd.date_range("1995-01-01", periods=120, freq="QS").strftime("%Y-%m-%d")
    a = pd.DataFrame({"date": dates, "feasible": True, "flop": [1e20 * 1.1 ** i for i in range(120)]})
    b = a.copy()
    b.loc[100:, "flop"] *= 0.1  # B falls behind from the 101st date
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    comp = compare(read_run(tmp_path / "a.csv"), read_run(tmp_path / "b.csv"))
    shown = shown_rows(comp)
    assert len(shown) <= 30
    assert {dates[0], dates[-1], dates[99], dates[100]} <= set(shown.date)
    assert comp.summary()["ratios"]["flop"]["min"] == pytest.approx(0.1)


def test_read_run_refuses_a_csv_of_another_kind(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(CompareError, match="neither a frontier CSV"):
        read_run(path)


def test_compare_figure_shows_both_curves_and_the_ratio(frontier_runs):
    from simulator.report.compare import comparison_figure
    from simulator.report.figures import pyplot

    a, b = frontier_runs
    fig = comparison_figure(compare(read_run(a), read_run(b)))
    fig.tight_layout()
    fig.canvas.draw()
    top, bottom = fig.axes
    assert {line.get_label() for line in top.get_lines()} == {"A: baseline", "B: critical-batch-x4"}
    assert "FLOP B/A" in {line.get_label() for line in bottom.get_lines()}
    ticks = [t.get_text() for t in bottom.get_yticklabels() if t.get_text()]
    assert "1x" in ticks and all(re.fullmatch(r"[0-9.e+-]+x", t) for t in ticks), ticks
    for ax in fig.axes:  # legends beside the axes, off the curves
        assert not ax.get_legend().get_window_extent().overlaps(ax.get_window_extent())
    assert not any(math.isnan(v) for v in bottom.get_ylim())
    pyplot().close(fig)
