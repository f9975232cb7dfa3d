"""The reproduction figure, in the style of OpenAI's "AI and Compute" chart.

Log petaflop/s-days against date: the simulated frontier (markers coloured by the
binding constraint), the published points of "AI and Compute" (first era and modern),
Epoch AI's notable runs, and each era's fitted line labelled with its doubling time.
The legend sits beside the axes; the landmark labels never overlap a marker or each
other. A range with no feasible run draws no axis: the figure says so in words.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from simulator.report.figures import legend_outside, nothing_to_draw, place_labels, pyplot, save, text_column
from simulator.report.frontier_plot import COLOURS, no_feasible_run
from simulator.units import PFS_DAY_FLOP

#: Published systems labelled on the figure.
LANDMARKS = ("AlexNet", "AlphaGo Zero", "Perceptron (Mark I)", "Neural Machine Translation (GNMT)")


def _when(d: date) -> pd.Timestamp:
    return pd.Timestamp(d)


def reproduction_figure(rep, notable=(), title: str = "Training compute of the largest feasible run"):
    """The figure of a `Reproduction` (not saved): see the module doc."""
    import matplotlib.dates as mdates

    frame = rep.frame
    ok = frame[frame.feasible.astype(bool)].copy() if len(frame) else frame
    if not len(ok):
        return nothing_to_draw(title, no_feasible_run(frame))
    plt = pyplot()
    ok["when"] = pd.to_datetime(ok["date"])
    fig, ax = plt.subplots(figsize=(13, 6.5), dpi=120)
    ax.plot(ok["when"], ok["pfs_days"], color="0.65", lw=1, zorder=1)
    for constraint, part in ok.groupby(text_column(ok["primary_binding"])):
        ax.scatter(part["when"], part["pfs_days"], s=10, color=COLOURS.get(constraint, "tab:gray"), zorder=2,
                   label=f"simulated frontier, binding: {constraint or 'none'}")
    first = [p for p in rep.points if p.era.startswith("first era")]
    modern = [p for p in rep.points if p.era.startswith("modern")]
    for pts, marker, label in ((first, "s", "published, first era"), (modern, "x", "published, 2012-2018")):
        if pts:
            ax.scatter([_when(p.at) for p in pts], [p.flop / PFS_DAY_FLOP for p in pts], marker=marker,
                       color="black", s=26, zorder=3, label=label)
    if notable:
        ax.scatter([_when(p.at) for p in notable], [p.flop / PFS_DAY_FLOP for p in notable], marker="+",
                   color="tab:olive", s=40, zorder=3, label="notable runs (Epoch AI)")
    last = ok["when"].max().date()
    fits = []
    for fit in rep.fits.values():
        if fit is None:
            continue
        a, b = fit.start, min(fit.end, last)
        xs = [a, b]
        ys = [2 ** fit.log2_at(x) / PFS_DAY_FLOP for x in xs]
        ax.plot([_when(x) for x in xs], ys, ls="--", lw=1.6, color="black", zorder=4)
        fits.append((b, ys[1], f"{fit.doubling_months:.1f}-month doubling"))
    ax.set_yscale("log")
    ax.set_ylabel("training compute (petaflop/s-days)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    span_years = (ok["when"].max() - ok["when"].min()).days / 365.25
    if span_years >= 15:
        ax.xaxis.set_major_locator(mdates.YearLocator(5))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    else:
        from simulator.report.frontier_plot import date_axis

        date_axis(ax)
    legend_outside(ax, fontsize=7)
    fig.tight_layout()
    for b, y, text in fits:  # the doubling times first: bold, left of the fitted line's end
        ax.annotate(text, (_when(b), y), fontsize=8, xytext=(-8, 8), textcoords="offset points", weight="bold",
                    ha="right", va="bottom")
    place_labels(ax, [(_when(p.at), p.flop / PFS_DAY_FLOP, p.system) for p in (*first, *modern)
                      if p.system in LANDMARKS], fontsize=7)
    return fig


def plot_reproduction(rep, path: Path, notable=(), title: str = "Training compute of the largest feasible run") -> Path:
    """Save the figure of a `Reproduction` to `path` (PNG) and return it."""
    return save(reproduction_figure(rep, notable, title), path)
