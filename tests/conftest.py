"""Fixtures shared across test modules."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pickle
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
def reproduction(docs_script, tmp_path_factory):
    """The reproduction the docs quote (200 joint draws, seed 0, the built-in baseline), solved
    once per test session: the trend tests check it and the docs test compares the README and docs/ with it.
    Under pytest-xdist the first worker to need it solves it (on both cores) and the others read it."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return docs_script.reproduction()
    shared = tmp_path_factory.getbasetemp().parent  # the same folder for every worker of the session
    with open(shared / "reproduction.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the others wait here while the first solves
        path = shared / "reproduction.pickle"
        if path.exists():
            return pickle.loads(path.read_bytes())
        rep = docs_script.reproduction()
        path.write_bytes(pickle.dumps(rep))
        return rep


#: Modules whose tests solve the reproduction, projections, scenario answers or whole layout
#: searches: the `slow` ones. `pytest -m "not slow"` is the quick loop while editing; the
#: README's test command runs everything.
SLOW_MODULES = {"test_docs", "test_trend", "test_project", "test_scenario_library", "test_api",
                "test_cli_tables", "test_search", "test_era_mechanisms", "test_sites_pipeline"}
#: Single slow tests of otherwise quick modules (the calibration set validated whole).
SLOW_TESTS = {"test_validate_table_output", "test_validate_json_summary", "test_validate_acceptance_on_a100",
              "test_validate_acceptance_whole_set", "test_validate_skips_rows_with_reasons",
              "test_validate_defaulted_fields_are_documented"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rpartition(".")[2] in SLOW_MODULES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
