"""`simulator compare RUN_A RUN_B`: a what-if (B) against its baseline (A), as a table and a figure.

Registered on the shared app when imported (simulator/cli/__init__.py imports it); the
reading, ratios and figure are in simulator/report/compare.py.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from simulator.cli.common import (
    OUTPUT_DIR_OPTION,
    QUIET_OPTION,
    BadInput,
    _json,
    _output_root,
    _quiet,
    _sci,
    app,
    out,
)


def _x(r: float | None) -> str:
    """A ratio as '1.23x' ('-' when there is none: infeasible, or 0 in A)."""
    import math

    if r is None or not isinstance(r, float | int) or not math.isfinite(r) or r < 0:
        return "-"
    return f"{r:.3g}x"


def _num(v) -> str:
    import math

    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    v = float(v)
    if v == int(v) and abs(v) < 1e7:
        return f"{int(v):,}"
    return f"{v:.3g}"


def _mfu(v) -> str:
    import math

    return "-" if v is None or not math.isfinite(v) else f"{v:.2f}"


@app.command("compare")
def compare_runs(
    run_a: Path = typer.Argument(..., metavar="RUN_A", help="The baseline: a run folder of frontier, reproduce or "
                                 "project (or its frontier.csv / projection.csv), or a saved `step --json` file."),
    run_b: Path = typer.Argument(..., metavar="RUN_B", help="The what-if, of the same kind as RUN_A."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    wide: bool = typer.Option(False, "--wide", help="Every column (A and B of each metric, the binding "
                              "constraints), not only the ratios."),
    output_dir: Path | None = OUTPUT_DIR_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Compare a what-if run (B) with its baseline (A): the ratio B/A per date (FLOP, devices, MFU) or per metric."""
    from simulator.app.runs import incomplete, new_run_dir, write_meta
    from simulator.report.compare import FRONTIER, STEP, CompareError, compare, plot_comparison, read_run
    from simulator.report.compare import shown_rows as pick_rows

    for side in (run_a, run_b):  # an interrupted run's folder is not a result
        folder = side if side.is_dir() else side.parent
        if (why := incomplete(folder)) is not None:
            raise BadInput(f"{folder}: {why}")
    try:
        comp = compare(read_run(run_a), read_run(run_b))
    except CompareError as exc:
        raise BadInput(str(exc)) from None
    root = _output_root("compare", output_dir)
    run_dir = new_run_dir("compare", root)
    csv_path, fig_path = run_dir / "compare.csv", run_dir / "compare.png"
    comp.table.to_csv(csv_path, index=False)
    plot_comparison(comp, fig_path)
    summary = {**comp.summary(), "csv": str(csv_path), "figure": str(fig_path)}
    (run_dir / "summary.json").write_text(_json(summary))
    write_meta(run_dir, a=str(run_a), b=str(run_b), kind=comp.kind)
    written = f"written: {csv_path}, {fig_path}, {run_dir / 'summary.json'}"
    if as_json:
        out.print_json(_json({**summary, "run_dir": str(run_dir), "rows": comp.table.to_dict(orient="records")}))
        return
    flop = summary["ratios"].get("flop" if comp.kind != STEP else "value")
    if _quiet(quiet):
        if comp.kind != STEP and flop:
            key = "date" if comp.kind == FRONTIER else "year"
            out.print(f"FLOP B/A over {summary['shared']} shared {key}s: geometric mean {_x(flop['geometric_mean'])}, "
                      f"{_x(flop['min'])} to {_x(flop['max'])}; {written}", soft_wrap=True)
        else:
            out.print(written, soft_wrap=True)
        return
    a_name, b_name = comp.a.scenario or comp.a.label, comp.b.scenario or comp.b.label
    out.print(f"A (baseline): {a_name} ({comp.a.path})", soft_wrap=True)
    out.print(f"B (what-if):  {b_name} ({comp.b.path})", soft_wrap=True)
    t = comp.table
    shown = pick_rows(comp)
    table = _comparison_table(comp, shown, wide)
    out.print(table)
    if len(shown) < len(t):
        out.print(f"({len(shown)} of {len(t)} shared dates shown: the first, the last, the largest changes of the "
                  f"ratio and dates between; all in {csv_path.name})", soft_wrap=True)
    if comp.kind != STEP:
        _print_ratios(comp, summary, flop)
    out.print(written, soft_wrap=True)


