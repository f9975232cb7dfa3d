"""The bad-input corpus (issue 23): hostile inputs across every command, table-driven.

Each case is a command line (with the files it needs written first): it must exit 2 with
one line on stderr that names the offending key, flag or file, print no traceback, and
leave no run folder. Every check happens before any work, so the whole corpus runs in
seconds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_helpers import one_line, run

from simulator.catalog.scenario import default_scenario_path
from simulator.frontier import config as fc

ROOT = Path(__file__).resolve().parent.parent
STEP = default_scenario_path().read_text(encoding="utf-8")

#: Values no number in a scenario may take: (TOML text, what it is).
BAD_NUMBERS = [("-1", "negative"), ('"x"', "text"), ("true", "a boolean"), ("inf", "infinite"), ("nan", "not a number")]


def _step_with(table: str, key: str, value: str) -> str:
    """The default step scenario with `key` in `[table]` set to `value` (added when absent)."""
    lines, out, inside, done = STEP.splitlines(), [], False, False
    for line in lines:
        if line.startswith("["):
            if inside and not done:
                out.append(f"{key} = {value}")
                done = True
            inside = line.strip() == f"[{table}]"
        if inside and re.match(rf"{re.escape(key)}\s*=", line):
            line, done = f"{key} = {value}", True
        out.append(line)
    if inside and not done:
        out.append(f"{key} = {value}")
    elif not done:  # a table the scenario does not have
        out += [f"[{table}]", f"{key} = {value}"]
    return "\n".join(out) + "\n"


def _frontier(key: str, value: str) -> str:
    return f'[frontier]\n{key} = {value}\n[sources]\n{key} = "a test"\n'


CASES: list[tuple[str, list[str], dict[str, str], str]] = []  # (id, argv, files, words in the line)

# frontier scenarios: every number, each bad value; every list, date, link and switch
for key in sorted(fc._NUMBERS):
    for value, what in BAD_NUMBERS:
        CASES.append((f"frontier-{key}-{what}", ["frontier", "s.toml", "--start", "2012", "--end", "2012"],
                      {"s.toml": _frontier(key, value)}, f"[frontier] {key}="))
for key in sorted(fc._NUMBERS - fc._ZERO_OK):
    CASES.append((f"frontier-{key}-zero", ["frontier", "s.toml"], {"s.toml": _frontier(key, "0")}, f"[frontier] {key}="))
for key in sorted(fc._NUMBERS):
    CASES.append((f"frontier-{key}-unsourced", ["frontier", "s.toml"], {"s.toml": f"[frontier]\n{key} = 2\n"},
                  f"[frontier] {key}="))
for key in sorted(fc._LISTS):
    for value in ('["no-such-thing"]', '"not a list"', "3"):
        CASES.append((f"frontier-{key}-{value[:6]}", ["frontier", "s.toml"], {"s.toml": _frontier(key, value)},
                      f"[frontier] {key}="))
for key in sorted(fc._DATES):
    for value in ('"2016-13-01"', '"soon"', "2016"):
        CASES.append((f"frontier-{key}-{value[:6]}", ["frontier", "s.toml"], {"s.toml": _frontier(key, value)},
                      f"[frontier] {key}="))
for key in sorted(fc._LINKS):
    CASES.append((f"frontier-{key}-unknown", ["frontier", "s.toml"], {"s.toml": _frontier(key, '"carrier-pigeon"')},
                  f"[frontier] {key}="))
for key, value in (("ignore_budget", '"yes"'), ("batch_law", '"moore"'), ("price", '"free"'),
                   ("withhold", '["nobody"]'), ("budgt_scale", "2")):
    CASES.append((f"frontier-{key}-bad", ["frontier", "s.toml"], {"s.toml": _frontier(key, value)},
                  f"[frontier] {key}="))
CASES += [
    ("frontier-not-toml", ["frontier", "s.toml"], {"s.toml": "[frontier\n"}, "not valid TOML"),
    ("frontier-missing-file", ["frontier", "nope.toml"], {}, "nope.toml"),
    ("frontier-step-scenario", ["frontier", "s.toml"], {"s.toml": STEP}, "frontier"),
    ("frontier-bad-start", ["frontier", "--start", "soon"], {}, "--start"),
    ("frontier-start-1800", ["frontier", "--start", "1800"], {}, "--start"),
    ("frontier-end-3000", ["frontier", "--end", "3000"], {}, "--end"),
    ("frontier-end-before-start", ["frontier", "--start", "2018", "--end", "2012"], {}, "--end"),
    ("frontier-bad-step", ["frontier", "--step", "decade"], {}, "--step"),
]

# step scenarios: the layout, cluster and model tables
for table, key, value in [
    ("layout", "tp", "0"), ("layout", "tp", "-8"), ("layout", "tp", '"eight"'), ("layout", "tp", "3"),
    ("layout", "pp", "0"), ("layout", "pp", "1000"), ("layout", "dp", "7"), ("layout", "dp", "1.5"),
    ("layout", "micro_batch", "0"), ("layout", "micro_batch", "1000"), ("layout", "global_batch", "0"),
    ("layout", "global_batch", "1537"), ("layout", "global_batch", "1500000000000"), ("layout", "schedule", '"2f2b"'),
    ("layout", "virtual_stages", "0"), ("layout", "virtual_stages", "3"), ("layout", "recompute", '"most"'),
    ("layout", "sequence_parallel", '"yes"'), ("layout", "zero", "4"), ("layout", "zero", "-1"),
    ("layout", "precision", '"fp4x"'), ("layout", "attention", '"sparse"'), ("layout", "cp", "0"),
    ("layout", "ep", "3"), ("layout", "offload", '"no"'), ("layout", "tensor_parallel", "8"),
    ("cluster", "devices", "0"), ("cluster", "devices", "-1024"), ("cluster", "devices", '"many"'),
    ("cluster", "devices_per_node", "0"), ("cluster", "accelerator", '"abacus"'), ("cluster", "intra_link", '"smoke"'),
    ("cluster", "inter_link", "42"), ("cluster", "gpus", "8"), ("model", "name", '"gpt-17"'), ("model", "depth", "3"),
]:
    # a value that breaks a rule between keys is named by the key the rule checks (dp for tp 3)
    words = "[layout]" if (key, value) in (("tp", "3"), ("pp", "1000"), ("micro_batch", "1000")) else f"[{table}] {key}="
    CASES.append((f"step-{table}-{key}-{value.strip(chr(34))[:8]}", ["step", "s.toml"],
                  {"s.toml": _step_with(table, key, value)}, words))
CASES += [
    ("step-missing-file", ["step", "nope.toml"], {}, "nope.toml"),
    ("step-not-toml", ["step", "s.toml"], {"s.toml": "[layout\n"}, "TOML"),
    ("step-frontier-scenario", ["step", "s.toml"], {"s.toml": _frontier("budget_scale", "2")}, "frontier"),
    ("step-trace-exists", ["step", "--trace", "t.json"], {"t.json": "{}"}, "--trace"),
    ("step-trace-no-folder", ["step", "--trace", "no/such/t.json"], {}, "--trace"),
    ("step-trace-proc", ["step", "--trace", "/proc/t.json"], {}, "--trace"),
    ("search-missing-file", ["search", "nope.toml"], {}, "nope.toml"),
    ("search-top-k", ["search", "s.toml"], {"s.toml": _step_with("search", "top_k", "-1")}, "[search] top_k="),
    ("search-batches", ["search", "s.toml"], {"s.toml": _step_with("search", "global_batches", '"many"')},
     "[search] global_batches="),
    ("explain-missing-file", ["explain", "nope.toml"], {}, "nope.toml"),
]

# the trend commands' flags
CASES += [
    ("reproduce-samples-negative", ["reproduce", "--samples", "-1"], {}, "--samples"),
    ("reproduce-samples-huge", ["reproduce", "--samples", "1000000"], {}, "--samples"),
    ("reproduce-samples-text", ["reproduce", "--samples", "many"], {}, "--samples"),
    ("reproduce-seed-text", ["reproduce", "--seed", "x"], {}, "--seed"),
    ("reproduce-workers-negative", ["reproduce", "--workers", "-2"], {}, "--workers"),
    ("reproduce-bad-start", ["reproduce", "--start", "yesterday"], {}, "--start"),
    ("reproduce-start-1800", ["reproduce", "--start", "1800"], {}, "--start"),
    ("reproduce-bad-step", ["reproduce", "--step", "week"], {}, "--step"),
    ("reproduce-bad-scenario", ["reproduce", "s.toml"], {"s.toml": _frontier("max_waste", "2")}, "max_waste"),
    ("project-to-before-from", ["project", "--to", "2020"], {}, "--to"),
    ("project-to-far", ["project", "--to", "3000"], {}, "--to"),
    ("project-samples-zero", ["project", "--samples", "0"], {}, "--samples"),
    ("project-samples-huge", ["project", "--samples", "100000000"], {}, "--samples"),
    ("project-bind-samples-zero", ["project", "--bind-samples", "0"], {}, "--bind-samples"),
    ("project-from-text", ["project", "--from", "next"], {}, "--from"),
    ("project-workers-negative", ["project", "--workers", "-1"], {}, "--workers"),
    ("project-bad-scenario", ["project", "s.toml"], {"s.toml": _frontier("chip_scale", "-2")}, "chip_scale"),
    ("efficiency-bad-flag", ["efficiency", "--no-such-flag"], {}, "--no-such-flag"),
]

# validate, sweep, compare, report, catalog and global flags
CSV_HEADER = "id,model,layers,hidden,heads,seq_len,hardware,n_devices,global_batch_seqs,tp,pp,mfu\n"
CASES += [
    ("validate-missing-file", ["validate", "--measurements", "nope.csv"], {}, "nope.csv"),
    ("validate-bad-fill", ["validate", "--fill", "guess"], {}, "--fill"),
    ("validate-no-usable-row", ["validate", "--measurements", "m.csv"], {"m.csv": CSV_HEADER + "A,x,,,,,h100,8,8,1,1,0.4\n"},
     "no row could be predicted"),
    ("validate-strict-mfu-44", ["validate", "--strict", "--measurements", "m.csv"],
     {"m.csv": CSV_HEADER + "A,x,32,4096,32,2048,h100-sxm,8,8,1,1,44\n"}, "'mfu'"),
    ("validate-strict-dup-id", ["validate", "--strict", "--measurements", "m.csv"],
     {"m.csv": CSV_HEADER + "A,x,32,4096,32,2048,h100-sxm,8,8,1,1,0.4\n" * 2}, "'id'"),
    ("validate-empty-file", ["validate", "--measurements", "m.csv"], {"m.csv": ""}, "m.csv"),
    ("validate-missing-columns", ["validate", "--measurements", "m.csv"], {"m.csv": "id,foo\nA,1\n"}, "m.csv"),
    ("sweep-no-equals", ["sweep", "b.toml", "--set", "frontier.budget_scale"], {"b.toml": ""}, "--set"),
    ("sweep-empty-values", ["sweep", "b.toml", "--set", "frontier.budget_scale="], {"b.toml": ""}, "--set"),
    ("sweep-bad-range", ["sweep", "b.toml", "--set", "frontier.budget_scale=2:1", "--samples", "4"], {"b.toml": ""},
     "--set"),
    ("sweep-range-without-samples", ["sweep", "b.toml", "--set", "frontier.budget_scale=1:2"], {"b.toml": ""}, "--set"),
    ("sweep-key-twice", ["sweep", "b.toml", "--set", "date=2012", "--set", "date=2013"], {"b.toml": ""}, "--set"),
    ("sweep-bad-command", ["sweep", "b.toml", "--command", "dance", "--set", "date=2012"], {"b.toml": ""}, "--command"),
    ("sweep-bad-date", ["sweep", "b.toml", "--set", "date=2020-13-01"], {"b.toml": ""}, "date="),
    ("sweep-date-1800", ["sweep", "b.toml", "--set", "date=1800"], {"b.toml": ""}, "date="),
    ("sweep-misspelt-key", ["sweep", "b.toml", "--set", "frontier.budgt_scale=1,2"], {"b.toml": ""}, "budgt_scale"),
    ("sweep-too-many-points", ["sweep", "b.toml", "--set", "frontier.budget_scale=1:2", "--samples", "1000000"],
     {"b.toml": ""}, "points"),
    ("sweep-project-samples-text", ["sweep", "b.toml", "--command", "project", "--set", "samples=many"], {"b.toml": ""},
     "samples="),
    ("sweep-missing-scenario", ["sweep", "nope.toml", "--set", "date=2012"], {}, "nope.toml"),
    ("sweep-two-dasks", ["sweep", "b.toml", "--set", "date=2012", "--dask-local", "2", "--dask-scheduler", "tcp://x:1"],
     {"b.toml": ""}, "--dask"),
    ("compare-missing", ["compare", "nope-a", "nope-b"], {}, "nope-a"),
    ("compare-not-a-run", ["compare", "a", "a"], {"a/x.txt": "hello"}, "a"),
    ("report-missing", ["report", "nope"], {}, "nope"),
    ("report-not-a-run", ["report", "a"], {"a/x.txt": "hello"}, "a"),
    ("report-interrupted", ["report", "r"], {"r/INTERRUPTED": "interrupted by a test", "r/frontier.csv": "date\n"},
     "interrupted by a test"),
    ("catalog-bad-kind", ["catalog", "spaceships"], {}, "spaceships"),
    ("outputs-is-a-file", ["frontier", "--start", "2012", "--end", "2012"], {"outputs": ""}, "outputs"),
    ("output-dir-is-a-file", ["--output-dir", "f", "frontier", "--start", "2012", "--end", "2012"], {"f": ""}, "f"),
    ("unknown-command", ["dance"], {}, "dance"),
    ("unknown-flag", ["frontier", "--colour", "red"], {}, "--colour"),
]


@pytest.mark.parametrize("argv, files, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_one_line_exit_2_and_leaves_nothing(capsys, tmp_path, monkeypatch, argv, files, words):
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    baseline = ROOT / "scenarios" / "frontier-baseline.toml"
    argv = [str(baseline) if a == "b.toml" else a for a in argv]
    code, _, err = run(capsys, *argv)
    line = one_line(err)
    assert code == 2, (code, err)
    assert words in line, line
    # short (issue 23: under 160 characters), apart from the path of a file the user named
    assert len(line.replace(str(ROOT), "")) < 160, line
    runs = tmp_path / "outputs"
    assert not runs.is_dir() or not any(p.is_dir() for p in runs.glob("*/*")), "a run folder was left"


def test_the_corpus_is_large():
    assert len(CASES) >= 200
