"""Daily use of the command line (issue 14): where results go, --output-dir, --quiet, --version, -h,
and sweeps whose points fail.

Every command that writes checks its output folder before any work: a file or read-only
`outputs` (or --output-dir) gives one line on stderr and exit code 2, fast, with nothing run.
"""

from __future__ import annotations

import json
import os
import re
import time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import one_line, run

from simulator.app.runs import OutputError, check_output_root, new_run_dir

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "frontier-baseline.toml"

# (argv, the function doing the command's work: patched to fail, so a check after the work fails the test)
WRITERS = [
    (["frontier", "--start", "2012", "--end", "2012"], "simulator.frontier.series.frontier_series"),
    (["reproduce", "--start", "2012", "--end", "2012", "--samples", "0"], "simulator.trend.reproduce.reproduce"),
    (["project", "--to", "2027", "--samples", "10"], "simulator.trend.project.project"),
    (["explain", "--no-frontier"], "simulator.engine.step.simulate_step"),
    (["search", "--out"], "simulator.search.search_layouts"),
    (["sweep", str(BASELINE), "--set", "date=2012", "--workers", "1"], "simulator.app.sweep.run_points"),
]
IDS = [argv[0] for argv, _ in WRITERS]


def _no_work(monkeypatch, target: str) -> None:
    def boom(*args, **kwargs):
        raise AssertionError(f"{target} ran before the output folder was checked")

    monkeypatch.setattr(target, boom)


def _timed(capsys, *argv: str) -> tuple[int, str, str, float]:
    t0 = time.perf_counter()
    code, out, err = run(capsys, *argv)
    return code, out, err, time.perf_counter() - t0


# ------------------------------------------------------------------ output folders checked first
@pytest.mark.parametrize("argv, work", WRITERS, ids=IDS)
def test_outputs_a_file_is_one_line_before_any_work(capsys, tmp_path, monkeypatch, argv, work):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outputs").write_text("not a folder")
    _no_work(monkeypatch, work)
    code, _, err, took = _timed(capsys, *argv)
    line = one_line(err)
    assert code == 2 and "outputs" in line and "is a file" in line, line
    assert took < 2.0
    assert (tmp_path / "outputs").read_text() == "not a folder"


@pytest.mark.parametrize("argv, work", WRITERS, ids=IDS)
def test_command_folder_a_file_is_one_line_before_any_work(capsys, tmp_path, monkeypatch, argv, work):
    monkeypatch.chdir(tmp_path)
    command = argv[0]
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / command).write_text("")
    _no_work(monkeypatch, work)
    code, _, err, took = _timed(capsys, *argv)
    assert code == 2 and f"outputs/{command}: is a file" in one_line(err)
    assert took < 2.0


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes in read-only folders")
@pytest.mark.parametrize("argv, work", WRITERS, ids=IDS)
def test_read_only_outputs_is_one_line_before_any_work(capsys, tmp_path, monkeypatch, argv, work):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outputs").mkdir(mode=0o555)
    _no_work(monkeypatch, work)
    try:
        code, _, err, took = _timed(capsys, *argv)
    finally:
        (tmp_path / "outputs").chmod(0o755)
    assert code == 2 and "outputs: folder not writable" in one_line(err)
    assert took < 2.0 and not any((tmp_path / "outputs").iterdir())


