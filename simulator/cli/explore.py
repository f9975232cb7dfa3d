"""Commands for what-ifs and teaching: `sweep`, `explain`, `report`."""

from __future__ import annotations

from pathlib import Path

import typer

from simulator.cli.common import (
    OUTPUT_DIR_OPTION,
    QUIET_OPTION,
    BadInput,
    _json,
    _new_file,
    _output_root,
    _quiet,
    app,
    out,
    stages,
)

#: Distinct errors listed after a sweep (all of them are in the CSV).
SHOWN_ERRORS = 5


@app.command()
def sweep(
    scenario: Path = typer.Argument(..., help="Scenario TOML (a step/search scenario, or a frontier scenario)."),
    command: str = typer.Option("frontier", "--command", help="step, search, frontier or project."),
    sets: list[str] = typer.Option([], "--set", help="key=v1,v2,... (grid) or key=lo:hi (sampled); repeatable. "
                                   "Keys are dotted scenario keys (frontier.budget_scale, layout.tp) or the "
                                   "command's own parameters: date for frontier (default 2020-01-01); from, to, "
                                   "samples, seed for project (default 2026, 2030, 100, 0)."),
    samples: int = typer.Option(0, "--samples", min=0, help="Monte Carlo draws of the key=lo:hi ranges."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draws."),
    workers: int = typer.Option(0, "--workers", min=0, help="Local processes (1: in this process; "
                                       "0, the default: one per core)."),
    dask_scheduler: str | None = typer.Option(None, "--dask-scheduler", help="Run on this Dask scheduler "
                                              "(tcp://HOST:PORT)."),
    dask_local: int | None = typer.Option(None, "--dask-local", min=1, help="Start a local Dask cluster of N "
                                          "workers on loopback and run there."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    output_dir: Path | None = OUTPUT_DIR_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Run a grid (and Monte Carlo samples) of scenario keys through a command; one CSV row per point."""
    import pandas as pd

    from simulator.app.runs import new_run_dir, write_meta
    from simulator.app.sweep import default_workers, is_config_error, point_text

    if dask_scheduler and dask_local:
        raise BadInput("--dask-scheduler and --dask-local: give one or the other")
    text, pts = _sweep_points(scenario, command, sets, samples, seed)
    root = _output_root("sweep", output_dir)
    quiet = _quiet(quiet)
    n_workers = workers or default_workers()
    client, cluster, executor = _executor(dask_scheduler, dask_local, n_workers)
    try:
        rows = _run_sweep(command, text, str(scenario), pts, n_workers, client, executor, as_json, quiet)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    frame = pd.DataFrame(rows)
    run_dir = new_run_dir("sweep", root)
    frame.to_csv(run_dir / "sweep.csv", index=False)
    (run_dir / "scenario.toml").write_text(text)
    write_meta(run_dir, scenario=str(scenario), command=command, sets=sets, samples=samples, seed=seed,
               executor=executor, points=len(pts))
    csv_path = run_dir / "sweep.csv"
    failed = int((frame["error"] != "").sum())
    if failed == len(rows) and all(is_config_error(r["error"]) for r in rows):
        # every point failed on the scenario or the swept values: nothing was simulated
        raise BadInput(f"sweep: all {len(rows)} points failed with a configuration error; "
                       f"{point_text(pts[0])}: {rows[0]['error']} (every error in {csv_path})")
    if as_json:
        out.print_json(_json({"csv": str(csv_path), "executor": executor, "failed": failed, "rows": rows}))
    else:
        if not quiet:
            _print_sweep(frame, rows, pts, failed)
        out.print(f"{len(pts)} points ({failed} failed) with {executor}; written: {csv_path}", soft_wrap=True)
    if failed == len(rows):
        raise typer.Exit(1)  # every point failed (not all on configuration): nothing to use


def _sweep_points(scenario: Path, command: str, sets: list[str], samples: int, seed: int) -> tuple[str, list]:
    """(the scenario's text, the sweep's points), every point checked before any work (BadInput)."""
    from simulator.app.sweep import COMMANDS, SweepError, check_first, check_points, points

    if command not in COMMANDS:
        raise BadInput(f"--command {command!r}: one of {', '.join(COMMANDS)}")
    try:
        text = scenario.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{scenario}: cannot read: {exc.strerror or exc}") from None
    try:
        pts = points(sets, samples, seed)
        check_points(command, pts)
        check_first(command, text, str(scenario), pts)
    except SweepError as exc:
        raise BadInput(str(exc)) from None
    return text, pts


def _run_sweep(command: str, text: str, origin: str, pts: list, n_workers: int, client, executor: str,
               as_json: bool, quiet: bool) -> list[dict]:
    """The rows of every point, with the command's progress display (none with --json or --quiet)."""
    from simulator.app.sweep import run_points
    from simulator.cli.progress import progress

    with progress(as_json, quiet) as bar:
        task = bar.add_task(f"sweep ({len(pts)} points, {executor})", total=len(pts))
        return run_points(command, text, origin, pts, workers=n_workers, client=client,
                          progress=lambda d, n: bar.update(task, completed=d))


def _executor(dask_scheduler: str | None, dask_local: int | None, n_workers: int):
    """(Dask client, local Dask cluster, the executor's name) of a sweep: Dask when asked, else local
    processes (or this process)."""
    if not (dask_scheduler or dask_local):
        return None, None, f"local processes ({n_workers})" if n_workers > 1 else "in-process"
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise BadInput("--dask-*: Dask is not installed; pip install 'training-scaling-simulator[dask]'") from None
    if dask_local:
        cluster = LocalCluster(n_workers=dask_local, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
        return Client(cluster), cluster, f"dask-local ({dask_local} workers)"
    try:
        return Client(dask_scheduler, timeout=10), None, f"dask ({dask_scheduler})"
    except (OSError, TimeoutError) as exc:
        raise BadInput(f"--dask-scheduler {dask_scheduler!r}: cannot connect: {exc}") from None


def _print_sweep(frame, rows: list[dict], pts: list, failed: int) -> None:
    """A sweep's rows (without the error column when some failed) and its failures by error."""
    from simulator.app.sweep import failure_counts, point_text

    if failed < len(rows):
        shown = frame.drop(columns="error") if failed else frame
        out.print(shown.to_string(max_rows=40, max_colwidth=40, line_width=out.width), soft_wrap=True)
    if failed:
        counts = failure_counts(rows)
        out.print(f"failed points by error ({len(counts)} distinct; every error in the CSV):")
        for text, count in counts[:SHOWN_ERRORS]:
            first = next(p for p, r in zip(pts, rows, strict=True) if r["error"] == text)
            out.print(f"  {count:>6,}  {text} (e.g. {point_text(first)})", soft_wrap=True)
        if len(counts) > SHOWN_ERRORS:
            out.print(f"  ... and {len(counts) - SHOWN_ERRORS} more distinct errors")


@app.command()
def explain(
    scenario: Path | None = typer.Argument(None, help="Step scenario TOML with a complete [layout] (default: built-in)."),
    frontier_too: bool = typer.Option(True, "--frontier/--no-frontier", help="Also draw the binding constraint "
                                      "per era from the baseline frontier."),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
    output_dir: Path | None = OUTPUT_DIR_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Figures that teach one step: Gantt chart, time and memory breakdowns, scaling curves."""

    from simulator.catalog.efficiency import default_efficiency
    from simulator.cli.common import _scenario

    sc = _scenario(scenario)
    if not sc.has_layout:
        raise BadInput(f"{sc.origin}: [layout] is not complete (tp, pp, dp): explain needs one layout to draw")
    root = _output_root("explain", output_dir)
    eff = default_efficiency()
    names = ("step and its figures", "scaling curves") + (("baseline frontier 2012-2025",) if frontier_too else ())
    with stages("explain", names, as_json or _quiet(quiet)) as advance:
        payload = _explain(sc, eff, frontier_too, root, advance)
    if as_json:
        out.print_json(_json(payload))
        return
    if not payload["feasible"] and not _quiet(quiet):
        out.print(f"{sc.name}: the layout is infeasible ({payload['reason']}); memory and scaling figures only")
    out.print(f"written to {payload['run_dir']}: " + ", ".join(Path(p).name for p in payload["figures"])
              + ", scaling.csv, step.json", soft_wrap=True)


def _explain(sc, eff, frontier_too: bool, root: Path, advance) -> dict:
    """The explain run folder's figures and tables; `advance` marks each stage."""
    from datetime import date

    from simulator.app.runs import new_run_dir, write_meta, write_scenario
    from simulator.engine.step import simulate_step
    from simulator.report import explain as ex
    from simulator.search.rank import used_cluster

    result = simulate_step(sc.model, used_cluster(sc.cluster, sc.layout), sc.layout, eff, sc.stack)
    run_dir = new_run_dir("explain", root)
    written = []
    title = f"{sc.model.name} on {sc.cluster.n_devices} x {sc.cluster.accelerator.name}"
    if result.feasible:
        written += [ex.gantt(result.records, run_dir / "gantt.png", title),
                    ex.breakdown(result, run_dir / "breakdown.png", title)]
    if result.memory is not None:
        written.append(ex.memory(result, run_dir / "memory.png", f"{title}: memory per device"))
    advance("scaling curves")
    n = sc.cluster.n_devices
    counts = sorted({2 ** k for k in range(max(0, n.bit_length() - 5), n.bit_length() + 2)})
    table = ex.scaling_table(sc.model, sc.cluster, sc.layout, eff, counts)
    table.to_csv(run_dir / "scaling.csv", index=False)
    written.append(ex.scaling(table, run_dir / "scaling.png", title))
    if frontier_too:
        advance("baseline frontier 2012-2025")
        from simulator.frontier.config import load_frontier
        from simulator.frontier.series import date_grid, frontier_series, published, to_frame
        from simulator.report.frontier_plot import plot_frontier

        runs = frontier_series(load_frontier(), date_grid(date(2012, 1, 1), date(2025, 12, 31), "year"))
        frame = to_frame(runs)
        frame.to_csv(run_dir / "frontier.csv", index=False)
        written.append(plot_frontier(frame, run_dir / "frontier_binding.png", published(),
                                     title="Binding constraint per era (baseline frontier)"))
    (run_dir / "step.json").write_text(_json({"scenario": sc.name, **result.to_dict()}))
    write_scenario(run_dir, sc.raw)
    write_meta(run_dir, scenario=sc.origin)
    return {"run_dir": str(run_dir), "feasible": result.feasible, "reason": result.detail,
            "figures": [str(p) for p in written]}


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A run folder (outputs/<command>/<run-id>)."),
) -> None:
    """Assemble a run folder's figures and tables into one self-contained HTML page."""
    from simulator.app.runs import incomplete
    from simulator.report.html import build_report

    if not run_dir.is_dir():
        raise BadInput(f"{run_dir}: not a folder")
    if (why := incomplete(run_dir)) is not None:
        raise BadInput(f"{run_dir}: {why}")
    if not any(run_dir.glob("*.png")) and not any(run_dir.glob("*.csv")):
        raise BadInput(f"{run_dir}: no figures or tables to report (is it a run folder?)")
    target = _new_file(run_dir / "report.html", "report")
    target.write_text(build_report(run_dir), encoding="utf-8")
    out.print(f"written: {target}", soft_wrap=True)
