"""Commands about the frontier and its trend: `frontier`, `reproduce`, `project`, `efficiency`."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.scenario import ScenarioError
from simulator.cli.common import (
    OUTPUT_DIR_OPTION,
    QUIET_OPTION,
    WIDE_OPTION,
    BadInput,
    Output,
    _check_dates,
    _json,
    _quiet,
    _sci,
    app,
    date_span,
    out,
    protect_numbers,
)


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
    output_dir: Path | None = OUTPUT_DIR_OPTION,
    quiet: bool = QUIET_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """The largest feasible training run at each date and the constraint that binds it."""
    from simulator.cli.progress import progress
    from simulator.frontier.decompose import jumps
    from simulator.frontier.series import STEPS, compare, date_grid, frontier_series, published, to_frame
    from simulator.frontier.utilization import Utilization
    from simulator.report.frontier_plot import plot_frontier

    if step not in STEPS:
        raise BadInput(f"--step {step!r}: one of {', '.join(STEPS)}")
    first, last = date_span(start, end, "frontier")
    config = _frontier_config(scenario)
    o = Output.open("frontier", output_dir, as_json, quiet)
    dates = date_grid(first, last, step)
    util = Utilization(default_efficiency())
    with progress(as_json, o.quiet) as bar:
        task = bar.add_task("solving the frontier", total=len(dates))
        runs = frontier_series(config, dates, progress=lambda d, n: bar.update(task, completed=d), util=util,
                               moe=True)
    frame = to_frame(runs)
    landmarks = [(p, r) for p, r in compare(config, util=util) if first <= p.at <= last]
    run_dir = o.folder(config.to_raw(), scenario=config.origin, start=first, end=last, step=step,
                       searches=util.searches)
    csv_path, fig_path = run_dir / "frontier.csv", run_dir / "frontier.png"
    frame.to_csv(csv_path, index=False)
    plot_frontier(frame, fig_path, published(), title=f"Largest feasible training run: {config.name}")
    growth = jumps(runs)
    payload = {
        "scenario": config.name, "run_dir": str(run_dir), "csv": str(csv_path),
        "figure": str(fig_path), "rows": frame.to_dict(orient="records"),
        "landmarks": [{"system": p.system, "date": p.at, "published_flop": p.flop, "simulated_flop": r.flop,
                       "ratio": r.flop / p.flop if r.feasible else None, "binding": list(r.binding)}
                      for p, r in landmarks],
        "jumps": [{"from": g.start.at, "to": g.end.at, "growth": g.total, "factors": g.factors, "changes": why}
                  for g, why in growth],
    }
    o.show(payload, [csv_path, fig_path],
           lambda: _print_frontier(runs, landmarks, growth, f"{config.name}: largest feasible run, {first} to "
                                   f"{last} by {step}", wide))


def _print_frontier(runs, landmarks, growth, title: str, wide: bool) -> None:
    """`simulator frontier`'s tables: a row per date (per year when long), the landmarks, the jumps."""
    t = Table(title=title, title_justify="left")
    cols = (("date", "pfs-days", "FLOP", "devices", "device", "workload", "days", "MFU", "goodput", "cost USD",
             "binding (2x gain)") if wide else ("date", "FLOP", "devices", "device", "days", "MFU", "binding"))
    for c in cols:
        t.add_column(c, justify="left" if c in ("date", "device", "workload", "binding (2x gain)", "binding") else "right")
    shown = runs if len(runs) <= 30 else [r for r in runs if r.at.month == runs[0].at.month]
    for r in shown:
        if not r.feasible:
            t.add_row(r.at.isoformat(), *["-"] * (len(cols) - 2), f"infeasible: {r.reason}")
            continue
        bind = ", ".join(f"{c} {r.gains[c]:.2f}x" for c in r.binding) or "none"
        if wide:
            t.add_row(r.at.isoformat(), _sci(r.pfs_days), _sci(r.flop), f"{r.n_devices:,}", r.device_name, r.family,
                      f"{r.days:.0f}", f"{r.mfu:.2f}", f"{r.goodput:.2f}", _sci(r.cost_usd), bind)
        else:
            t.add_row(r.at.isoformat(), _sci(r.flop), f"{r.n_devices:,}", r.device, f"{r.days:.0f}", f"{r.mfu:.2f}",
                      ", ".join(r.binding) or "none")
    out.print(protect_numbers(t))
    if len(shown) < len(runs):
        out.print(f"(one row per year shown; all {len(runs)} dates are in the CSV)")
    for p, r in landmarks:
        ratio = f"{r.flop / p.flop:.3g}x published" if r.feasible else f"infeasible: {r.reason}"
        out.print(f"{p.system} ({p.at}): published {p.flop:.3g} FLOP, frontier {_sci(r.flop)} FLOP -> {ratio}")
    for g, why in growth:
        parts = ", ".join(f"{k} x{v:.3g}" for k, v in g.factors.items() if not math.isclose(v, 1.0, rel_tol=1e-3))
        out.print(f"jump {g.start.at} -> {g.end.at}: x{g.total:.3g} ({parts}); {'; '.join(why)}")


