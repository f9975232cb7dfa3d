"""Commands for what-ifs and teaching: `sweep`, `explain`, `report`."""

from __future__ import annotations

from pathlib import Path

import typer

from simulator.cli.common import BadInput, _json, app, err, out


@app.command()
def sweep(
    scenario: Path = typer.Argument(..., help="Scenario TOML (a step/search scenario, or a frontier scenario)."),
    command: str = typer.Option("frontier", "--command", help="step, search, frontier or project."),
    sets: list[str] = typer.Option([], "--set", help="key=v1,v2,... (grid) or key=lo:hi (sampled); repeatable."),
    samples: int = typer.Option(0, "--samples", min=0, help="Monte Carlo draws of the key=lo:hi ranges."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draws."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Local processes (1: in this process; "
                                       "default: one per core)."),
    dask_scheduler: str | None = typer.Option(None, "--dask-scheduler", help="Run on this Dask scheduler "
                                              "(tcp://HOST:PORT)."),
    dask_local: int | None = typer.Option(None, "--dask-local", min=1, help="Start a local Dask cluster of N "
                                          "workers on loopback and run there."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
) -> None:
    """Run a grid (and Monte Carlo samples) of scenario keys through a command; one CSV row per point."""
    import pandas as pd
    from rich.progress import Progress

    from simulator.runs import new_run_dir, write_meta
    from simulator.sweep import COMMANDS, SweepError, default_workers, points, run_points

    if command not in COMMANDS:
        raise BadInput(f"--command {command!r}: one of {', '.join(COMMANDS)}")
    if dask_scheduler and dask_local:
        raise BadInput("--dask-scheduler and --dask-local: give one or the other")
    try:
        text = scenario.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{scenario}: cannot read: {exc.strerror or exc}") from None
    try:
        pts = points(sets, samples, seed)
    except SweepError as exc:
        raise BadInput(str(exc)) from None
    client, cluster, executor = None, None, "in-process"
    n_workers = workers or default_workers()
    if dask_scheduler or dask_local:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise BadInput("--dask-*: Dask is not installed; pip install 'training-scaling-simulator[dask]'") from None
        if dask_local:
            cluster = LocalCluster(n_workers=dask_local, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None)
            client, executor = Client(cluster), f"dask-local ({dask_local} workers)"
        else:
            try:
                client, executor = Client(dask_scheduler, timeout=10), f"dask ({dask_scheduler})"
            except (OSError, TimeoutError) as exc:
                raise BadInput(f"--dask-scheduler {dask_scheduler!r}: cannot connect: {exc}") from None
    elif n_workers > 1:
        executor = f"local processes ({n_workers})"
    try:
        with Progress(console=err, transient=True, disable=as_json) as bar:
            task = bar.add_task(f"sweep ({len(pts)} points, {executor})", total=len(pts))
            rows = run_points(command, text, str(scenario), pts, workers=n_workers, client=client,
                              progress=lambda d, n: bar.update(task, completed=d))
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    frame = pd.DataFrame(rows)
    run_dir = new_run_dir("sweep")
    frame.to_csv(run_dir / "sweep.csv", index=False)
    (run_dir / "scenario.toml").write_text(text)
    write_meta(run_dir, scenario=str(scenario), command=command, sets=sets, samples=samples, seed=seed,
               executor=executor, points=len(pts))
    failed = int((frame["error"] != "").sum())
    if as_json:
        out.print_json(_json({"csv": str(run_dir / "sweep.csv"), "executor": executor, "failed": failed,
                              "rows": rows}))
        return
    out.print(frame.to_string(max_rows=40, max_colwidth=40))
    out.print(f"{len(pts)} points ({failed} failed) with {executor}; written: {run_dir / 'sweep.csv'}")
