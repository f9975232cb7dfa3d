"""The reproduction's figures: the frontier against "AI and Compute", and what moves it.

`reproduction_figure`: log petaflop/s-days against date. The frontier every scored run's
facts withheld (markers coloured by the binding constraint, at the median inputs), its
5th-95th percentile band over the input draws, the published points of "AI and
Compute" and Epoch AI's notable runs (a red ring on each run above the frontier's 95th
percentile at its date, its own facts withheld), and each era's fitted line over the
published fit's window, labelled with its median doubling time and band. The legend
sits beside the axes; the landmark labels never overlap a marker or each other.

`sensitivity_figure`: one tornado per headline figure: the ten inputs that move it most,
each bar from the figure at the input's 5th to its 95th percentile (others at their
medians), against the figure at the median inputs and the published value.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.core.units import PFS_DAY_FLOP
from simulator.report.figures import legend_outside, nothing_to_draw, place_labels, pyplot, save, text_column
from simulator.report.frontier_plot import COLOURS, frontier_axes

#: Published systems labelled on the figure (run ids).
LANDMARKS = ("alexnet", "alphago_zero", "perceptron", "gnmt", "td_gammon")
def _when(d) -> pd.Timestamp:
    return pd.Timestamp(d)


def _band(rep) -> pd.DataFrame:
    """The 5th, 50th and 95th percentile of the frontier over the draws at each grid date."""
    keys = sorted({k for d in rep.drawn for k in d if k.startswith("series:")})
    rows = []
    for k in keys:
        v = np.array([d.get(k, math.nan) for d in rep.drawn], float)
        v = v[np.isfinite(v) & (v > 0)]
        if len(v):
            lo, mid, hi = np.percentile(v, [5, 50, 95])
            rows.append({"when": pd.Timestamp(k.split(":", 1)[1]), "lo": lo, "mid": mid, "hi": hi})
    return pd.DataFrame(rows)


def _published_points(ax, rep) -> tuple[list, list]:
    """The published runs by group, those above the frontier's 95th percentile ringed; the first
    era's and the modern era's points (for the landmarks' labels)."""
    from simulator.frontier.series import scored_points

    ceiling = {c["file"] + ":" + c["run"]: c for c in rep.ceiling()}
    pts = list(scored_points())
    first = [p for p in pts if p.era.startswith("first era")]
    modern = [p for p in pts if p.era.startswith("modern")]
    notable = [p for p in pts if p.era.startswith("notable")]
    recent = [p for p in pts if p.era.startswith("post-2018")]
    for group, marker, colour, label in ((first, "s", "black", "published, first era"),
                                         (modern, "x", "black", "published, 2012-2018 (AI and Compute)"),
                                         (notable, "+", "tab:olive", "notable runs 2012-2018 (Epoch AI)"),
                                         (recent, "^", "tab:brown", "frontier runs after 2018 (Epoch AI)")):
        if group:
            ax.scatter([_when(p.at) for p in group], [p.flop / PFS_DAY_FLOP for p in group], marker=marker,
                       color=colour, s=30, zorder=3, label=label)
    above = [p for p in pts if not ceiling.get(p.key, {}).get("under", True)]
    if above:
        ax.scatter([_when(p.at) for p in above], [p.flop / PFS_DAY_FLOP for p in above], s=150, facecolors="none",
                   edgecolors="tab:red", lw=1.4, zorder=4, label="above the frontier's 95th percentile")
    return first, modern


def _fitted_rates(ax, rep, band: pd.DataFrame) -> list[tuple]:
    """Each era's fitted rate over the draws' median, drawn dashed; its label (end, y, text)."""
    from simulator.trend.reproduce import windows

    s = rep.summary()
    labels = []
    for era, (a, b, _) in windows().items():
        key = "post_2018_growth_per_year" if era == "post_2018" else f"{era}_doubling_months"
        part = band[(band.when >= _when(a)) & (band.when < _when(b))] if len(band) else band
        if len(part) < 2 or s.get(f"{key}_median") is None:
            continue
        x = np.array([p.toordinal() / 365.25 for p in part["when"]])
        y = np.log2(part["mid"].to_numpy() / PFS_DAY_FLOP)
        slope, icpt = np.polyfit(x, y, 1)
        ends = [part["when"].iloc[0], part["when"].iloc[-1]]
        ys = [2 ** (icpt + slope * (e.toordinal() / 365.25)) for e in ends]
        ax.plot(ends, ys, ls="--", lw=1.6, color="black", zorder=5)
        lo, hi = s[f"{key}_band"]
        unit = "x a year" if era == "post_2018" else "-month doubling"
        labels.append((ends[1], ys[1], f"{s[f'{key}_median']:.1f}{unit} [{lo:.1f}, {hi:.1f}]"))
    return labels


def reproduction_figure(rep, title: str = "Training compute of the largest feasible run"):
    """The figure of a `Reproduction` (not saved): see the module doc."""
    import matplotlib.dates as mdates

    from simulator.trend.reproduce import windows

    fig, ax, ok = frontier_axes(rep.frame, title, (13, 6.5))
    if ax is None:
        return fig
    band = _band(rep)
    if len(band):
        for era, (a, b, _) in windows().items():
            part = band[(band.when >= _when(a)) & (band.when < _when(b))]
            ax.fill_between(part["when"], part["lo"] / PFS_DAY_FLOP, part["hi"] / PFS_DAY_FLOP, color="tab:blue",
                            alpha=0.15, lw=0, zorder=0, label="5th-95th percentile over the draws" if era == "first_era"
                            else None)
    ax.plot(ok["when"], ok["pfs_days"], color="0.6", lw=1, zorder=1)
    binding = ok[text_column(ok["primary_binding"]) != ""]
    for constraint, part in binding.groupby(text_column(binding["primary_binding"])):
        ax.scatter(part["when"], part["pfs_days"], s=12, color=COLOURS.get(constraint, "tab:gray"), zorder=2,
                   label=f"frontier (facts withheld), binding: {constraint}")
    first, modern = _published_points(ax, rep)
    labels = _fitted_rates(ax, rep, band)
    ax.set_yscale("log")
    ax.set_ylabel("training compute (petaflop/s-days)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.xaxis.set_major_locator(mdates.YearLocator(5))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    legend_outside(ax, fontsize=7)
    fig.tight_layout()
    for b, y, text in labels:  # the fitted rates: bold, left of the fitted line's end
        ax.annotate(text, (b, y), fontsize=8, xytext=(-8, 8), textcoords="offset points", weight="bold",
                    ha="right", va="bottom")
    seen = set()
    marks = []
    for p in (*first, *modern):
        if p.run_id in LANDMARKS and p.run_id not in seen:
            seen.add(p.run_id)
            marks.append((_when(p.at), p.flop / PFS_DAY_FLOP, p.system))
    place_labels(ax, marks, fontsize=7)
    return fig


def plot_reproduction(rep, path: Path, title: str = "Training compute of the largest feasible run") -> Path:
    """Save the figure of a `Reproduction` to `path` (PNG) and return it."""
    return save(reproduction_figure(rep, title), path)


def sensitivity_figure(rep):
    """The tornado of each headline figure (module doc); a figure in words without draws."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from simulator.trend.reproduce import FIGURES, HEADLINE, PUBLISHED

    if not rep.swings:
        return nothing_to_draw("What moves the headline figures", "No input draws (--samples 0): no sensitivity.")
    plt = pyplot()
    titles = {f.key: f"{f.label} ({f.unit.strip()})" for f in FIGURES}
    keys = [k for k in HEADLINE if k in rep.swings]
    fig, axes = plt.subplots(len(keys), 1, figsize=(11, 2.3 * len(keys) + 0.6), dpi=120)
    for ax, key in zip(np.atleast_1d(axes), keys):
        swings = [w for w in rep.swings[key] if math.isfinite(w.effect)][:10][::-1]
        base = rep.figures.get(key, math.nan)
        for i, w in enumerate(swings):
            lo, hi = sorted((w.low, w.high))
            ax.barh(i, hi - lo, left=lo, color="tab:blue", alpha=0.7, height=0.6)
        ax.set_yticks(range(len(swings)), [w.key for w in swings], fontsize=7)
        if math.isfinite(base):
            ax.axvline(base, color="black", lw=1, label="at the median inputs")
        ax.axvline(PUBLISHED[key][0], color="tab:red", lw=1, ls="--", label="published")
        ax.set_xscale("log")
        ends = [v for w in swings for v in (w.low, w.high)] + [base, PUBLISHED[key][0]]
        ends = [v for v in ends if v is not None and math.isfinite(v) and v > 0]
        if ends:  # every bar and both lines in view
            ax.set_xlim(min(ends) / 1.05, max(ends) * 1.05)
        plain = FuncFormatter(lambda v, _: f"{v:.3g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain if max(ends, default=1) / min(ends, default=1) < 10 else NullFormatter())
        ax.set_title(f"{titles[key]}: each input from its 5th to its 95th percentile", fontsize=9)
        ax.tick_params(axis="x", which="both", labelsize=7)
        legend_outside(ax, fontsize=7)
    return fig


def plot_sensitivity(rep, path: Path) -> Path:
    """The sensitivity figure of a reproduction, saved to `path`."""
    return save(sensitivity_figure(rep), path)
