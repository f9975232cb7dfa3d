"""Fixtures shared across test modules."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def docs_script():
    """scripts/docs.py as a module (it regenerates the docs' numbers)."""
    spec = importlib.util.spec_from_file_location("docs_script", ROOT / "scripts" / "docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def reproduction(docs_script):
    """The reproduction the docs quote (200 joint draws, seed 0, the built-in baseline), solved
    once per test session: the trend tests check it and the docs test compares the README with it."""
    return docs_script.reproduction()
