"""Run folders: outputs/<command>/<run-id>/ with the resolved scenario and metadata.

A run folder is created new for every run and never reused, so results are never
overwritten; `meta.json` records the version, git commit, command line and time, so
a run can be reproduced from its folder.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: Where run folders go (relative to the working directory).
OUTPUTS = Path("outputs")


DISTRIBUTION = "training-scaling-simulator"


class OutputError(Exception):
    """Results cannot be written where asked: one line naming the path and the problem."""


def package_version() -> str | None:
    """The installed distribution's version (None when run from an uninstalled tree)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return None


def check_output_root(root: Path = OUTPUTS, command: str | None = None) -> Path:
    """Check, before any work, that run folders can be made under `root`[/`command`]; return `root`.

    OutputError when the path, or the nearest part of it that exists, is a file or a broken link
    rather than a folder, or is a folder this process cannot write in. Creates nothing.
    """
    root = Path(root)
    target = root / command if command else root
    found = target
    while not found.exists():
        if found.is_symlink():
            raise OutputError(f"{found}: a broken link, not a folder; cannot write {target}")
        if found.parent == found:
            break
        found = found.parent
    if not found.exists():  # pragma: no cover - "/" or "." always exist
        raise OutputError(f"{target}: no part of the path exists")
    then = "" if found == target else f"; cannot create {target}"
    if not found.is_dir():
        raise OutputError(f"{found}: {'is a file' if found.is_file() else 'exists'}, not a folder{then}")
    if not os.access(found, os.W_OK | os.X_OK):
        raise OutputError(f"{found}: folder not writable{then}")
    return root


#: The run folders made by this process (the CLI marks them when a command is interrupted).
MADE: list[Path] = []
#: The file an interrupted run leaves in its folder: `report` and `compare` refuse the folder.
INTERRUPTED = "INTERRUPTED"


def mark_interrupted(why: str = "interrupted (SIGINT or SIGTERM)") -> list[Path]:
    """Mark every run folder this process made as incomplete; the folders marked."""
    marked = []
    for path in MADE:
        try:
            (path / INTERRUPTED).write_text(f"{why}: the results here are incomplete\n", encoding="utf-8")
            marked.append(path)
        except OSError:
            pass
    MADE.clear()
    return marked


def incomplete(path: Path) -> str | None:
    """Why a run folder is incomplete (its INTERRUPTED note), or None."""
    note = Path(path) / INTERRUPTED
    return note.read_text(encoding="utf-8").strip() if note.is_file() else None


def new_run_dir(command: str, root: Path = OUTPUTS) -> Path:
    """A fresh folder outputs/<command>/<UTC time to the millisecond>-<random>/ (never an
    existing one; runs list in the order they were made).

    OutputError (one line) when it cannot be made; callers check with `check_output_root`
    before the work so that this is found in time.
    """
    check_output_root(root, command)
    now = datetime.now(UTC)
    stamp = f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z"
    path = Path(root) / command / f"{stamp}-{secrets.token_hex(3)}"
    try:
        path.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise OutputError(f"{path}: exists already; runs never overwrite earlier results") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot create: {exc.strerror or exc}") from None
    MADE.append(path)
    return path


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_meta(path: Path, **extra) -> None:
    """meta.json: package version, git commit, command line, UTC time, and `extra`."""
    meta = {
        "version": package_version(),
        "git_commit": _git_commit(),
        "argv": sys.argv,
        "time_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }
    (path / "meta.json").write_text(json.dumps(meta, indent=2, default=str))


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))  # a TOML basic string is a JSON string


def to_toml(data: dict) -> str:
    """TOML text of a scenario table (top-level scalars, then one level of tables)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for name, table in data.items():
        if isinstance(table, dict):
            lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


def write_scenario(path: Path, raw: dict) -> None:
    """The resolved scenario, loadable again with `simulator ... scenario.toml`."""
    (path / "scenario.toml").write_text(to_toml(raw))
