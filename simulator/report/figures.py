"""What every figure shares: matplotlib on the file-only Agg backend, save and close."""

from __future__ import annotations

from pathlib import Path


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
