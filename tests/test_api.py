"""The Python API (issue 14): `import simulator` exposes the entry points, reads nothing at
import, and the example script runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import simulator as sim

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "api_example.py"
ENTRY_POINTS = ("load_scenario", "simulate_step", "search_layouts", "solve_frontier", "load_frontier", "reproduce",
                "project", "Transformer", "Cluster", "Layout", "SearchSpace", "default_efficiency",
                "find_accelerator", "find_model", "find_stack", "check_date_range")


def test_entry_points_exported_with_docstrings():
    assert set(ENTRY_POINTS) <= set(sim.__all__) <= set(dir(sim))
    assert set(sim.__all__) == set(sim._EXPORTS)
    for name in sim.__all__:
        obj = getattr(sim, name)
        assert (obj.__doc__ or "").strip(), name
    assert sim.simulate_step is __import__("simulator.engine.step", fromlist=["x"]).simulate_step
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sim.nope  # noqa: B018


IMPORT_PROBE = r"""
import builtins, importlib.resources, io, os, pathlib, sys
opened = []
def spy(name, real):
    def wrapper(*args, **kwargs):
        opened.append(f"{name}{args[:1]}")
        return real(*args, **kwargs)
    return wrapper
builtins.open = spy("open", builtins.open)
io.open = spy("io.open", io.open)
os.open = spy("os.open", os.open)
for attr in ("open", "read_text", "read_bytes"):
    setattr(pathlib.Path, attr, spy(f"Path.{attr}", getattr(pathlib.Path, attr)))
importlib.resources.files = spy("files", importlib.resources.files)
import simulator
names = list(simulator.__all__) + dir(simulator)
assert "simulate_step" in names and "search_layouts" in names
print("OPENED", opened)
print("HEAVY", sorted(m for m in ("numpy", "pandas", "simulator.catalog", "simulator.core.specs", "rich", "typer")
                      if m in sys.modules))
"""


def test_import_reads_no_file_and_loads_nothing_heavy():
    proc = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "OPENED []" in proc.stdout, proc.stdout
    assert "HEAVY []" in proc.stdout, proc.stdout


def test_example_script_runs_and_prints_the_api_results():
    proc = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    sc = sim.load_scenario(sim.default_scenario_path())
    step = sim.simulate_step(sc.model, sc.cluster, sc.layout, sim.default_efficiency(), sc.stack)
    assert f"scenario {sc.name}: gpt3-175b on 1024 x NVIDIA A100 SXM4 80GB" in text
    assert f"step time {step.step_time_s:.2f} s, MFU {step.mfu:.3f}" in text
    match = re.search(r"search: (\d+) candidates, (\d+) feasible", text)
    assert match and int(match.group(1)) >= int(match.group(2)) > 0, text
    best = re.search(r"best layout on 512 x NVIDIA H100 SXM5 80GB: tp (\d+) x pp (\d+) x dp (\d+).*MFU (0\.\d+)", text)
    assert best, text
    tp, pp, dp = (int(best.group(i)) for i in (1, 2, 3))
    assert tp * pp * dp == 512 and 0 < float(best.group(4)) < 1


def test_solve_frontier_on_a_date_and_a_range():
    (run,) = sim.solve_frontier("2016", relax=False)
    assert run.feasible and run.flop > 0 and str(run.at) == "2016-01-01"
    runs = sim.solve_frontier("2012", "2014", step="year", relax=False)
    assert [str(r.at) for r in runs] == ["2012-01-01", "2013-01-01", "2014-01-01"]
    assert runs[0].flop <= runs[-1].flop
    with pytest.raises(ValueError, match="start 'soon': not a date"):
        sim.solve_frontier("soon")


def _exported_functions() -> dict[str, object]:
    import importlib
    import inspect

    return {name: obj for name, module in sim._EXPORTS.items()
            if callable(obj := getattr(importlib.import_module(module), name)) and not inspect.isclass(obj)}


#: Modules whose public docstrings carry examples (doctests): every module an exported function lives in.
DOCTESTED = tuple(sorted({sim._EXPORTS[name] for name in _exported_functions()}))


@pytest.mark.parametrize("module", DOCTESTED)
def test_the_entry_points_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_every_exported_function_shows_an_example():
    """Issue 23: a doctest-checked example in every public function's docstring (run above)."""
    import inspect

    functions = _exported_functions()
    missing = [name for name, obj in functions.items() if ">>>" not in (inspect.getdoc(obj) or "")]
    assert len(functions) >= 20 and not missing, f"no example in the docstring of: {missing}"


def test_the_api_takes_the_commands_defaults_and_date_text():
    import inspect

    assert inspect.signature(sim.project).parameters["samples"].default == 1000  # `simulator project --samples`
    assert inspect.signature(sim.reproduce).parameters["samples"].default == 200
    with pytest.raises(ValueError, match="before the start"):
        sim.reproduce(start="2013", end="2012", samples=0)
