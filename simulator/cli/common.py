"""What every command shares: the typer app, the consoles, bad-input handling, output folders, --quiet."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from simulator.app.runs import OUTPUTS, OutputError, check_output_root, package_version
from simulator.catalog.scenario import ScenarioError, default_scenario_path, load_scenario

try:  # typer >= 0.29 vendors click (and a separately installed click, e.g. with dask, is another class)
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import UsageError

__all__ = ["BadInput", "UsageError", "app", "err", "out"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,  # help shows what the source says ("[search] table", not rich markup)
    help="Parallel-training scaling simulator: how much compute the largest training runs can use, and why.",
)
# markup off: scenario values such as "[cluster]" or "[/x]" print as written
def _piped_width() -> int | None:
    """Off a terminal (a pipe, a file): $COLUMNS, else 80 (issue 23: tables 152 wide in logs);
    on one, the terminal's own width (None)."""
    if sys.stdout.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else 80


out = Console(highlight=False, markup=False, width=_piped_width())
err = Console(stderr=True, highlight=False, markup=False)


class BadInput(Exception):
    """User input error: printed as one line, exit code 2."""


# Options given before the command (`simulator --quiet --output-dir DIR frontier`); a command's own
# --quiet / --output-dir take precedence. Set afresh by `_global_options` on every invocation.
_GLOBAL: dict = {"output_dir": None, "quiet": False}

OUTPUT_DIR_HELP = "Write the run folder under DIR/<command>/ instead of outputs/<command>/ (checked before any work)."
QUIET_HELP = "No progress bars, tables or commentary: only the essential line (errors still go to stderr)."

#: The commands' own --output-dir and --quiet (one shared definition each), and the global --output-dir.
OUTPUT_DIR_OPTION = typer.Option(None, "--output-dir", metavar="DIR", help=OUTPUT_DIR_HELP)
QUIET_OPTION = typer.Option(False, "--quiet", "-q", help=QUIET_HELP)
_GLOBAL_OUTPUT_DIR = typer.Option(
    None, "--output-dir", metavar="DIR", help=OUTPUT_DIR_HELP + " For every command that writes."
)


def _show_version(value: bool) -> None:
    if value:
        out.print(f"simulator {package_version() or 'unknown (not installed)'}")
        raise typer.Exit()


@app.callback()
def _global_options(
    output_dir: Path | None = _GLOBAL_OUTPUT_DIR,
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP + " For every command."),
    _version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_show_version, help="Print the version and exit."
    ),
) -> None:
    _GLOBAL.update(output_dir=output_dir, quiet=quiet)


def _quiet(flag: bool) -> bool:
    """--quiet given to the command or before it."""
    return flag or bool(_GLOBAL["quiet"])


def _no_progress(as_json: bool, quiet: bool) -> bool:
    """No progress bar with --json or --quiet, or when stderr is not a terminal (it would leave a blank line)."""
    return as_json or quiet or not err.is_terminal


def _output_root(command: str, output_dir: Path | None) -> Path:
    """The checked root of the command's run folders (--output-dir, else outputs/): before any work.

    One line and exit 2 (BadInput) when it is a file, not writable, or cannot be created.
    """
    root = output_dir if output_dir is not None else _GLOBAL["output_dir"]
    flag = "--output-dir " if root is not None else ""
    try:
        return check_output_root(root if root is not None else OUTPUTS, command)
    except OutputError as exc:
        hint = "" if flag else " (choose another with --output-dir DIR)"
        raise BadInput(f"{flag}{exc}{hint}") from None


def _scenario(path: Path | None):
    """The scenario, its form checked by the loader and its layout by the structural rules
    (`costs.step.check_scenario`): either problem is one line and exit 2, before any work."""
    from simulator.costs.step import check_scenario

    try:
        sc = load_scenario(path if path is not None else default_scenario_path())
        check_scenario(sc)
        return sc
    except ScenarioError as exc:
        raise BadInput(str(exc)) from None


