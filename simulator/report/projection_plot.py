"""Figure of a projection: median and 10-90% band of the largest run per year.

The simulated history and the projection are one curve: the projection's first row is
the start run (the simulated frontier at the start date; a table that does not begin
there is joined to `start` or the history's last point), with the 10-90% band of the
samples after it. Markers are coloured by the constraint that binds (the history's solver,
first under a 2x relaxation; in the projection the most common lowest ceiling among the
samples). The legend sits beside the axes.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from simulator.core.units import PFS_DAY_FLOP
from simulator.report.figures import legend_outside, pyplot, save
from simulator.report.frontier_plot import COLOURS


def _year(d) -> float:
    """A date as a fractional year (2025-07-01 -> 2025.5), the x of the figure."""
    t = pd.Timestamp(d)
    return t.year + (t.day_of_year - 1) / (366 if t.is_leap_year else 365)


def projection_figure(table: pd.DataFrame, history: pd.DataFrame | None = None,
                      title: str = "Projected largest training run", start: tuple[date, float] | None = None):
    """The figure (not saved). `start`: (date, FLOP) of the run the projection starts from."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(11.5, 6), dpi=120)
    hx, hy = [], []
    if history is not None and len(history):
        ok = history[history.feasible.astype(bool)]
        hx, hy = [_year(d) for d in ok["date"]], list(ok["pfs_days"])
    if start is not None:
        x0, y0 = _year(start[0]), start[1] / PFS_DAY_FLOP
        if hx and x0 > hx[-1]:
            hx, hy = [*hx, x0], [*hy, y0]
    elif hx:
        x0, y0 = hx[-1], hy[-1]
    else:
        x0 = y0 = None
    if hx:
        ax.plot(hx, hy, color="0.4", lw=1.2, label="simulated frontier (history)", zorder=1)
    x = list(table["year"] + 0.5)  # the projection's years are mid-year dates
    joined = x0 is not None and not (len(x) and abs(x[0] - x0) < 0.01)  # the table's first row is not the start

    def curve(values) -> list:
        """FLOP values in petaflop/s-days, joined to the history's last point when asked."""
        ys = list(values / PFS_DAY_FLOP)
        return [y0, *ys] if joined else ys

    xs = [x0, *x] if joined else x
    ax.fill_between(xs, curve(table["flop_p10"]), curve(table["flop_p90"]), color="tab:blue", alpha=0.2,
                    label="10-90% of samples")
    ax.plot(xs, curve(table["flop_median"]), color="tab:blue", lw=2, label="median", zorder=1)
    # markers coloured by the constraint that binds (history: the solver's first under a 2x relaxation;
    # projection: the most common lowest ceiling among the samples; the start year is the history's)
    points = []
    if history is not None and len(history) and "primary_binding" in history:
        ok = history[history.feasible.astype(bool)]
        points += [(_year(d), f / PFS_DAY_FLOP, str(b)) for d, f, b in zip(ok["date"], ok["flop"],
                                                                            ok["primary_binding"].fillna(""))]
    if "primary_binding" in table:
        points += [(xi, f / PFS_DAY_FLOP, str(b)) for xi, f, b in zip(x, table["flop_median"],
                                                                     table["primary_binding"].fillna("")) if b]
    for name in dict.fromkeys(b for *_, b in points):
        px, py = zip(*[(a, b) for a, b, c in points if c == name])
        ax.scatter(px, py, s=20, color=COLOURS.get(name, "tab:gray"), zorder=3,
                   label=f"binds: {name or 'none'}")
    if x0 is not None:
        ax.axvline(x0, color="0.6", lw=0.8, ls=":", zorder=0)
        ax.annotate("projection starts (markers: the most common lowest ceiling)", (x0, 0.02), xycoords=("data", "axes fraction"), xytext=(3, 0),
                    textcoords="offset points", fontsize=7, color="0.4")
    ax.set_yscale("log")
    ax.set_ylabel("training compute (petaflop/s-days)")
    ax.set_xlabel("year")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    legend_outside(ax, fontsize=8)
    return fig


def plot_projection(table: pd.DataFrame, path: Path, history: pd.DataFrame | None = None,
                    title: str = "Projected largest training run", start: tuple[date, float] | None = None) -> Path:
    """Save the figure to `path` (PNG) and return it. `start`: (date, FLOP) of the start run."""
    return save(projection_figure(table, history, title, start), path)
