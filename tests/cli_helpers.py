"""Helpers shared by the CLI tests: run the command line in-process."""

from __future__ import annotations

from simulator.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `simulator ARGV`."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(text: str) -> str:
    """The text's only line besides progress lines ("... stage", printed off a terminal);
    fails on several lines or a traceback."""
    lines = [x for x in text.strip("\n").splitlines() if not x.startswith("... ")]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]
