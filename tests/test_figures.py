"""Figures a reader can read: each test here failed on a defect that was seen in a real figure.

Checked on the figure objects (after the layout the saved PNG gets): size in pixels, legends
clear of the data (beside the axes or in a free corner), labels that overlap neither each other
nor a marker, no axis of "1970" ticks when there is nothing to draw, and a projection that starts
where its history ends.
"""

from __future__ import annotations

import itertools
from datetime import date
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from simulator.core.units import PFS_DAY_FLOP
from simulator.engine.pipeline import BACKWARD, DP_REDUCE, FORWARD, OPTIMIZER, SEND
from simulator.frontier.series import published
from simulator.report.explain import gantt, gantt_figure, memory_figure, scaling_figure
from simulator.report.figures import pyplot
from simulator.report.frontier_plot import frontier_figure
from simulator.report.projection_plot import projection_figure
from simulator.report.trend_plot import reproduction_figure, sensitivity_figure
from simulator.trend.reproduce import HEADLINE, Reproduction
from simulator.trend.uncertainty import Swing

GB = 1e9


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    pyplot().close("all")


def laid_out(fig):
    """The figure as saved: laid out and drawn (text extents are known after a draw)."""
    fig.tight_layout()
    fig.canvas.draw()
    return fig


def data_boxes(ax) -> list:
    """Display boxes of everything the axes plot: line vertices, scatter markers, bars, bands."""
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import Bbox

    renderer = ax.figure.canvas.get_renderer()
    boxes = []

    def points(xy, transform, half: float) -> None:  # a box of `half` pixels around each finite point
        for x, y in (transform.transform(xy) if len(xy) else ()):
            if np.isfinite(x) and np.isfinite(y):
                boxes.append(Bbox.from_extents(x - half, y - half, x + half, y + half))

    for line in ax.get_lines():
        points(line.get_xydata(), line.get_transform(), 2)
    for coll in ax.collections:
        if isinstance(coll, PolyCollection):
            boxes.append(coll.get_window_extent(renderer))
        else:
            points(coll.get_offsets(), coll.get_offset_transform(), 3)
    for patch in ax.patches:
        if isinstance(patch, Rectangle) and patch.get_width() != 0:
            boxes.append(patch.get_window_extent(renderer))
    return boxes


def assert_legend_clear_of_data(ax) -> None:
    legend = ax.get_legend()
    assert legend is not None
    box = legend.get_window_extent(ax.figure.canvas.get_renderer())
    covered = [b for b in data_boxes(ax) if box.overlaps(b)]
    assert not covered, f"the legend at {box} covers {len(covered)} plotted items, first {covered[0]}"


def assert_legend_outside(ax) -> None:
    renderer = ax.figure.canvas.get_renderer()
    legend, frame = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
    assert not legend.overlaps(frame), f"legend {legend} overlaps the axes {frame}"
    fig_box = ax.figure.bbox
    assert legend.x0 >= fig_box.x0 - 1 and legend.x1 <= fig_box.x1 + 1 and legend.y0 >= fig_box.y0 - 1, \
        "legend outside the figure: cut off in the PNG"


def assert_texts_do_not_overlap(ax) -> list:
    renderer = ax.figure.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_visible() and t.get_text()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    for (a, ba), (b, bb) in itertools.combinations(boxes, 2):
        assert not ba.overlaps(bb), f"labels {a!r} and {b!r} overlap"
    return boxes


def tick_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels() if t.get_text()]


# ------------------------------------------------------------------ Gantt and memory (explain)
def _records(stages: int, micro: int = 4) -> list[tuple]:
    recs = []
    for s in range(stages):
        for mb in range(micro):
            t0 = 0.1 * (s + mb)
            recs += [(s, FORWARD, 0, mb, t0, t0 + 0.09), (s, SEND, 0, mb, t0 + 0.09, t0 + 0.1)]
            t1 = 1.0 + 0.2 * (stages - 1 - s + mb)
            recs.append((s, BACKWARD, 0, mb, t1, t1 + 0.18))
        recs += [(s, DP_REDUCE, 0, 0, 2.2, 2.5), (s, OPTIMIZER, 0, 0, 2.5, 2.55)]
    return recs


def test_gantt_of_a_single_stage_is_readable(tmp_path):
    """pp = 1 drew a 90-px-tall strip with the legend over its only row."""
    path = gantt(_records(1), tmp_path / "gantt.png", "pp = 1")
    height, width = pyplot().imread(path).shape[:2]
    assert height >= 300 and width >= 1000
    fig = laid_out(gantt_figure(_records(1), "pp = 1"))
    ax = fig.axes[0]
    assert ax.get_window_extent().height >= 150  # the axes themselves, not just the figure
    assert_legend_outside(ax)
    assert_legend_clear_of_data(ax)


