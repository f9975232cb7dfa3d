"""Figure of a projection: median and 10-90% band of the largest run per year."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from simulator.report.figures import pyplot, save
from simulator.units import PFS_DAY_FLOP


def plot_projection(table: pd.DataFrame, path: Path, history: pd.DataFrame | None = None,
                    title: str = "Projected largest training run") -> Path:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(10, 6), dpi=120)
    if history is not None and len(history):
        ok = history[history.feasible]
        years = pd.to_datetime(ok["date"]).dt.year + (pd.to_datetime(ok["date"]).dt.month - 1) / 12
        ax.plot(years, ok["pfs_days"], color="0.4", lw=1.2, label="simulated frontier (history)")
    x = table["year"] + 0.5
    ax.fill_between(x, table["flop_p10"] / PFS_DAY_FLOP, table["flop_p90"] / PFS_DAY_FLOP, color="tab:blue",
                    alpha=0.25, label="10-90% of samples")
    ax.plot(x, table["flop_median"] / PFS_DAY_FLOP, color="tab:blue", lw=2, label="median")
    if "effective_flop_median" in table:
        ax.plot(x, table["effective_flop_median"] / PFS_DAY_FLOP, color="tab:green", ls="--", lw=1.5,
                label="median x algorithmic efficiency (effective compute)")
    ax.set_yscale("log")
    ax.set_ylabel("training compute (petaflop/s-days)")
    ax.set_xlabel("year")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return save(fig, path)