def _binding_text(shares: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0%}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1]))


@app.command()
def reproduce(
    scenario: Path | None = typer.Argument(None, help="Frontier scenario TOML (default: the built-in baseline)."),
    start: str = typer.Option("1959", "--start", help="First date of the frontier."),
    end: str | None = typer.Option(None, "--end", help="Last date (default: 2026-07-01, the latest date of the "
                                   "era inputs, so the answer does not change with the day)."),
    step: str = typer.Option("quarter", "--step", help="month, quarter or year."),
    samples: int = typer.Option(200, "--samples", min=0, help="Joint draws of the uncertain inputs "
                                "(catalog/uncertainty.csv) for the bands, percentiles and sensitivity (0: none)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the input draws."),
    workers: int = typer.Option(0, "--workers", min=0, help="Worker processes for the draws (0: one per CPU)."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json to stdout."),
    output_dir: Path | None = OUTPUT_DIR_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Reproduce "AI and Compute" from the mechanism: the frontier 1959-today, fitted per era,
    with no run's own facts, its ceiling tested against every published run."""
    import os

    from simulator.cli.progress import progress
    from simulator.frontier.series import STEPS
    from simulator.report.trend_plot import plot_reproduction, plot_sensitivity
    from simulator.trend.reproduce import DATA_END, MAX_SAMPLES
    from simulator.trend.reproduce import reproduce as run_reproduction

    if step not in STEPS:
        raise BadInput(f"--step {step!r}: one of {', '.join(STEPS)}")
    if samples > MAX_SAMPLES:
        raise BadInput(f"--samples {samples}: at most {MAX_SAMPLES:,} (about {samples * 0.5 / 60:.0f} CPU-minutes "
                       "at 0.5 s a draw)")
    first, last = date_span(start, end, "reproduce", default_end=DATA_END)
    config = _frontier_config(scenario)
    o = Output.open("reproduce", output_dir, as_json, quiet)
    workers = workers or max(1, min(os.cpu_count() or 1, 8))
    with progress(as_json, o.quiet) as bar:
        task = bar.add_task("solving the frontier", total=None)

        def tick(stage, done, total):
            """The reproduction's progress: its stage and how far it is."""
            bar.update(task, description=stage, completed=done, total=total)

        rep = run_reproduction(config, first, last, step, samples=samples, seed=seed, workers=workers, progress=tick)
    run_dir = o.folder(config.to_raw(), scenario=config.origin, start=first, end=last, step=step, samples=samples,
                       seed=seed)
    csv_path, fig_path, sens_path = run_dir / "frontier.csv", run_dir / "reproduce.png", run_dir / "sensitivity.png"
    rep.frame.to_csv(csv_path, index=False)
    rep.draws_frame().to_csv(run_dir / "draws.csv", index=False)
    s = rep.summary()
    rep.ceiling_frame().to_csv(run_dir / "ceiling.csv", index=False)
    rep.sensitivity_frame().to_csv(run_dir / "sensitivity.csv", index=False)
    plot_reproduction(rep, fig_path, title=f"Largest feasible training run ({config.name}), every scored run's "
                      "facts withheld, against AI and Compute")
    plot_sensitivity(rep, sens_path)
    summary = {"scenario": config.name, **s, "frontier_csv": str(csv_path), "figure": str(fig_path),
               "sensitivity_figure": str(sens_path), "start": first, "end": last, "step": step,
               "input_samples": samples, "seed": seed}
    (run_dir / "summary.json").write_text(_json(summary))
    o.show(summary, [csv_path, fig_path, sens_path, run_dir / "summary.json"], lambda: _print_reproduction(s, config.name))


def _print_reproduction(s: dict, name: str) -> None:
    """`simulator reproduce`'s tables: the headline, the ceiling, the levels, what moves each figure, what binds."""
    from simulator.trend.reproduce import CEILING_TOLERANCE_OOM

    out.print(protect_numbers(reproduction_table(s, name)))
    cl = s["ceiling"]
    above = [f"{c['run']} ({c['date'][:7]}, {c['published_flop'] / c['frontier_p95']:.2g}x)" for c in cl
             if not c["under"] and c["frontier_p95"]]
    none = [c["run"] for c in cl if not c["frontier_p95"]]
    out.print(f"ceiling: {sum(c['under'] for c in cl)} of {len(cl)} published runs at or under the frontier's 95th "
              f"percentile (each run's facts withheld, within {CEILING_TOLERANCE_OOM} orders of magnitude); above: "
              f"{', '.join(above) or 'none'}" + (f"; no frontier at the date of: {', '.join(none)}" if none else ""),
              soft_wrap=True)
    for era, lv in s["era_levels"].items():
        if lv["median_oom"] is not None:
            out.print(f"level, {era}: the frontier's median is {lv['median_oom']:+.1f} orders of magnitude from the "
                      f"largest published run so far (median over {lv['points']} points)", soft_wrap=True)
    for key, swings in s["sensitivity"].items():
        top = ", ".join(f"{w['input']} {w['effect_oom']:.2f}" for w in swings[:10] if w["effect_oom"] is not None)
        out.print(f"moves {key} most (orders of magnitude over its 90% range): {top or 'none'}", soft_wrap=True)
    for era, shares in s["binding_by_era"].items():
        out.print(f"binding constraint, {era}: {_binding_text(shares)}", soft_wrap=True)


def reproduction_table(s: dict, name: str) -> Table:
    """The headline table of `simulator reproduce` (trend/reproduce.py FIGURES)."""
    from simulator.report.html import fmt
    from simulator.trend.reproduce import FIGURES

    t = Table(title=f"{name}: every scored run's facts withheld; median [5-95%] of {s['samples']} draws",
              title_justify="left")
    for c in ("figure", "simulated", "published", "pct", "with facts"):
        t.add_column(c, justify="left" if c in ("figure", "simulated") else "right")
    for f in FIGURES:
        med, band = s.get(f"{f.key}_median"), s.get(f"{f.key}_band")
        sim = "-" if med is None else fmt(med) + ("" if not band else f" [{fmt(band[0])}, {fmt(band[1])}]") + f.unit
        pct = s.get(f"{f.key}_published_percentile")
        facts = s.get(f"{f.key}_with_facts")
        t.add_row(f.label, sim, f.published, "" if pct is None or not f.published else f"{pct:.0f}",
                  "-" if facts is None or not math.isfinite(facts) else fmt(facts) + f.unit)
    return t


@app.command()
def efficiency(
    years: str = typer.Option("2012,2015,2019,2022,2025", "--years", help="Comma-separated years to price an "
                              "AlexNet-level run in."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: bool = QUIET_OPTION,
) -> None:
    """Fit algorithmic efficiency (AI and Efficiency) and price an AlexNet-level run by year."""
    from simulator.trend.efficiency import efficiency_report

    try:
        wanted = tuple(int(y) for y in years.split(","))
    except ValueError:
        raise BadInput(f"--years {years!r}: not a comma-separated list of years") from None
    _check_dates(min(wanted), max(wanted), "efficiency")
    if any(not 1950 <= y <= 2100 for y in wanted):
        raise BadInput(f"--years {years!r}: years must be between 1950 and 2100")
    rep = efficiency_report(wanted, seed=seed)
    if as_json:
        out.print_json(_json(rep))
        return
    fit, pub = rep["fit"], rep["published"]
    out.print(f"AlexNet-level ImageNet accuracy ({rep['target']}): compute needed fell {fit['total_reduction']:.3g}x "
              f"from {fit['first_date']} to {fit['last_date']} (published {pub['reduction']}x); fitted halving "
              f"time {fit['halving_months']:.1f} months, 90% CI [{fit['ci'][0]:.1f}, {fit['ci'][1]:.1f}] "
              f"(published {pub['halving_months']}); Moore's law over the same span {fit['moore_reduction']:.3g}x "
              f"(published {pub['moore']}x).", soft_wrap=True)
    if _quiet(quiet):
        return
    t = Table(title="An AlexNet-level run on the hardware of each year (cheapest device)", title_justify="left")
    for c in ("year", "algorithmic multiplier", "FLOP", "device", "MFU", "hours", "cost USD"):
        t.add_column(c, justify="left" if c == "device" else "right")
    for r in rep["runs"]:
        if r.get("device_key") is None:
            t.add_row(str(r["year"]), "-", "-", r.get("reason", "no priced device"), "-", "-", "-")
            continue
        t.add_row(str(r["year"]), f"{r['multiplier']:.3g}", _sci(r["flop"]), r["device_name"], f"{r['mfu']:.2f}",
                  f"{r['hours']:.3g}", f"{r['cost_usd']:.3g}")
    out.print(t)


@app.command()
def project(
    scenario: Path | None = typer.Argument(None, help="Frontier scenario TOML (default: the built-in baseline)."),
    to: int = typer.Option(2040, "--to", help="Last year of the projection."),
    start_year: int = typer.Option(2026, "--from", help="Start from the simulated frontier of this year (mid-year)."),
    samples: int = typer.Option(1000, "--samples", min=1, help="Monte Carlo samples."),
    seed: int = typer.Option(0, "--seed", help="Seed of the samples (recorded in the run folder)."),
    workers: int = typer.Option(0, "--workers", min=0, help="Processes (0: one per CPU core)."),
    bind_samples: int = typer.Option(32, "--bind-samples", min=1,
                                     help="Samples solved with each constraint's own ceiling (binding shares; "
                                          "about 1.8 s of two cores each to 2040; trend/project.BIND_SAMPLES)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    output_dir: Path | None = OUTPUT_DIR_OPTION,
    quiet: bool = QUIET_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Run the frontier solver forward: the largest feasible run of each year on drawn
    hardware, spending, power, chip and site inputs, and what binds it."""
    import os
    from datetime import date

    from simulator.cli.progress import progress
    from simulator.frontier.series import date_grid, frontier_series, to_frame
    from simulator.frontier.utilization import Utilization
    from simulator.report.projection_plot import plot_projection
    from simulator.trend.project import project as run_projection
    from simulator.trend.project import start_date

    _check_project_args(start_year, to, samples)
    config = _frontier_config(scenario)
    o = Output.open("project", output_dir, as_json, quiet)
    util = Utilization(default_efficiency())
    workers = workers or min(os.cpu_count() or 1, max(1, samples // 20))
    with progress(as_json, o.quiet) as bar:
        task = bar.add_task("the simulated history", total=None)
        history = frontier_series(config, date_grid(date(2012, 1, 1), start_date(start_year), "year"), util=util)
        bar.update(task, description=f"{samples} samples, {to - start_year} years each", total=samples, completed=0)
        try:
            proj = run_projection(config, start_year, to, samples, seed=seed, util=util, workers=workers,
                                  bind_samples=bind_samples, progress=lambda d, n: bar.update(task, completed=d))
        except ValueError as exc:
            raise BadInput(f"--from {start_year}: {exc}") from None
    table, frame = proj.table(), to_frame(history)
    run_dir = o.folder(config.to_raw(), scenario=config.origin, seed=seed, samples=samples,
                       bind_samples=proj.bind_samples, start=proj.start.at, to=to, workers=workers)
    paths = {k: run_dir / k for k in ("projection.csv", "history.csv", "projection.png", "summary.json")}
    table.to_csv(paths["projection.csv"], index=False)
    frame.to_csv(paths["history.csv"], index=False)
    plot_projection(table, paths["projection.png"], frame, title=f"Largest feasible training run, simulated and "
                    f"projected ({config.name}, {samples} samples, seed {seed})",
                    start=(proj.start.at, proj.start.flop))
    summary = _projection_summary(proj, config.name, seed, samples, to, paths)
    paths["summary.json"].write_text(_json(summary))
    o.show(summary, [paths["projection.csv"], paths["projection.png"], paths["summary.json"]],
           lambda: _print_projection(proj, table, samples, seed, wide))


def _check_project_args(start_year: int, to: int, samples: int) -> None:
    """BadInput for `project`'s years or sample count, before any work."""
    from simulator.trend.project import MAX_SAMPLES as MAX_PROJECT_SAMPLES

    _check_dates(start_year, to, "project")
    if samples > MAX_PROJECT_SAMPLES:  # each sample keeps a run per year in memory
        raise BadInput(f"--samples {samples}: at most {MAX_PROJECT_SAMPLES:,} (1000 take about 3 minutes on two "
                       f"cores; run several seeds for more)")
    if not 2013 <= start_year <= 2100:
        raise BadInput(f"--from {start_year}: must be a year from 2013 to 2100")
    if to <= start_year or to > 2200:
        raise BadInput(f"--to {to}: must be after --from {start_year} and at most 2200")


def _projection_summary(proj, name: str, seed: int, samples: int, to: int, paths: dict) -> dict:
    """summary.json of `simulator project`."""
    from simulator.trend.project import epoch_2030

    start, firsts, table = proj.start, proj.first_year_binding(), proj.table()
    return {"scenario": name, "seed": seed, "samples": samples, "bind_samples": proj.bind_samples,
            "start": start.at,
            "start_run": {"device": start.device_name, "n_devices": start.n_devices, "flop": start.flop,
                          "mfu": start.mfu, "model": start.model, "layout": start.layout,
                          "budget_usd": start.caps.budget_usd if start.caps else None,
                          "binding": list(start.binding)},
            "first_year_binding": firsts, "latency_wall_year": firsts.get("latency"),
            "ceiling_factor": "each constraint's ceiling: the others relaxed 100-fold (frontier/ceilings.py)",
            "epoch_2030": epoch_2030(), "by_batch_law": proj.by_law().to_dict(orient="records"),
            "by_model_family": proj.by_family().to_dict(orient="records"),
            "sensitivity": {int(y): proj.sensitivity(int(y)) for y in sorted({min(2030, to), to})},
            "table": table.to_dict(orient="records"), "csv": str(paths["projection.csv"]),
            "history_csv": str(paths["history.csv"]), "figure": str(paths["projection.png"])}


def _print_projection(proj, table, samples: int, seed: int, wide: bool) -> None:
    """`simulator project`'s tables: the start run, a row per year, the first year each constraint binds."""
    from simulator.frontier.ceilings import CEILING_CONSTRAINTS

    start, firsts = proj.start, proj.first_year_binding()
    out.print(f"start: the simulated frontier at {start.at}: {start.n_devices:,} x {start.device_name}, "
              f"{start.flop:.3g} FLOP, MFU {start.mfu:.2f}")
    t = Table(title=f"largest run per year, {samples} samples (seed {seed})", title_justify="left")
    cols = ("year", "FLOP p10", "median", "p90", "MFU", "sites", "cost USD", "effective",
            *(f"{k} ceiling" for k in CEILING_CONSTRAINTS)) if wide else (
        "year", "p10", "median", "p90", "MFU", "lowest ceiling (share of samples, margin to the next)")
    for c in cols:
        t.add_column(c, justify="left" if c.startswith("lowest") else "right")
    for r in table.itertuples():
        shares = {k: getattr(r, f"binding_share_{k}") for k in CEILING_CONSTRAINTS}
        if wide:
            t.add_row(str(r.year), _sci(r.flop_p10), _sci(r.flop_median), _sci(r.flop_p90), f"{r.mfu_median:.2f}",
                      f"{r.sites_median:g}", _sci(r.cost_usd_median), _sci(r.effective_flop_median),
                      *(_sci(getattr(r, f"ceiling_{k}_median")) for k in CEILING_CONSTRAINTS))
        else:
            ranked = sorted(((k, v) for k, v in shares.items() if v == v and v > 0), key=lambda kv: -kv[1])
            bound = ", ".join(f"{k} {v:.0%}" for k, v in ranked[:3])
            margin = r.binding_margin_median
            t.add_row(str(r.year), _sci(r.flop_p10), _sci(r.flop_median), _sci(r.flop_p90), f"{r.mfu_median:.2f}",
                      f"{bound} (x{margin:.2g})" if bound else "-")
    out.print(protect_numbers(t))
    out.print("first year each constraint has the lowest ceiling in most samples: " + ", ".join(
        f"{k} {v}" for k, v in firsts.items() if v is not None) + "; never: " + ", ".join(
        k for k, v in firsts.items() if v is None))
