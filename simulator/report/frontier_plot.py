"""Figure of the frontier: petaflop/s-days against date, coloured by binding constraint.

The simulated frontier is a line with one marker per date, the marker's colour the
constraint whose 2x relaxation enlarges the run most; the published points of
"AI and Compute" (catalog/ai_and_compute.csv) are drawn in black for comparison, each
labelled where its label has room (labels never overlap each other or a marker). The
legend sits beside the axes, off the data. A range with no feasible run draws no axis:
the figure says so in words.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from simulator.core.units import PFS_DAY_FLOP
from simulator.report.figures import legend_outside, nothing_to_draw, place_labels, pyplot, save, text_column

#: One colour per constraint (matplotlib's tab10), the same in every figure.
COLOURS = {"budget": "tab:red", "supply": "tab:blue", "host": "tab:orange", "technique": "tab:brown",
           "batch": "tab:purple", "duration": "tab:green", "memory": "tab:pink", "data": "tab:cyan",
           "power": "tab:olive", "chips": "darkblue", "sites": "goldenrod", "latency": "black", "": "tab:gray"}


def no_feasible_run(frame: pd.DataFrame) -> str:
    """Why there is nothing to draw: the date range and the first date's reason."""
    if frame is None or not len(frame):
        return "No dates in the range: nothing to draw."
    first, last = str(frame["date"].iloc[0]), str(frame["date"].iloc[-1])
    reason = str(frame["reason"].iloc[0]) if "reason" in frame and pd.notna(frame["reason"].iloc[0]) else ""
    span = f"on {first}" if first == last else f"at any of the {len(frame)} dates from {first} to {last}"
    return f"No feasible training run {span}" + (f"\n(at {first}: {reason})." if reason else ".")


def date_axis(ax) -> None:
    """Readable date ticks whatever the span (years for decades, months for a year)."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def frontier_axes(frame: pd.DataFrame, title: str, figsize: tuple[float, float]):
    """(figure, axes, the feasible rows with their dates as `when`) of a frontier's figure, or
    (the figure saying why nothing is drawn, None, None) when no row is feasible."""
    ok = frame[frame.feasible.astype(bool)].copy() if len(frame) else frame
    if not len(ok):
        return nothing_to_draw(title, no_feasible_run(frame)), None, None
    ok["when"] = pd.to_datetime(ok["date"])
    fig, ax = pyplot().subplots(figsize=figsize, dpi=120)
    return fig, ax, ok


def frontier_figure(frame: pd.DataFrame, published=(), title: str = "Largest feasible training run"):
    """The figure (not saved): see the module doc."""
    fig, ax, ok = frontier_axes(frame, title, (11.5, 6))
    if ax is None:
        return fig
    ax.plot(ok["when"], ok["pfs_days"], color="0.6", lw=1, zorder=1, label="simulated frontier")
    for constraint, part in ok.groupby(text_column(ok["primary_binding"])):
        ax.scatter(part["when"], part["pfs_days"], s=22, color=COLOURS.get(constraint, "tab:gray"), zorder=2,
                   label=f"binding: {constraint or 'none'}")
    lo, hi = ok["when"].min(), ok["when"].max()
    pts = [p for p in published if lo <= pd.Timestamp(p.at) <= hi]
    if pts:
        ax.scatter([pd.Timestamp(p.at) for p in pts], [p.flop / PFS_DAY_FLOP for p in pts], marker="x", color="black",
                   s=30, zorder=3, label="published (AI and Compute)")
    ax.set_yscale("log")
    ax.set_ylabel("training compute (petaflop/s-days)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.margins(x=0.04, y=0.08)
    date_axis(ax)
    legend_outside(ax, fontsize=8)
    fig.tight_layout()
    if pts:
        place_labels(ax, [(pd.Timestamp(p.at), p.flop / PFS_DAY_FLOP, p.system) for p in pts], fontsize=6)
    return fig


def plot_frontier(frame: pd.DataFrame, path: Path, published=(), title: str = "Largest feasible training run") -> Path:
    """Save the figure to `path` (PNG) and return it. `published`: Published points."""
    return save(frontier_figure(frame, published, title), path)