def _comparison_table(comp, shown, wide: bool) -> Table:
    """B against A: per metric (step), per year (projection) or per date (frontier)."""
    from simulator.report.compare import FRONTIER, PROJECTION, STEP

    table = Table(title_justify="left")
    if comp.kind == STEP:
        table.title = "B against A, per metric"
        for c in ("metric", "A", "B", "B/A"):
            table.add_column(c, justify="left" if c == "metric" else "right")
        for r in comp.table.itertuples():
            table.add_row(r.metric, _num(r.a_value), _num(r.b_value), _x(r.ratio_value))
    elif comp.kind == PROJECTION:
        table.title = "B against A per year (sample medians)"
        cols = ["year", "FLOP A", "FLOP B", "B/A"] + (["p10 B/A", "p90 B/A"] if wide else [])
        for c in cols:
            table.add_column(c, justify="right")
        for r in shown.itertuples():
            row = [str(r.date), _sci(r.a_flop), _sci(r.b_flop), _x(r.ratio_flop)]
            if wide:
                row += [_x(r.ratio_flop_p10), _x(r.ratio_flop_p90)]
            table.add_row(*row)
    else:
        assert comp.kind == FRONTIER
        table.title = "B against A per date ('-': infeasible in A or B)"
        cols = ["date", "FLOP A", "FLOP B", "FLOP B/A", "devices B/A", "MFU B/A"]
        if wide:
            cols += ["devices A", "devices B", "MFU A", "MFU B", "binding A", "binding B"]
        for c in cols:
            table.add_column(c, justify="left" if c in ("date", "binding A", "binding B") else "right")
        for r in shown.itertuples():
            row = [r.date, _sci(r.a_flop) if r.a_feasible else "infeasible", _sci(r.b_flop) if r.b_feasible
                   else "infeasible", _x(r.ratio_flop), _x(r.ratio_devices), _x(r.ratio_mfu)]
            if wide:
                row += [_num(r.a_devices), _num(r.b_devices), _mfu(r.a_mfu), _mfu(r.b_mfu),
                        r.a_primary_binding or "-", r.b_primary_binding or "-"]
            table.add_row(*row)
    return table


def _print_ratios(comp, summary: dict, flop: dict | None) -> None:
    """The FLOP ratio over the shared dates or years, and what was not compared."""
    from simulator.report.compare import FRONTIER

    key = "date" if comp.kind == FRONTIER else "year"
    if flop:
        out.print(f"FLOP B/A over {summary['shared']} shared {key}s: geometric mean {_x(flop['geometric_mean'])}, "
                  f"smallest {_x(flop['min'])} ({flop[f'min_{key}']}), largest {_x(flop['max'])} "
                  f"({flop[f'max_{key}']}), unchanged at {flop['unchanged']}", soft_wrap=True)
    else:
        out.print(f"no {key} feasible in both A and B: no FLOP ratio", soft_wrap=True)
    extra = []
    if comp.kind == FRONTIER and summary["infeasible_in_a_only"]:
        extra.append(f"{summary['infeasible_in_a_only']} infeasible in A only")
    if comp.kind == FRONTIER and summary["infeasible_in_b_only"]:
        extra.append(f"{summary['infeasible_in_b_only']} infeasible in B only")
    if summary["only_a"] or summary["only_b"]:
        extra.append(f"not compared: {summary['only_a']} {key}s only in A, {summary['only_b']} only in B")
    if extra:
        out.print("; ".join(extra), soft_wrap=True)
