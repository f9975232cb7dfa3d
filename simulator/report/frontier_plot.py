"""Figure of the frontier: petaflop/s-days against date, coloured by binding constraint.

The simulated frontier is a line with one marker per date, the marker's colour the
constraint whose 2x relaxation enlarges the run most; the published points of
"AI and Compute" (catalog/ai_and_compute.csv) are drawn in black for comparison.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from simulator.report.figures import pyplot, save
from simulator.units import PFS_DAY_FLOP

#: One colour per constraint (matplotlib's tab10), the same in every figure.
COLOURS = {"budget": "tab:red", "supply": "tab:blue", "host": "tab:orange", "technique": "tab:brown",
           "batch": "tab:purple", "duration": "tab:green", "memory": "tab:pink", "": "tab:gray"}


def plot_frontier(frame: pd.DataFrame, path: Path, published=(), title: str = "Largest feasible training run") -> Path:
    """Save the figure to `path` (PNG) and return it. `published`: Published points."""
    import matplotlib.dates as mdates

    plt = pyplot()

    ok = frame[frame.feasible].copy()
    ok["when"] = pd.to_datetime(ok["date"])
    fig, ax = plt.subplots(figsize=(10, 6), dpi=120)
    ax.plot(ok["when"], ok["pfs_days"], color="0.6", lw=1, zorder=1, label="simulated frontier")
    for constraint, part in ok.groupby(ok["primary_binding"].fillna("")):
        ax.scatter(part["when"], part["pfs_days"], s=22, color=COLOURS.get(constraint, "tab:gray"), zorder=2,
                   label=f"binding: {constraint or 'none'}")
    lo, hi = ok["when"].min(), ok["when"].max()
    pts = [p for p in published if lo <= pd.Timestamp(p.at) <= hi]
    if pts:
        ax.scatter([pd.Timestamp(p.at) for p in pts], [p.flop / PFS_DAY_FLOP for p in pts], marker="x", color="black",
                   s=30, zorder=3, label="published (AI and Compute)")
        for p in pts:
            ax.annotate(p.system, (pd.Timestamp(p.at), p.flop / PFS_DAY_FLOP), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_yscale("log")
    ax.set_ylabel("training compute (petaflop/s-days)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.legend(fontsize=8, loc="upper left")
    return save(fig, path)
