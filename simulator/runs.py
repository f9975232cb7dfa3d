"""Run folders: outputs/<command>/<run-id>/ with the resolved scenario and metadata.

A run folder is created new for every run and never reused, so results are never
overwritten; `meta.json` records the version, git commit, command line and time, so
a run can be reproduced from its folder.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: Where run folders go (relative to the working directory).
OUTPUTS = Path("outputs")


def new_run_dir(command: str, root: Path = OUTPUTS) -> Path:
    """A fresh folder outputs/<command>/<UTC time>-<random>/ (never an existing one)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = Path(root) / command / f"{stamp}-{secrets.token_hex(3)}"
    path.mkdir(parents=True, exist_ok=False)
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
    try:
        ver = version("training-scaling-simulator")
    except PackageNotFoundError:
        ver = None
    meta = {
        "version": ver,
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
