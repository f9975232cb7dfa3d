"""What every command shares: the typer app, the consoles, bad-input handling."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import typer
from rich.console import Console

from simulator.scenario import ScenarioError, default_scenario_path, load_scenario

try:  # typer >= 0.29 vendors click (and a separately installed click, e.g. with dask, is another class)
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import UsageError

__all__ = ["BadInput", "UsageError", "app", "err", "out"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Parallel-training scaling simulator: how much compute the largest training runs can use, and why.",
)
# markup off: scenario values such as "[cluster]" or "[/x]" print as written
out = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, markup=False)


class BadInput(Exception):
    """User input error: printed as one line, exit code 2."""


def _scenario(path: Path | None):
    try:
        return load_scenario(path if path is not None else default_scenario_path())
    except ScenarioError as exc:
        raise BadInput(str(exc)) from None


def _new_file(path: Path, flag: str) -> Path:
    """Runs never overwrite earlier results."""
    if path.exists():
        raise BadInput(f"{flag} {path}: file exists; runs never overwrite earlier results")
    if not path.parent.exists():
        raise BadInput(f"{flag} {path}: folder {path.parent} does not exist")
    return path


def _json(obj) -> str:
    """Strict JSON: NaN and infinities become null (json.dumps would write NaN)."""

    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), default=str, allow_nan=False)


def _flag_date(text: str, flag: str):
    """A date flag: YYYY, YYYY-MM or YYYY-MM-DD (the first day of the period)."""
    from simulator.units import partial_date

    try:
        return partial_date(text)
    except ValueError:
        raise BadInput(f"{flag} {text!r}: not a date (YYYY, YYYY-MM or YYYY-MM-DD)") from None


def _sci(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.3g}"
