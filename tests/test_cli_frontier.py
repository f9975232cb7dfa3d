"""`simulator frontier`: run folders, JSON, the landmark comparison and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import one_line, run

from simulator.frontier.config import load_frontier


def test_frontier_writes_a_new_run_folder_each_time(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, text, _ = run(capsys, "frontier", "--start", "2012-07", "--end", "2013-01", "--step", "quarter")
    assert code == 0, text
    assert "AlexNet (2012-09-30): published 5.01e+17 FLOP, frontier" in text
    folders = sorted((tmp_path / "outputs" / "frontier").iterdir())
    assert len(folders) == 1
    names = {p.name for p in folders[0].iterdir()}
    assert {"frontier.csv", "frontier.png", "scenario.toml", "meta.json"} <= names
    frame = pd.read_csv(folders[0] / "frontier.csv")
    assert list(frame.date) == ["2012-07-01", "2012-10-01", "2013-01-01"]
    assert frame.pfs_days.is_monotonic_increasing and (frame.flop > 0).all()
    assert (folders[0] / "frontier.png").stat().st_size > 10_000
    assert load_frontier(folders[0] / "scenario.toml").max_duration_days is None  # resolved file loads again
    code, _, _ = run(capsys, "frontier", "--start", "2012-07", "--end", "2012-07")
    assert code == 0 and len(list((tmp_path / "outputs" / "frontier").iterdir())) == 2


def test_frontier_json_has_rows_landmarks_and_jumps(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, text, _ = run(capsys, "frontier", "--start", "2016-07", "--end", "2018", "--step", "year", "--json")
    assert code == 0
    data = json.loads(text)
    assert [r["date"] for r in data["rows"]] == ["2017-01-01", "2018-01-01"]
    marks = {m["system"]: m for m in data["landmarks"]}
    assert set(marks) == {"Neural Machine Translation (GNMT)", "AlphaGo Zero"}
    agz = marks["AlphaGo Zero"]
    assert agz["ratio"] == pytest.approx(agz["simulated_flop"] / agz["published_flop"])
    assert Path(data["csv"]).exists() and Path(data["figure"]).exists()


@pytest.mark.parametrize("args, needle", [
    (["--step", "week"], "--step 'week'"),
    (["--start", "20x2"], "--start '20x2': not a date"),
    (["--start", "2018", "--end", "2012"], "before --start"),
])
def test_bad_flags_are_one_line(capsys, tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "frontier", *args)
    assert code == 2 and needle in one_line(err)


def test_bad_scenario_is_one_line_naming_file_key_value(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text('[frontier]\nmax_duration_days = 30\n')
    code, _, err = run(capsys, "frontier", str(bad))
    line = one_line(err)
    assert code == 2 and "bad.toml" in line and "max_duration_days=30" in line and "no source" in line
    assert not (tmp_path / "outputs").exists()


def test_date_without_a_device_is_a_row_with_a_reason(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, text, _ = run(capsys, "frontier", "--start", "1950", "--end", "1950", "--json")
    assert code == 0
    row = json.loads(text)["rows"][0]
    assert row["feasible"] is False and "no actor trained at 1950-01-01" in row["reason"]
