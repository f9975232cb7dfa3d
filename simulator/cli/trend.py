"""Commands about the frontier and its trend: `frontier`, `reproduce`, `project`, `efficiency`."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from simulator.catalog.efficiency import default_efficiency
from simulator.cli.common import BadInput, _flag_date, _json, _sci, app, err, out
from simulator.scenario import ScenarioError


def _frontier_config(scenario: Path | None):
    from simulator.frontier.config import load_frontier

    try:
        return load_frontier(scenario)
    except ScenarioError as exc:
        raise BadInput(str(exc)) from None


@app.command()
def frontier(
    scenario: Path | None = typer.Argument(None, help="Frontier scenario TOML (default: the built-in baseline)."),
    start: str = typer.Option("2012", "--start", help="First date: YYYY, YYYY-MM or YYYY-MM-DD."),
    end: str = typer.Option("2018", "--end", help="Last date (inclusive)."),
    step: str = typer.Option("quarter", "--step", help="month, quarter or year."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """The largest feasible training run at each date and the constraint that binds it."""
    from rich.progress import Progress

    from simulator.frontier.decompose import jumps
    from simulator.frontier.series import STEPS, compare, date_grid, frontier_series, published, to_frame
    from simulator.frontier.utilization import Utilization
    from simulator.report.frontier_plot import plot_frontier
    from simulator.runs import new_run_dir, write_meta, write_scenario

    if step not in STEPS:
        raise BadInput(f"--step {step!r}: one of {', '.join(STEPS)}")
    first, last = _flag_date(start, "--start"), _flag_date(end, "--end")
    if last < first:
        raise BadInput(f"--end {end!r}: before --start {start!r}")
    config = _frontier_config(scenario)
    dates = date_grid(first, last, step)
    util = Utilization(default_efficiency())
    with Progress(console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("solving the frontier", total=len(dates))
        runs = frontier_series(config, dates, progress=lambda d, n: bar.update(task, completed=d), util=util)
    frame = to_frame(runs)
    landmarks = [(p, r) for p, r in compare(config, util=util) if first <= p.at <= last]
    run_dir = new_run_dir("frontier")
    frame.to_csv(run_dir / "frontier.csv", index=False)
    plot_frontier(frame, run_dir / "frontier.png", published(), title=f"Largest feasible training run: {config.name}")
    write_scenario(run_dir, config.to_raw())
    write_meta(run_dir, scenario=config.origin, start=first, end=last, step=step, searches=util.searches)
    growth = jumps(runs)
    payload = {
        "scenario": config.name, "run_dir": str(run_dir), "csv": str(run_dir / "frontier.csv"),
        "figure": str(run_dir / "frontier.png"), "rows": frame.to_dict(orient="records"),
        "landmarks": [{"system": p.system, "date": p.at, "published_flop": p.flop, "simulated_flop": r.flop,
                       "ratio": r.flop / p.flop if r.feasible else None, "binding": list(r.binding)}
                      for p, r in landmarks],
        "jumps": [{"from": g.start.at, "to": g.end.at, "growth": g.total, "factors": g.factors, "changes": why}
                  for g, why in growth],
    }
    if as_json:
        out.print_json(_json(payload))
        return
    t = Table(title=f"{config.name}: largest feasible run, {first} to {last} by {step}", title_justify="left")
    for c in ("date", "pfs-days", "FLOP", "devices", "device", "workload", "days", "MFU", "goodput", "cost USD",
              "binding (2x gain)"):
        t.add_column(c, justify="left" if c in ("date", "device", "workload", "binding (2x gain)") else "right")
    shown = runs if len(runs) <= 30 else [r for r in runs if r.at.month == runs[0].at.month]
    for r in shown:
        if not r.feasible:
            t.add_row(r.at.isoformat(), "-", "-", "-", "-", "-", "-", "-", "-", "-", f"infeasible: {r.reason}")
            continue
        bind = ", ".join(f"{c} {r.gains[c]:.2f}x" for c in r.binding) or "none"
        t.add_row(r.at.isoformat(), _sci(r.pfs_days), _sci(r.flop), f"{r.n_devices:,}", r.device_name, r.family,
                  f"{r.days:.0f}", f"{r.mfu:.2f}", f"{r.goodput:.2f}", _sci(r.cost_usd), bind)
    out.print(t)
    if len(shown) < len(runs):
        out.print(f"(one row per year shown; all {len(runs)} dates are in the CSV)")
    for p, r in landmarks:
        ratio = f"{r.flop / p.flop:.3g}x published" if r.feasible else f"infeasible: {r.reason}"
        out.print(f"{p.system} ({p.at}): published {p.flop:.3g} FLOP, frontier {_sci(r.flop)} FLOP -> {ratio}")
    for g, why in growth:
        parts = ", ".join(f"{k} x{v:.3g}" for k, v in g.factors.items() if not math.isclose(v, 1.0, rel_tol=1e-3))
        out.print(f"jump {g.start.at} -> {g.end.at}: x{g.total:.3g} ({parts}); {'; '.join(why)}")
    out.print(f"written: {run_dir / 'frontier.csv'}, {run_dir / 'frontier.png'}")