def test_step_trace_into_a_file_or_existing_file_is_one_line_before_the_step(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _no_work(monkeypatch, "simulator.cli.simulate_step")
    (tmp_path / "outputs").write_text("")
    code, _, err = run(capsys, "step", "--trace", "outputs/trace.json")
    assert code == 2 and "--trace outputs/trace.json: outputs is a file" in one_line(err)
    (tmp_path / "trace.json").write_text("{}")
    code, _, err = run(capsys, "step", "--trace", "trace.json")
    assert code == 2 and "file exists" in one_line(err)


def test_report_into_an_existing_report_is_one_line(capsys, tmp_path):
    (tmp_path / "frontier.csv").write_text("date\n2012-01-01\n")
    (tmp_path / "report.html").write_text("")
    code, _, err = run(capsys, "report", str(tmp_path))
    assert code == 2 and "report.html: file exists" in one_line(err)


def test_check_output_root_and_new_run_dir_raise_one_line_and_create_nothing(tmp_path):
    assert check_output_root(tmp_path / "new" / "deeper", "frontier") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    blocker = tmp_path / "file"
    blocker.write_text("")
    for root in (blocker, blocker / "below"):
        with pytest.raises(OutputError, match=f"{blocker}: is a file") as info:
            new_run_dir("frontier", root)
        assert "\n" not in str(info.value)
    assert new_run_dir("frontier", tmp_path / "runs").parent == tmp_path / "runs" / "frontier"


# ------------------------------------------------------------------ --output-dir
def test_output_dir_takes_the_run_folder_elsewhere(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, text, err = run(capsys, "frontier", "--start", "2012", "--end", "2012", "--output-dir", "runs/a", "--json")
    assert code == 0, err
    run_dir = Path(json.loads(text)["run_dir"])
    assert run_dir.parent == Path("runs/a/frontier") and (run_dir / "frontier.csv").exists()
    assert not (tmp_path / "outputs").exists()
    # the same option before the command
    code, text, err = run(capsys, "--output-dir", "runs/b", "frontier", "--start", "2012", "--end", "2012", "--json")
    assert code == 0, err
    assert Path(json.loads(text)["run_dir"]).parent == Path("runs/b/frontier")


@pytest.mark.parametrize("argv, work", WRITERS, ids=IDS)
def test_output_dir_a_file_is_one_line_naming_the_flag(capsys, tmp_path, monkeypatch, argv, work):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").write_text("")
    _no_work(monkeypatch, work)
    code, _, err, took = _timed(capsys, *argv, "--output-dir", "taken")
    line = one_line(err)
    assert code == 2 and line.startswith("error: --output-dir taken: is a file"), line
    assert took < 2.0 and not (tmp_path / "outputs").exists()
    code, _, err = run(capsys, "--output-dir", "taken", *argv)
    assert code == 2 and "--output-dir taken: is a file" in one_line(err)


def test_search_output_dir_implies_out(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scenario = tmp_path / "small.toml"  # GPT-3 on one DGX A100: few candidates, none fits
    scenario.write_text('name = "small"\n[model]\nname = "gpt3-175b"\n[cluster]\naccelerator = "a100-80gb"\n'
                        'devices = 8\ndevices_per_node = 8\n[layout]\nglobal_batch = 8\n')
    code, text, err = run(capsys, "search", str(scenario), "--output-dir", "mine", "--json", "--quiet")
    assert code == 0, err
    run_dir = Path(json.loads(text)["run_dir"])
    assert run_dir.parent == Path("mine/search") and (run_dir / "candidates.csv").exists()
    code, text, err = run(capsys, "search", str(scenario), "--quiet")
    assert code == 0 and one_line(text).startswith("small: no feasible layout among ")


# ------------------------------------------------------------------ --quiet
def test_quiet_prints_only_the_essential_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, loud, _ = run(capsys, "frontier", "--start", "2012", "--end", "2012")
    assert code == 0 and len(loud.strip().splitlines()) > 3
    code, text, err = run(capsys, "frontier", "--start", "2012", "--end", "2012", "--quiet")
    assert code == 0 and err == ""
    line = one_line(text)
    assert line.startswith("written: outputs/frontier/") and line.endswith("frontier.png")
    code, text, err = run(capsys, "-q", "step")
    assert code == 0 and err == "" and one_line(text).startswith("gpt3-175b-1024-a100: step time")
    code, text, _ = run(capsys, "efficiency", "-q")
    assert code == 0 and "halving time" in one_line(text)


def test_quiet_leaves_json_unchanged_and_errors_on_stderr(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, plain, _ = run(capsys, "step", "--json")
    _, quiet, _ = run(capsys, "step", "--json", "--quiet")
    assert json.loads(quiet) == json.loads(plain)
    code, text, err = run(capsys, "frontier", "--quiet", "--step", "week")
    assert code == 2 and text == "" and "--step 'week'" in one_line(err)


# ------------------------------------------------------------------ --version, -h, bare
def test_version_prints_the_package_version(capsys):
    code, text, err = run(capsys, "--version")
    assert code == 0 and err == ""
    assert one_line(text) == f"simulator {version('training-scaling-simulator')}"


@pytest.mark.parametrize("argv", [[], ["frontier"], ["sweep"], ["step"], ["search"], ["report"]])
def test_dash_h_is_help(capsys, argv):
    code, short, _ = run(capsys, *argv, "-h")
    assert code == 0 and "Usage: simulator" in short
    _, long, _ = run(capsys, *argv, "--help")
    assert short == long


def test_bare_simulator_prints_the_help_and_exits_0(capsys):
    """Documented choice: a bare `simulator` is `simulator --help` (exit 0), with nothing on stderr."""
    code, text, err = run(capsys)
    assert code == 0 and err == ""
    assert "Usage: simulator" in text and "frontier" in text and "--version" in text


# ------------------------------------------------------------------ sweep failures
def _sweep_csv(tmp_path: Path) -> pd.DataFrame:
    (folder,) = (tmp_path / "outputs" / "sweep").iterdir()
    return pd.read_csv(folder / "sweep.csv")


def test_sweep_misspelt_key_is_one_line_before_any_point_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _no_work(monkeypatch, "simulator.app.sweep.run_points")
    code, text, err = run(capsys, "sweep", str(BASELINE), "--set", "frontier.budgt_scale=1.5,2", "--workers", "1")
    line = one_line(err)
    assert code == 2 and text == ""
    assert "sweep: first point: " in line and "budgt_scale=1.5" in line  # the message names the point's key
    assert "unknown key; did you mean 'budget_scale'?" in line
    assert not (tmp_path / "outputs").exists()  # nothing ran, no run folder


def test_sweep_step_on_a_frontier_scenario_exits_2_before_any_point(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _no_work(monkeypatch, "simulator.app.sweep.run_points")
    code, _, err = run(capsys, "sweep", str(BASELINE), "--command", "step", "--set", "frontier.budget_scale=1,2",
                       "--workers", "1", "--json")
    line = one_line(err)
    assert code == 2 and "sweep: first point (frontier.budget_scale=1)" in line


def test_sweep_of_more_points_than_it_takes_is_refused_before_they_are_built(capsys, tmp_path, monkeypatch):
    from simulator.app.sweep import MAX_POINTS

    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    code, _, err = run(capsys, "sweep", str(BASELINE), "--set", "frontier.budget_scale=1:2", "--samples", "100000000")
    line = one_line(err)
    assert code == 2 and "100,000,000 points" in line and f"at most {MAX_POINTS:,}" in line
    assert time.perf_counter() - t0 < 5  # refused, not built


def test_a_sweep_date_follows_the_frontier_commands_rules(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _no_work(monkeypatch, "simulator.app.sweep.run_points")
    code, _, err = run(capsys, "sweep", str(BASELINE), "--set", "date=1800", "--workers", "1")
    assert code == 2 and "date=1800: outside 1950-2100" in one_line(err)
    code, _, err = run(capsys, "frontier", "--start", "1800")
    assert code == 2 and "before 1950" in one_line(err)


def test_sweep_invalid_date_is_one_line_naming_the_key_before_any_point(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _no_work(monkeypatch, "simulator.app.sweep.run_points")
    code, _, err = run(capsys, "sweep", str(BASELINE), "--set", "date=2020-13-01")
    line = one_line(err)
    assert code == 2 and "date='2020-13-01'" in line and "not a date" in line and "ValueError" not in line
    assert not (tmp_path / "outputs").exists()


def test_sweep_library_names_the_date_key_and_records_the_default_date():
    from simulator.app.sweep import run_points

    bad, default = run_points("frontier", BASELINE.read_text(), str(BASELINE), [{"date": "2020-13-01"}, {}])
    assert bad["error"].startswith("SweepError: date='2020-13-01': not a date")
    assert default["date"] == "2020-01-01" and default["error"] == ""  # the default is a visible column


def test_sweep_summarises_failed_points_with_full_errors(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, text, err = run(capsys, "sweep", str(BASELINE), "--set", "frontier.max_waste=0.5,1.5,2.5",
                          "--set", "date=2012", "--workers", "1")
    assert code == 0, err
    assert "failed points by error (2 distinct; every error in the CSV):" in text
    assert "      1  ScenarioError:" in text and "[frontier] max_waste=2.5: must be in (0, 1)" in text
    assert "3 points (2 failed)" in text
    header = text.splitlines()[0]
    assert "error" not in header.split()  # no truncated error column
    assert _sweep_csv(tmp_path).error.fillna("").str.contains("must be in \\(0, 1\\)").sum() == 2


def test_sweep_every_point_failing_at_run_time_exits_1(capsys, tmp_path, monkeypatch):
    import simulator.app.sweep

    def fail(*args, **kwargs):
        raise RuntimeError("solver diverged")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(simulator.app.sweep, "_run", fail)
    code, text, _ = run(capsys, "sweep", str(BASELINE), "--set", "date=2012,2013", "--workers", "1")
    assert code == 1 and "2 points (2 failed)" in text and "RuntimeError: solver diverged" in text


# ------------------------------------------------------------------ issue 23: no traceback from any input
def test_step_trace_where_the_file_system_refuses_is_one_line_before_the_step(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _no_work(monkeypatch, "simulator.cli.simulate_step")
    code, _, err = run(capsys, "step", "--trace", "/proc/trace.json")  # a folder even root cannot write in
    assert code == 2 and "--trace /proc/trace.json: cannot be written" in one_line(err)


def test_the_trace_probe_leaves_the_name_free_for_the_trace(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "step", "--trace", str(tmp_path / "t.json"), "-q")
    assert code == 0 and json.loads((tmp_path / "t.json").read_text())  # written after the step, not refused


def test_a_step_of_too_many_micro_batches_is_refused_before_it_runs(capsys, tmp_path, monkeypatch):
    from simulator.catalog.scenario import MAX_MICROBATCHES, default_scenario_path

    monkeypatch.chdir(tmp_path)
    _no_work(monkeypatch, "simulator.cli.simulate_step")
    text = default_scenario_path().read_text(encoding="utf-8")
    huge = tmp_path / "huge.toml"
    huge.write_text(re.sub(r"(?m)^global_batch = \d+", "global_batch = 1500000000000", text), encoding="utf-8")
    t0 = time.perf_counter()
    code, _, err = run(capsys, "step", str(huge))
    line = one_line(err)
    assert code == 2 and time.perf_counter() - t0 < 5
    assert "global_batch=1500000000000" in line and f"at most {MAX_MICROBATCHES:,}" in line


@pytest.mark.parametrize("key, value", [("max_tp", "0.5"), ("host_devices", "2.5"), ("max_tp", "0")])
def test_a_fractional_count_in_a_frontier_scenario_is_one_line(capsys, tmp_path, monkeypatch, key, value):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.toml"
    path.write_text(f'[frontier]\n{key} = {value}\n[sources]\n{key} = "a test"\n', encoding="utf-8")
    code, _, err = run(capsys, "frontier", str(path), "--start", "2020", "--end", "2021")
    assert code == 2 and f"[frontier] {key}=" in one_line(err)
    assert not (tmp_path / "outputs" / "frontier").exists() or not any((tmp_path / "outputs" / "frontier").iterdir())


def test_a_restart_longer_than_any_run_gives_infeasible_runs_with_the_reason():
    from datetime import date

    from simulator.frontier.config import FrontierConfig
    from simulator.frontier.solver import solve

    run_ = solve(date(2020, 1, 1), FrontierConfig(restart_s=1e30))  # with the 2x relaxations: no division by 0
    assert not run_.feasible and "failures: no work survives (a restart of 1e+30 s" in run_.reason


def test_workers_0_means_one_per_core_in_every_command_that_takes_workers(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen = {}

    def record(command, text, scenario, pts, workers=1, **kw):
        seen["workers"] = workers
        return [{"error": "", "date": "2012-01-01"}]

    monkeypatch.setattr("simulator.app.sweep.run_points", record)
    code, _, err = run(capsys, "sweep", str(BASELINE), "--set", "date=2012", "--workers", "0", "-q")
    assert code == 0 and seen["workers"] >= 1, err
    for command in ("sweep", "project", "reproduce"):
        code, _, err = run(capsys, command, *([str(BASELINE), "--set", "date=2012"] if command == "sweep" else []),
                           "--workers", "-1")
        assert code == 2 and "--workers" in one_line(err)


# ------------------------------------------------------------------ issue 23: interruption
def test_an_interrupted_pool_ends_its_workers_without_running_the_queue():
    import multiprocessing

    from simulator.core.pool import process_pool

    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt), process_pool(2, multiprocessing.get_context("fork")) as pool:
        for _ in range(6):
            pool.submit(time.sleep, 30)  # three minutes of queued work on two workers
        time.sleep(0.5)
        procs = list(pool._processes.values())
        raise KeyboardInterrupt
    deadline = time.perf_counter() + 5  # the executor's own thread may be reaping them meanwhile
    while any(p.is_alive() for p in procs) and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert time.perf_counter() - t0 < 15 and procs and not any(p.is_alive() for p in procs)


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_an_interrupted_command_exits_130_and_its_folder_is_refused_by_report_and_compare(
        capsys, tmp_path, monkeypatch, signum):
    import signal

    monkeypatch.chdir(tmp_path)
    before = signal.getsignal(signal.SIGTERM)

    def interrupted(*args, **kwargs):  # the signal arrives while explain writes its figures
        os.kill(os.getpid(), getattr(signal, signum))
        time.sleep(1)
        raise AssertionError("the signal did not stop the command")

    monkeypatch.setattr("simulator.report.explain.breakdown", interrupted)
    # SIGINT as a terminal's Ctrl-C delivers it (a process started in the background inherits it ignored)
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code, _, err = run(capsys, "explain", "--no-frontier")
    finally:
        signal.signal(signal.SIGINT, old_int)
    assert code == 130 and one_line(err).startswith("interrupted; ")
    assert signal.getsignal(signal.SIGTERM) == before  # main restored the handler it set
    (folder,) = (tmp_path / "outputs" / "explain").iterdir()
    assert (folder / "INTERRUPTED").is_file()
    code, _, err = run(capsys, "report", str(folder))
    assert code == 2 and "the results here are incomplete" in one_line(err)
    code, _, err = run(capsys, "compare", str(folder), str(folder))
    assert code == 2 and "incomplete" in one_line(err)


def test_off_a_terminal_long_commands_print_plain_progress_lines(capsys, tmp_path, monkeypatch):
    from simulator.cli.progress import PlainProgress

    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "frontier", "--start", "2012", "--end", "2013", "--step", "year")
    assert code == 0 and err.splitlines()[0].startswith("... ") and "Traceback" not in err
    code, _, err = run(capsys, "frontier", "--start", "2012", "--end", "2013", "--step", "year", "-q")
    assert code == 0 and err == ""  # --quiet silences it
    lines = []

    class Spy:
        def print(self, text, **_):
            lines.append(text)

    bar = PlainProgress(every_s=3600, console=Spy())
    task = bar.add_task("stage one", total=10)
    for k in range(10):
        bar.update(task, completed=k + 1)  # within the interval: no line
    bar.update(task, description="stage two", completed=0)
    assert [x.split(" (")[0] for x in lines] == ["... stage one 0/10", "... stage two 0/10"]
