"""Command line: `simulator step`, `validate`, `search` here; the trend commands in cli/trend.py.

Thin: parse, call the library, print or save. The only module that exits. Bad input
(a scenario, a CSV, a flag) gets one line naming the file, key and value, and exit
code 2, never a traceback.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from simulator.catalog import calibration_csv_path
from simulator.catalog.efficiency import default_efficiency
from simulator.cli.common import (
    QUIET_OPTION,
    WIDE_OPTION,
    BadInput,
    UsageError,
    _json,
    _new_file,
    _no_progress,
    _output_root,
    _quiet,
    _scenario,
    app,
    err,
    out,
    protect_numbers,
)
from simulator.core.specs import DIMENSION_KEYS, OPTIONAL_DIMENSIONS
from simulator.core.units import GB, fmt_seconds
from simulator.engine.step import StepResult, simulate_step


def _pct(x: float, total: float) -> str:
    return f"{100 * x / total:5.1f}%" if total else ""


def step_table(result: StepResult, title: str) -> Table:
    """Print the title line; return the result of one step as a rich table."""
    out.print(title)
    t = Table(show_header=False)
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_column("share", justify="right")
    t.add_row("step time", fmt_seconds(result.step_time_s), "")
    t.add_row("MFU / HFU", f"{result.mfu:.3f} / {result.hfu:.3f}", "")
    t.add_row("tokens/s", f"{result.tokens_per_s:,.0f}", "")
    t.add_row("model FLOP per step", f"{result.model_flops:.3g}", "")
    for key, value in result.breakdown_s.items():
        t.add_row("  " + key.removesuffix("_s").replace("_", " "), fmt_seconds(value), _pct(value, result.step_time_s))
    mem = result.memory
    if mem is not None:
        t.add_row("memory per device", f"{mem.total / GB:.1f} GB", f"of {mem.capacity / GB:.0f} GB")
        for name in ("weights", "gradients", "optimizer", "activations"):
            t.add_row(f"  {name}", f"{getattr(mem, name) / GB:.1f} GB", "")
    return t


@app.command()
def step(
    scenario: Path | None = typer.Argument(None, help="Scenario TOML (default: the built-in default)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    trace: Path | None = typer.Option(None, "--trace", help="Write a Chrome/Perfetto trace JSON here (a new file)."),
    quiet: bool = QUIET_OPTION,
) -> None:
    """Simulate one training step of a scenario's model, cluster and layout."""
    from simulator.report.trace import chrome_trace

    sc = _scenario(scenario)
    if trace is not None:
        _new_file(trace, "--trace")
    result = simulate_step(sc.model, sc.cluster, sc.layout, default_efficiency(), sc.stack)
    if trace is not None and result.feasible:
        trace.write_text(json.dumps(chrome_trace(result.records, sc.name)))
    if as_json:
        out.print_json(_json({"scenario": sc.name, **result.to_dict()}))
        return
    if not result.feasible:
        out.print(f"{sc.name}: infeasible: {result.reason.value}: {result.detail}")
        return
    if _quiet(quiet):
        out.print(f"{sc.name}: step time {fmt_seconds(result.step_time_s)}, MFU {result.mfu:.3f}"
                  + (f"; trace written to {trace}" if trace is not None else ""), soft_wrap=True)
        return
    out.print(step_table(result, f"{sc.name}: {sc.model.name} on {sc.cluster.n_devices} x {sc.cluster.accelerator.name}"))
    if trace is not None:
        out.print(f"trace written to {trace}", soft_wrap=True)