def _new_file(path: Path, flag: str) -> Path:
    """A file about to be written: a free name in a writable folder (runs never overwrite earlier results)."""
    if path.exists() or path.is_symlink():
        raise BadInput(f"{flag} {path}: file exists; runs never overwrite earlier results")
    folder = path.parent
    if not folder.exists():
        raise BadInput(f"{flag} {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise BadInput(f"{flag} {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInput(f"{flag} {path}: folder {folder} not writable")
    try:  # the file system has the last word (/proc, read-only mounts): try it before any work
        with path.open("x"):
            pass
        path.unlink()
    except OSError as exc:
        raise BadInput(f"{flag} {path}: cannot be written ({exc.strerror or exc})") from None
    return path


def _json(obj) -> str:
    """Strict JSON: NaN and infinities become null (json.dumps would write NaN)."""

    def clean(x):
        """`x` with NaN and infinities replaced by None, recursively."""
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
    from simulator.core.units import partial_date

    try:
        return partial_date(text)
    except ValueError as exc:
        raise BadInput(f"{flag} {text!r}: {exc}") from None


def _check_dates(start, end, command: str) -> None:
    """Dates outside what the simulator can answer: one line and exit 2 (impossible), or a
    warning on stderr (an extrapolation past the inputs)."""
    from simulator.catalog.ranges import check_date_range

    try:
        warning = check_date_range(start, end, command)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if warning:
        err.print(warning, soft_wrap=True)


def date_span(start: str, end: str | None, command: str, default_end: date | None = None) -> tuple[date, date]:
    """--start and --end of a command, by one set of rules for every command: YYYY, YYYY-MM or
    YYYY-MM-DD, within what the simulator can answer, the end not before the start."""
    first = _flag_date(start, "--start")
    last = _flag_date(end, "--end") if end else default_end
    if last is None:
        raise BadInput("--end: needed")
    _check_dates(start, end or last, command)
    if last < first:
        raise BadInput(f"--end {last}: before --start {first}")
    return first, last


@dataclass(frozen=True)
class Output:
    """One command's output pipeline (issue 22): the run-folder root checked before any work, a
    new run folder with the resolved scenario and meta.json, and the result as JSON, as the one
    line naming what was written (--quiet), or as tables and that line."""

    command: str
    root: Path | None
    as_json: bool
    quiet: bool

    @classmethod
    def open(cls, command: str, output_dir: Path | None, as_json: bool, quiet: bool) -> Output:
        """Check the output root (one line and exit 2 when it cannot be written) before any work."""
        return cls(command, _output_root(command, output_dir), as_json, _quiet(quiet))

    def folder(self, raw_scenario: dict | None = None, **meta) -> Path:
        """A new run folder, with the resolved scenario (when given) and meta.json."""
        from simulator.app.runs import new_run_dir, write_meta, write_scenario

        run_dir = new_run_dir(self.command, self.root)
        if raw_scenario is not None:
            write_scenario(run_dir, raw_scenario)
        write_meta(run_dir, **meta)
        return run_dir

    def show(self, payload: dict, written: list[Path], render: Callable[[], None]) -> None:
        """The result: `payload` as JSON, or the written files' line after `render()`'s tables."""
        line = "written: " + ", ".join(str(p) for p in written)
        if self.as_json:
            out.print_json(_json(payload))
            return
        if not self.quiet:
            render()
        out.print(line, soft_wrap=True)


def _sci(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.3g}"


WIDE_OPTION = typer.Option(False, "--wide", help="Every column (the default table fits 80 columns).")
_NUMBER = re.compile(r"^[-+$]?[\d.,]+(e[-+]?\d+)?[x%]?( s| ms| us| GB)?$|^-$")


def protect_numbers(table):
    """Never cut a number: columns whose cells are all numbers keep their full width
    (rich shrinks and wraps the text columns instead)."""
    for col in table.columns:
        cells = [str(c) for c in col._cells]
        if cells and all(_NUMBER.match(c.strip()) for c in cells):
            col.no_wrap = True
            col.min_width = max(len(c) for c in cells + [str(col.header)])
    return table


@contextmanager
def stages(description: str, names: tuple[str, ...], silent: bool):
    """A progress bar over the named stages of a long command (on stderr, gone when done);
    `advance(name)` starts the next one."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from simulator.cli.progress import progress

    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with progress(False, silent, *columns) as bar:
        task = bar.add_task(f"{description}: {names[0]}", total=len(names))

        def advance(name: str) -> None:
            """Start the next stage of the bar."""
            bar.update(task, advance=1, description=f"{description}: {name}")

        yield advance