def test_gantt_legend_leaves_stage_0_visible():
    """The legend sat in the upper right, over stage 0's backward passes and collectives."""
    fig = laid_out(gantt_figure(_records(4), "pp = 4"))
    ax = fig.axes[0]
    assert_legend_outside(ax)
    assert_legend_clear_of_data(ax)
    # stage 0 on top
    assert next(t.get_text() for t in ax.get_yticklabels()) == "stage 0 compute"
    assert ax.get_ylim()[0] > ax.get_ylim()[1]


def test_memory_legend_does_not_cover_the_bars():
    m = SimpleNamespace(weights=20 * GB, gradients=20 * GB, optimizer=30 * GB, activations=8 * GB, capacity=80 * GB)
    fig = laid_out(memory_figure(SimpleNamespace(memory=m), "memory"))
    ax = fig.axes[0]
    assert_legend_outside(ax)
    assert_legend_clear_of_data(ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("weights") and labels[-1].startswith("capacity")


def test_scaling_legend_does_not_cover_the_curves():
    rows = [{"family": f, "devices": 2 ** k, "mfu": m - 0.03 * k, "step_time_s": 500 / 2 ** k}
            for f, m in (("data parallel", 0.40), ("tensor + data", 0.50), ("3D", 0.57)) for k in range(6, 13)]
    fig = laid_out(scaling_figure(pd.DataFrame(rows), "scaling"))
    for ax in fig.axes:
        if ax.get_legend() is not None:
            assert_legend_outside(ax)
            assert_legend_clear_of_data(ax)


# ------------------------------------------------------------------ frontier and reproduction
def _frontier_frame(start: date, end: date, months: int = 3, feasible: bool = True) -> pd.DataFrame:
    rows, at, k = [], start, 0
    while at <= end:
        rows.append({"date": at.isoformat(), "feasible": feasible, "pfs_days": 1e-3 * 3.0 ** k if feasible else np.nan,
                     "flop": 1e-3 * 3.0 ** k * PFS_DAY_FLOP if feasible else np.nan,
                     "primary_binding": ("supply", "batch", "budget")[k % 3] if feasible else "",
                     "reason": "" if feasible else f"no device on sale at {at}"})
        k += 1
        at = date(at.year + (at.month - 1 + months) // 12, (at.month - 1 + months) % 12 + 1, 1)
    return pd.DataFrame(rows)


def test_frontier_labels_of_published_points_do_not_overlap():
    """VGG/Seq2Seq, GoogLeNet/Learning to Align... were drawn on top of each other."""
    frame = _frontier_frame(date(2012, 1, 1), date(2018, 1, 1))
    fig = laid_out(frontier_figure(frame, published(), "frontier"))
    ax = fig.axes[0]
    boxes = assert_texts_do_not_overlap(ax)
    n_points = sum(1 for p in published() if date(2012, 1, 1) <= p.at <= date(2018, 1, 1))
    assert len(boxes) >= 0.9 * n_points  # nearly every point keeps its label
    frame_box = ax.get_window_extent()
    for text, box in boxes:
        assert frame_box.x0 <= box.x0 and box.x1 <= frame_box.x1, f"label {text!r} leaves the axes"
    assert_legend_outside(ax)


def test_frontier_of_a_short_range_has_distinct_date_ticks():
    """'%Y' on quarterly ticks wrote '2012' under every tick."""
    fig = laid_out(frontier_figure(_frontier_frame(date(2012, 1, 1), date(2012, 12, 1)), (), "one year"))
    labels = tick_labels(fig.axes[0])
    assert len(labels) >= 3 and len(set(labels)) == len(labels), labels


@pytest.mark.parametrize("draw", ["frontier", "reproduction"])
def test_an_empty_range_says_so_instead_of_1970_ticks(draw):
    """A range with no feasible run drew an empty axis whose date ticks all read '1970'."""
    frame = _frontier_frame(date(1940, 1, 1), date(1945, 1, 1), months=12, feasible=False)
    if draw == "frontier":
        fig = frontier_figure(frame, published(), "nothing")
    else:
        fig = reproduction_figure(_reproduction(frame), "nothing")
    fig = laid_out(fig)
    for ax in fig.axes:
        assert not any("1970" in t for t in tick_labels(ax))
        assert not ax.axison or not ax.get_lines()
    words = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "No feasible training run" in words and "1940-01-01" in words and "no device on sale" in words


def _reproduction(frame: pd.DataFrame, draws: int = 0) -> Reproduction:
    """A Reproduction of a synthetic frontier: `draws` draws of its series scattered x/2 to 2x."""
    rng = np.random.default_rng(0)
    grid = {f"series:{r['date']}": r["flop"] for _, r in frame.iterrows() if r["feasible"]}
    drawn = [{k: v * 2 ** rng.uniform(-1, 1) for k, v in grid.items()} for _ in range(draws)]
    for d in drawn:
        d.update({k: 10.0 * 2 ** rng.uniform(-1, 1) for k in HEADLINE})
    swings = {k: [Swing(f"input_{i}", 1.0, 2.0, 10.0 / (1 + 0.1 * i), 10.0 * (1 + 0.2 * i), 10.0) for i in range(12)]
              for k in HEADLINE} if draws else {}
    return Reproduction([], frame, {k: 10.0 for k in HEADLINE}, {}, [{}] * draws, drawn, swings, draws, 0)


def test_reproduction_labels_do_not_overlap_markers_or_each_other():
    frame = _frontier_frame(date(1959, 1, 1), date(2026, 1, 1), months=12)
    fig = laid_out(reproduction_figure(_reproduction(frame, draws=20), "reproduction"))
    ax = fig.axes[0]
    assert_texts_do_not_overlap(ax)
    assert_legend_outside(ax)
    assert any(c.get_label().startswith("5th-95th") for c in ax.collections)  # the band over the draws


def test_sensitivity_tornadoes_keep_their_legends_off_the_bars():
    fig = laid_out(sensitivity_figure(_reproduction(_frontier_frame(date(2012, 1, 1), date(2014, 1, 1)), draws=5)))
    assert len(fig.axes) == len(HEADLINE)
    for ax in fig.axes:
        assert len(ax.patches) == 10  # the ten largest swings
        assert_legend_outside(ax)


# ------------------------------------------------------------------ projection
def _projection_table(first: int = 2026, last: int = 2035) -> pd.DataFrame:
    years = np.arange(first, last + 1)
    median = 1e27 * 2.0 ** (years - first + 1)
    return pd.DataFrame({"year": years, "flop_p10": median / 3, "flop_median": median, "flop_p90": median * 3,
                         "effective_flop_median": median * 1.5 ** (years - first + 1)})


def _history() -> pd.DataFrame:
    return _frontier_frame(date(2012, 1, 1), date(2025, 1, 1), months=12)


def _line(ax, label: str):
    return next(line for line in ax.get_lines() if line.get_label() == label)


def test_projection_starts_where_the_history_ends():
    """History ended at 2025.0 and the projection began at 2026.5: a gap of a year and a half."""
    fig = laid_out(projection_figure(_projection_table(), _history(), "projection"))
    ax = fig.axes[0]
    hist = _line(ax, "simulated frontier (history)").get_xydata()
    median = _line(ax, "median").get_xydata()
    assert median[0, 0] <= hist[-1, 0] + 1e-9
    assert median[0, 1] == pytest.approx(hist[-1, 1])
    assert_legend_outside(ax)


def test_projection_from_a_start_run_joins_history_and_projection_there():
    start = (date(2025, 7, 1), 1e27)
    fig = laid_out(projection_figure(_projection_table(), _history(), "projection", start=start))
    ax = fig.axes[0]
    hist = _line(ax, "simulated frontier (history)").get_xydata()
    median = _line(ax, "median").get_xydata()
    x0 = 2025 + (date(2025, 7, 1) - date(2025, 1, 1)).days / 365
    assert hist[-1, 0] == pytest.approx(x0) and median[0, 0] == pytest.approx(x0)
    assert hist[-1, 1] == pytest.approx(1e27 / PFS_DAY_FLOP) == pytest.approx(median[0, 1])
    assert (np.diff(median[:, 0]) > 0).all() and median[1, 0] - median[0, 0] == pytest.approx(2026.5 - x0)


# ------------------------------------------------------------------ the saved figures of real commands
def test_saved_figures_are_a_sensible_size(tmp_path):
    from simulator.report.frontier_plot import plot_frontier
    from simulator.report.projection_plot import plot_projection

    paths = [plot_frontier(_frontier_frame(date(2012, 1, 1), date(2018, 1, 1)), tmp_path / "f.png", published()),
             plot_frontier(_frontier_frame(date(1940, 1, 1), date(1941, 1, 1), feasible=False), tmp_path / "e.png"),
             plot_projection(_projection_table(), tmp_path / "p.png", _history())]
    for path in paths:
        height, width = pyplot().imread(path).shape[:2]
        assert 300 <= height <= 1200 and 800 <= width <= 1800, (path.name, width, height)