def _leave_one_source_out(path: Path, as_json: bool, quiet: bool) -> None:
    """`validate --loo`: simulator/measure/calibrate.py's fit and leave-one-source-out, as a table."""
    from simulator.measure.calibrate import fit

    say = (lambda m: None) if (as_json or quiet) else (lambda m: err.print(f"... {m}", markup=False, highlight=False))
    try:
        res = fit(str(path), loo=True, say=say)  # imports scipy before any work
    except ImportError:
        raise BadInput("--loo refits the efficiency parameters and needs scipy: pip install -e '.[dev]'") from None
    if as_json:
        out.print_json(_json({"measurements": str(path), "loo": res}))
        return
    a = res["all"]
    line = (f"{a['rows']} rows: in sample mean |error| {100 * a['in_mean']:.2f}%, max {100 * a['in_max']:.2f}%; "
            f"leave-one-source-out mean {100 * a['loo_mean']:.2f}%, max {100 * a['loo_max']:.2f}%")
    if quiet:
        out.print(line, soft_wrap=True)
        return
    t = Table(title=f"validate --loo: {path}", title_justify="left")
    for col in ("device", "precision", "rows", "in sample mean", "max", "held out mean", "max ", "GEMM eff."):
        t.add_column(col, justify="left" if col in ("device", "precision") else "right")
    for g in res["groups"]:
        t.add_row(g["device"], g["precision"], str(g["rows"]), f"{100 * g['in_mean']:.1f}%",
                  f"{100 * g['in_max']:.1f}%", f"{100 * g['loo_mean']:.1f}%", f"{100 * g['loo_max']:.1f}%",
                  f"{g['gemm']:.3f}" + (" (own fit)" if g["own"] else ""))
    out.print(t)
    for source, (n, mean) in sorted(res["sources"].items()):
        out.print(f"held out {source} ({n} rows): mean |error| {100 * mean:.1f}%", soft_wrap=True)
    out.print(line, soft_wrap=True)


def _kernel_shapes(as_json: bool, quiet: bool, with_measurements: bool) -> None:
    """`validate --kernels`: simulator/measure/kernels.py's fits, row by row."""
    from simulator.measure.kernels import shape_fits

    if with_measurements:
        raise BadInput("--kernels checks the packaged matmul table: not with --measurements or --loo")
    fits = shape_fits(default_efficiency())
    if as_json:
        out.print_json(_json({"gemm_shapes": [dict(f.summary(), rows=[
            {"key": r.key, "m": r.m, "n": r.n, "k": r.k, "published_tflops": r.tflops, "predicted_tflops": p,
             "error": e} for r, p, e in zip(f.rows, f.predicted_tflops, f.errors, strict=True)]) for f in fits]}))
        return
    for f in fits:
        s = f.summary()
        line = (f"{f.library} {f.precision} on {f.device}: {s['rows']} shapes, fitted {100 * f.efficiency:.1f}% of "
                f"peak; roofline median |error| {100 * s['median_abs_error']:.1f}%, max "
                f"{100 * s['max_abs_error']:.1f}%; one constant rate {100 * s['constant_median_abs_error']:.1f}%, "
                f"max {100 * s['constant_max_abs_error']:.1f}%")
        if not quiet:
            t = Table(title=f"validate --kernels: {f.library} {f.precision} on {f.device}", title_justify="left")
            for col in ("m", "n", "k", "published TFLOP/s", "predicted", "error"):
                t.add_column(col, justify="right")
            for r, p, e in zip(f.rows, f.predicted_tflops, f.errors, strict=True):
                t.add_row(str(r.m), str(r.n), str(r.k), f"{r.tflops:g}", f"{p:.0f}", f"{100 * e:+.1f}%")
            out.print(t)
        out.print(line, soft_wrap=True)


