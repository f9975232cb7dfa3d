"""Progress for everyone: a rich bar on a terminal, plain lines elsewhere.

Off a terminal (CI logs, notebooks, nohup, a pipe) a bar would print nothing useful, and a
1000-sample `project` ran 26 minutes in silence (issue 23). There `progress` gives a
`PlainProgress`, which prints one line on stderr when a stage starts and then every
`EVERY_S` seconds ("... 120 samples, 14 years each 340/1000 (95 s)"). `--quiet` and
`--json` silence both.
"""

from __future__ import annotations

import math
import time

from rich.progress import Progress

from simulator.cli import common

#: Seconds between two plain progress lines of one stage.
EVERY_S = 10.0


class PlainProgress:
    """The part of rich's Progress the commands use (add_task, update), as plain lines."""

    def __init__(self, every_s: float = EVERY_S, console=None):
        self.every_s, self.console = every_s, console or common.err
        self.tasks: list[dict] = []
        self.t0, self.last = time.monotonic(), -math.inf

    def __enter__(self):  # noqa: PYI034 - the class is final
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def add_task(self, description: str, total: float | None = None, **_) -> int:
        """A new stage; its first line is printed at once."""
        self.tasks.append({"description": description, "total": total, "completed": 0.0})
        self._line(len(self.tasks) - 1, force=True)
        return len(self.tasks) - 1

    def update(self, task: int, description: str | None = None, completed: float | None = None,
               total: float | None = None, advance: float | None = None, **_) -> None:
        """Move a stage on; a plain line when it changes or every few seconds."""
        t = self.tasks[task]
        new_stage = description is not None and description != t["description"]
        if description is not None:
            t["description"] = description
        if total is not None:
            t["total"] = total
        if completed is not None:
            t["completed"] = completed
        if advance:
            t["completed"] += advance
        self._line(task, force=new_stage)

    def _line(self, task: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.every_s:
            return
        self.last = now
        t = self.tasks[task]
        done = f" {t['completed']:g}/{t['total']:g}" if t["total"] else ""
        self.console.print(f"... {t['description']}{done} ({now - self.t0:.0f} s)", soft_wrap=True)


def progress(as_json: bool, quiet: bool, *columns):
    """The progress display of a command: none with --json or --quiet; a transient rich bar
    on a terminal; plain lines on stderr elsewhere."""
    err = common.err
    if as_json or quiet:
        return Progress(*columns, console=err, disable=True)
    if err.is_terminal:
        return Progress(*columns, console=err, transient=True)
    return PlainProgress(console=err)
