"""Sweeps (simulator.app.sweep): grids, samples, executors, failed points."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import one_line, run

from simulator.app.sweep import SweepError, parse_set, points, run_points

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "frontier-baseline.toml"
STEP = ROOT / "scenarios" / "default.toml"


def test_parse_set_grid_and_range():
    assert parse_set("frontier.budget_scale=0.5,1,2") == ("frontier.budget_scale", [0.5, 1, 2])
    assert parse_set("frontier.devices=[\"gtx580\"]")[1] == [["gtx580"]]
    assert parse_set("frontier.budget_scale=0.5:2") == ("frontier.budget_scale", (0.5, 2.0))
    for bad in ("nokey", "x=", "x=2:1", "x=a:b"):
        with pytest.raises(SweepError):
            parse_set(bad)


def test_points_are_the_grid_times_the_samples():
    pts = points(["a=1,2,3", "b=x,y"])
    assert len(pts) == 6 and {"a": 3, "b": "y"} in pts
    sampled = points(["a=1,2", "c=0:1"], samples=4, seed=7)
    assert len(sampled) == 8 and all(0 <= p["c"] <= 1 for p in sampled)
    assert sampled == points(["a=1,2", "c=0:1"], samples=4, seed=7)
    with pytest.raises(SweepError, match="needs --samples"):
        points(["c=0:1"])
    with pytest.raises(SweepError, match="twice"):
        points(["a=1", "a=2"])


SETS = ["frontier.budget_scale=0.5,2", "date=2016-01-01,2024-01-01", "frontier.max_waste=0.5,1.5"]


def test_a_failed_point_is_reported_and_the_others_finish():
    rows = run_points("frontier", BASELINE.read_text(), str(BASELINE), points(SETS))
    bad = [r for r in rows if r["frontier.max_waste"] == 1.5]
    good = [r for r in rows if r["frontier.max_waste"] == 0.5]
    assert len(bad) == len(good) == 4
    assert all("max_waste" in r["error"] and "must be in (0, 1)" in r["error"] for r in bad)
    assert all(r["error"] == "" and r["flop"] > 0 for r in good)


def test_local_processes_and_dask_match_in_process_row_for_row():
    pts = points(SETS[:2])
    text = BASELINE.read_text()
    here = run_points("frontier", text, str(BASELINE), pts)
    procs = run_points("frontier", text, str(BASELINE), pts, workers=2)
    assert procs == here
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        on_dask = run_points("frontier", text, str(BASELINE), pts, client=client)
    assert on_dask == here


def test_step_command_sweep():
    rows = run_points("step", STEP.read_text(), str(STEP), points(["layout.micro_batch=1,2", "layout.tp=8,3"]))
    ok = [r for r in rows if r["layout.tp"] == 8]
    assert all(r["error"] == "" and r["step_time_s"] > 0 for r in ok)
    assert all(r["error"] for r in rows if r["layout.tp"] == 3)  # 3 x 8 x 16 != 1024 devices: reported, not raised


def test_sweep_cli_writes_one_row_per_point(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, text, _ = run(capsys, "sweep", str(BASELINE), "--set", "frontier.budget_scale=0.5,1", "--set",
                        "date=2020-01-01", "--workers", "1", "--json")
    assert code == 0
    data = json.loads(text)
    frame = pd.read_csv(data["csv"])
    assert list(frame.columns[:2]) == ["frontier.budget_scale", "date"] and len(frame) == 2
    assert data["failed"] == 0 and data["executor"] == "in-process"


@pytest.mark.parametrize("args, needle", [
    (["--set", "nokey"], "--set 'nokey'"),
    (["--command", "dance"], "--command 'dance'"),
])
def test_sweep_bad_flags_are_one_line(capsys, tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "sweep", str(BASELINE), *args)
    assert code == 2 and needle in one_line(err)