@app.command()
def validate(
    measurements: Path | None = typer.Option(
        None, "--measurements", help="CSV in the format of the packaged calibration set (default: that set)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print rows and summary as JSON."),
    fill: str = typer.Option("auto", "--fill", help="Unstated layout fields (tp and pp where a row says nothing "
                             "of the split, ZeRO, micro-batch, recompute, sequence parallelism, interleaving): 'defaults' (the row's stack defaults, else documented "
                             "2021 defaults), 'search' (the fastest feasible choice that keeps every stated "
                             "field) or 'auto' (defaults, searched where they do not fit)."),
    strict: bool = typer.Option(False, "--strict", help="Refuse the file on its first impossible or unreadable "
                                "value (default: that cell is read as unstated, with a warning)."),
    loo: bool = typer.Option(False, "--loo", help="Refit the efficiency parameters on the file's rows and, "
                             "leaving each source out in turn, predict its rows (needs scipy: the dev extra; "
                             "minutes)."),
    kernels: bool = typer.Option(False, "--kernels", help="Instead: the step model's matmul time against published "
                                 "rates by shape (catalog/gemm_shapes.csv), constants fitted per kernel."),
    quiet: bool = QUIET_OPTION,
) -> None:
    """Re-predict published measurements (iteration time, tokens/s per device, MFU or HFU) and report the error."""
    if kernels:
        return _kernel_shapes(as_json, _quiet(quiet), measurements is not None or loo)
    from rich.progress import track

    from simulator.measure.validation import read_rows, summary, unit_warnings
    from simulator.measure.validation import validate as run_validation

    path = measurements if measurements is not None else calibration_csv_path()
    if fill not in ("defaults", "search", "auto"):
        raise BadInput(f"--fill {fill!r}: 'defaults', 'search' or 'auto'")
    warnings: list[str] = []
    try:
        raw = read_rows(path, strict=strict, warnings=warnings)
    except ValueError as exc:
        raise BadInput(f"--measurements {exc}") from None
    for w in warnings:  # one line per cell read as unstated
        err.print(f"warning: {w}", soft_wrap=True, markup=False, highlight=False)
    if loo:
        return _leave_one_source_out(path, as_json, _quiet(quiet))
    eff = default_efficiency()
    rows = []
    quiet = _quiet(quiet)
    bar = _no_progress(as_json, quiet)
    for r in track(raw, description="validating", console=err, transient=True, disable=bar):
        rows.extend(run_validation([r], eff, fill))
    summ = summary(rows)
    for w in unit_warnings(rows):
        err.print(f"warning: {path}: {w}", soft_wrap=True, markup=False, highlight=False)
    # a row predicted infeasible is a result; a file none of whose rows can be read is bad input
    if not any(not r.skipped or r.skipped.startswith("predicted infeasible") for r in rows):
        why = "; ".join(dict.fromkeys(f"{r.row_id}: {r.skipped}" for r in rows))
        raise BadInput(f"--measurements {path}: no row could be predicted ({why[:300]})")
    if as_json:
        payload = {"measurements": str(path), "summary": summ, "rows": [r.to_dict() for r in rows]}
        out.print_json(_json(payload))
        return
    if not quiet:
        _print_validation(rows, path)
    out.print(f"{summ['predicted']} rows predicted, {summ['skipped']} skipped: mean |error| "
              f"{100 * summ['mean_abs_rel_error']:.2f}%, max {100 * summ['max_abs_rel_error']:.2f}%"
              if summ["predicted"] else f"no row predicted, {summ['skipped']} skipped (see the reasons)", soft_wrap=True)


def _print_validation(rows, path: Path) -> None:
    """`simulator validate`'s table: each predicted row against its measurement, then the skipped rows."""
    t = Table(title=f"validate: {path}", title_justify="left")
    for col in ("id", "model", "GPUs", "layout", "metric", "measured", "predicted", "error", "defaulted"):
        t.add_column(col, justify="right" if col in ("GPUs", "measured", "predicted", "error") else "left")
    for r in rows:
        if r.skipped:
            continue
        t.add_row(
            r.row_id, r.model, str(r.n_devices), r.layout, r.metric, f"{r.measured:.4g}", f"{r.predicted:.4g}",
            f"{100 * r.rel_error:+.1f}%", ", ".join(r.defaulted),
        )
    out.print(t)
    for r in rows:
        if r.skipped:
            out.print(f"skipped {r.row_id}: {r.skipped}")


def _layout_dict(layout) -> dict:
    return {
        "devices": layout.n_devices, **{k: getattr(layout, k) for k in DIMENSION_KEYS},
        "micro_batch": layout.micro_batch, "schedule": layout.schedule.value,
        "virtual_stages": layout.virtual_stages, "recompute": layout.recompute.value,
        "sequence_parallel": layout.sequence_parallel, "zero": layout.zero.stage,
        "global_batch": layout.global_batch,
    }  # fmt: skip


SEARCH_OUTPUT_DIR = typer.Option(None, "--output-dir", metavar="DIR", help="With --out (implied): the run folder "
                                 "goes under DIR/search/ instead of outputs/search/ (checked before any work).")


