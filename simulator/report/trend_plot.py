"""The reproduction figure, in the style of OpenAI's "AI and Compute" chart.

Log petaflop/s-days against date: the simulated frontier (markers coloured by the
binding constraint), the published points of "AI and Compute" (first era and modern),
Epoch AI's notable runs, and each era's fitted line labelled with its doubling time.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from simulator.report.figures import pyplot, save
from simulator.report.frontier_plot import COLOURS
from simulator.units import PFS_DAY_FLOP


def _when(d: date) -> pd.Timestamp:
    return pd.Timestamp(d)


def plot_reproduction(rep, path: Path, notable=(), title: str = "Training compute of the largest feasible run") -> Path:
    """Save the figure of a `Reproduction` to `path` (PNG) and return it."""
    import matplotlib.dates as mdates

    plt = pyplot()

    ok = rep.frame[rep.frame.feasible].copy()
    ok["when"] = pd.to_datetime(ok["date"])
    fig, ax = plt.subplots(figsize=(11, 6.5), dpi=120)
    ax.plot(ok["when"], ok["pfs_days"], color="0.65", lw=1, zorder=1)
    for constraint, part in ok.groupby(ok["primary_binding"].fillna("")):
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
    for p in (*first, *modern):
        if p.system in ("AlexNet", "AlphaGo Zero", "Perceptron (Mark I)", "Neural Machine Translation (GNMT)"):
            ax.annotate(p.system, (_when(p.at), p.flop / PFS_DAY_FLOP), fontsize=7, xytext=(4, -10),
                        textcoords="offset points")
    last = ok["when"].max().date()
    for fit in rep.fits.values():
        if fit is None:
            continue
        a, b = fit.start, min(fit.end, last)
        xs = [a, b]
        ys = [2 ** fit.log2_at(x) / PFS_DAY_FLOP for x in xs]
        ax.plot([_when(x) for x in xs], ys, ls="--", lw=1.6, color="black", zorder=4)
        ax.annotate(f"{fit.doubling_months:.1f}-month doubling", (_when(b), ys[1]), fontsize=8, xytext=(-120, 8),
                    textcoords="offset points", weight="bold")
    ax.set_yscale("log")
    ax.set_ylabel("training compute (petaflop/s-days)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.xaxis.set_major_locator(mdates.YearLocator(5))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.legend(fontsize=7, loc="upper left")
    return save(fig, path)
