"""Helpers shared by tests that read source files rather than import them."""

from __future__ import annotations

import ast
from pathlib import Path


def imported_modules(path: Path) -> set[str]:
    """Full dotted names of every module a source file imports (any depth)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def top_level(names: set[str]) -> set[str]:
    """First components of dotted module names: {"simpy", "numpy", ...}."""
    return {n.split(".")[0] for n in names}