@app.command()
def search(
    scenario: Path | None = typer.Argument(None, help="Scenario TOML with a [search] table (default: built-in)."),
    top: int = typer.Option(10, "--top", min=1, help="Rows of the candidate table to print."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    out_dir: bool = typer.Option(False, "--out", help="Write every candidate as CSV into a new run folder."),
    output_dir: Path | None = SEARCH_OUTPUT_DIR,
    quiet: bool = QUIET_OPTION,
    wide: bool = WIDE_OPTION,
) -> None:
    """Find the fastest feasible parallel layout of a scenario's model on its cluster."""
    from simulator.app.runs import new_run_dir, write_meta, write_scenario
    from simulator.cli.progress import progress
    from simulator.core.specs import SearchSpace
    from simulator.measure.validation import describe
    from simulator.search import search_layouts

    sc = _scenario(scenario)
    out_dir = out_dir or output_dir is not None
    root = _output_root("search", output_dir) if out_dir else None
    quiet = _quiet(quiet)
    space = sc.search or SearchSpace(global_batches=(sc.layout.global_batch,))
    eff = default_efficiency()
    with progress(as_json, quiet) as bar:
        task = bar.add_task("scoring layouts", total=None)
        res = search_layouts(
            sc.model, sc.cluster, sc.layout, space, eff, progress=lambda d, n: bar.update(task, completed=d, total=n)
        )
    baseline = None
    if sc.has_layout:
        from simulator.search.rank import used_cluster

        base_res = simulate_step(sc.model, used_cluster(sc.cluster, sc.layout), sc.layout, eff, sc.stack)
        baseline = {"layout": _layout_dict(sc.layout), "rank": res.rank_of(sc.layout), **base_res.to_dict()}
    run = None
    if out_dir:
        run = new_run_dir("search", root)
        res.frame.to_csv(run / "candidates.csv", index=False)
        write_scenario(run, sc.raw)
        write_meta(run, scenario=sc.origin, evaluated=res.evaluated)
    payload = _search_payload(sc, res, baseline, run)
    if as_json:
        out.print_json(_json(payload))
        return
    if quiet:
        if res.best is None:
            out.print(f"{sc.name}: no feasible layout among {res.evaluated:,} candidates", soft_wrap=True)
        else:
            lay, best = res.best
            out.print(f"{sc.name}: best layout {describe(lay)} on {lay.n_devices} devices: step time "
                      f"{fmt_seconds(best.step_time_s)}, MFU {best.mfu:.3f}", soft_wrap=True)
    else:
        _print_search(sc, res, baseline, top, wide)
    if run:
        out.print(f"candidates written to {run / 'candidates.csv'}", soft_wrap=True)


def _search_payload(sc, res, baseline: dict | None, run: Path | None) -> dict:
    """`simulator search --json`: counts, timings, reasons, the best and top layouts, the scenario's own."""
    return {
        "scenario": sc.name,
        "evaluated": res.evaluated,
        "feasible": res.n_feasible,
        "scoring_s": res.scoring_s,
        "candidates_per_s": res.evaluated / res.scoring_s if res.scoring_s else None,
        "total_s": res.total_s,
        "reason_counts": res.reason_counts,
        "best": None if res.best is None else {"layout": _layout_dict(res.best[0]), **res.best[1].to_dict()},
        "top": [{"layout": _layout_dict(lay), **r.to_dict()} for lay, r in res.top],
        "baseline": baseline,
        "run_dir": str(run) if run else None,
    }


from simulator.cli import catalog_cmd, compare_cmd, explore, trend  # noqa: F401  (register the commands)


def _print_search(sc, res, baseline: dict | None, top: int, wide: bool) -> None:
    """`simulator search`'s tables: the best layout's step, the top candidates, the reasons, the scenario's own layout."""
    from simulator.measure.validation import describe

    out.print(
        f"{sc.name}: {res.evaluated:,} candidates scored in {res.scoring_s:.2f} s "
        f"({res.evaluated / max(res.scoring_s, 1e-9):,.0f}/s), {res.n_feasible:,} feasible"
    )
    if res.best is None:
        out.print("no feasible layout; candidates ruled out by reason:")
    else:
        lay, best = res.best
        out.print(f"best layout (event engine, top {len(res.top)} re-simulated): {describe(lay)} on {lay.n_devices} devices")
        out.print(step_table(best, f"{sc.model.name}, global batch {lay.global_batch}"))
        batches = sorted(set(res.frame.global_batch))
        t = Table(title=f"top {top} by closed form" + (f", global batch {batches[0]}" if len(batches) == 1 else ""),
                  title_justify="left")
        cols = ["devices", *DIMENSION_KEYS, "micro_batch", "schedule", "virtual_stages", "recompute",
                "sequence_parallel", "zero", "offload", "site_split", "global_batch", "memory_gb", "step_time_s",
                "mfu"]  # fmt: skip
        if not wide:  # 80 columns: the schedule with its virtual stages, flags as words
            cols = [*DIMENSION_KEYS, "micro_batch", "schedule", "recompute", "sequence_parallel", "zero",
                    "offload", "site_split", "global_batch", "memory_gb", "step_time_s", "mfu"]  # fmt: skip
        cols = [c for c in cols if c not in (*OPTIONAL_DIMENSIONS, "offload")
                or (res.frame[c] > (0 if c == "offload" else 1)).any()]
        cols = [c for c in cols if c != "site_split" or (res.frame.site_split != "dp").any()]
        if not wide and res.frame.global_batch.nunique() == 1:
            cols.remove("global_batch")  # one batch: it is in the title
        short = {"micro_batch": "mb", "schedule": "sched", "recompute": "rc", "sequence_parallel": "sp",
                 "global_batch": "batch", "memory_gb": "GB", "step_time_s": "step s", "virtual_stages": "v",
                 "offload": "offl", "site_split": "sites"}
        for c in cols:
            t.add_column(c.replace("_", " ") if wide else short.get(c, c), justify="right")

        def cell(row, c):
            """One cell of the top-candidates table (short forms unless --wide)."""
            v = getattr(row, c)
            if not wide and c == "schedule":
                return {"interleaved": f"i{row.virtual_stages}", "1f1b": "1f1b", "gpipe": "gpipe"}[v]
            if not wide and c == "recompute":
                return {"selective": "sel"}.get(v, v)
            if not wide and isinstance(v, (bool, np.bool_)):
                return "yes" if v else "-"
            return f"{v:.3g}" if isinstance(v, float) else str(v)

        for row in res.frame[res.frame.reason == ""].head(top).itertuples():
            t.add_row(*(cell(row, c) for c in cols))
        out.print(protect_numbers(t))
    for reason, count in res.reason_counts.items():
        out.print(f"  {count:>9,}  {reason}")
    if baseline is not None:
        rank = baseline["rank"]
        where = f"rank {rank} of {res.n_feasible}" if rank else f"not feasible here ({baseline['detail'] or 'outside the space'})"
        out.print(f"the scenario's own layout {describe(sc.layout)}: {where}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the app; bad input -> one line on stderr and exit code 2.

    A bare `simulator` prints the help and exits 0, like `simulator --help`.
    """
    from simulator.app.runs import MADE, OutputError, mark_interrupted

    args = list(sys.argv[1:] if argv is None else argv)
    MADE.clear()
    old_term = _term_as_interrupt()
    try:
        code = app(args=args or ["--help"], standalone_mode=False, prog_name="simulator")
        if code == INTERRUPTED_EXIT:  # typer turns Ctrl-C into exit code 130 (returned, not standalone)
            return _interrupted(mark_interrupted())
    except KeyboardInterrupt:  # one outside typer's own handling
        return _interrupted(mark_interrupted())
    except (BadInput, OutputError) as exc:
        err.print(f"error: {exc}", soft_wrap=True)
        return 2
    except UsageError as exc:
        message = exc.format_message()
        if not message.strip():  # e.g. a group's help already printed (no_args_is_help)
            return 0
        err.print(f"error: {message}", soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 1
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return code if isinstance(code, int) else 0


#: The exit code of a command stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report it).
INTERRUPTED_EXIT = 130


def _interrupted(marked: list) -> int:
    where = f"; {', '.join(map(str, marked))} marked incomplete" if marked else ""
    err.print(f"interrupted{where}", soft_wrap=True)
    return INTERRUPTED_EXIT


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _term_as_interrupt():
    """SIGTERM stops a command as Ctrl-C does (worker processes ended, run folders marked);
    the previous handler, or None off the main thread (where signals cannot be set)."""
    try:
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:
        return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
