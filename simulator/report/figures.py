"""What every figure shares: matplotlib on the file-only Agg backend, save and close.

Also the pieces that keep figures readable whatever the data: a legend placed outside
the axes (never over data), labels placed so that they overlap neither each other nor
the markers, and a figure that says in words that there is nothing to draw (rather
than an empty axis whose date ticks all read "1970").
"""

from __future__ import annotations

from pathlib import Path

#: Candidate offsets (points) of a label from its point, tried in order: beside, then diagonally, then further
#: out with a thin leader line (any offset of 10 points or more).
LABEL_OFFSETS = [(6, 0), (-6, 0), (4, 4), (4, -4), (-4, 4), (-4, -4), (0, 8), (0, -8), (12, 12), (12, -12),
                 (-12, 12), (-12, -12), (0, 20), (0, -20), (20, 22), (20, -22), (-20, 22), (-20, -22), (0, 34),
                 (0, -34)]
LEADER_AT = 10


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported on first use, not at import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path) -> Path:
    """Lay out, write `path` and free the figure."""
    fig.tight_layout()
    fig.savefig(path)
    pyplot().close(fig)
    return path


def text_column(series, fill: str = ""):
    """A CSV column as strings, missing values as `fill` (a column of empty strings reads back as NaN floats)."""
    return series.astype(object).where(series.notna(), fill).astype(str)


def nothing_to_draw(title: str, message: str, figsize=(10, 3), dpi: int = 120):
    """A figure with no axis: the title and, in words, why there is nothing to plot."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=11, transform=ax.transAxes)
    return fig


def legend_outside(ax, where: str = "right", **kwargs):
    """The axes' legend beside ('right') or under ('below') the axes, never over the data."""
    if where == "right":
        return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), borderaxespad=0.0, **kwargs)


def _marker_boxes(ax) -> list:
    """Display-space boxes around every plotted point (line vertices, scatter markers at their size)."""
    import numpy as np
    from matplotlib.transforms import Bbox

    px_per_pt = ax.figure.dpi / 72
    pts = []  # (display xy array, half-size in pixels)
    for line in ax.get_lines():
        xy = line.get_xydata()
        if len(xy):
            pts.append((line.get_transform().transform(xy), max(2.0, line.get_markersize() * px_per_pt / 2)))
    for coll in ax.collections:
        offsets = coll.get_offsets()
        sizes = coll.get_sizes() if hasattr(coll, "get_sizes") else []
        if len(offsets) and len(sizes):
            half = max(2.0, float(np.sqrt(np.max(sizes))) * px_per_pt / 2)
            pts.append((coll.get_offset_transform().transform(offsets), half))
    boxes = []
    for arr, half in pts:
        for x, y in np.asarray(arr):
            if np.isfinite(x) and np.isfinite(y):
                boxes.append(Bbox.from_extents(x - half, y - half, x + half, y + half))
    return boxes


def place_labels(ax, points: list[tuple], fontsize: float = 6, avoid_markers: bool = True) -> tuple[list, list]:
    """Annotate (x, y, text) points so that no two labels overlap and none covers a marker.

    Call after the axis limits and the layout are final (labels are placed in display space).
    Each label tries the offsets of LABEL_OFFSETS in turn (the far ones with a thin leader line)
    and must lie inside the axes, clear of the legend, the texts already drawn and the other
    labels; a label with no free place is left out. Returns (the placed
    annotations, the texts left out).
    """
    fig = ax.figure
    ax.set_xlim(ax.get_xlim())  # freeze the limits: labels are placed against them
    ax.set_ylim(ax.get_ylim())
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    taken = _marker_boxes(ax) if avoid_markers else []
    taken += [t.get_window_extent(renderer).padded(1.0) for t in ax.texts if t.get_visible() and t.get_text()]
    legend = ax.get_legend()
    if legend is not None:
        taken.append(legend.get_window_extent(renderer))
    placed, left_out = [], []
    for x, y, text in sorted(points, key=lambda p: (p[0], p[1])):
        anchor = ax.transData.transform((ax.convert_xunits(x), ax.convert_yunits(y)))
        own = {id(b) for b in taken if b.contains(*anchor)}  # the point's own marker does not block its label
        for dx, dy in LABEL_OFFSETS:
            far = max(abs(dx), abs(dy)) >= LEADER_AT
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                              ha="left" if dx > 0 else "right" if dx < 0 else "center",
                              va="bottom" if dy > 0 else "top" if dy < 0 else "center",
                              arrowprops={"arrowstyle": "-", "lw": 0.6, "color": "0.45", "shrinkA": 1, "shrinkB": 3}
                              if far else None)
            box = ann.get_window_extent(renderer)
            inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1)
            if inside and not any(box.overlaps(b) for b in taken if id(b) not in own):
                taken.append(box.padded(1.0))
                placed.append(ann)
                break
            ann.remove()
        else:
            left_out.append(text)
    return placed, left_out
