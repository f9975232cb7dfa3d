"""End-to-end wall time of `simulator reproduce` and `simulator project --samples 1000`.

    python benchmarks/bench_trend.py

Each command runs in-process through the CLI entry point, in a temporary working
directory (its run folder is thrown away), with the built-in baseline scenario:
`reproduce` solves the frontier quarterly from 1959 to 2026-07 with every constraint's
2x relaxation, re-solves it yearly for 20 draws of the uncertain inputs (the intervals),
fits each era and draws the figure; `project` solves the yearly history to 2026 with its
relaxations, then runs the frontier solver on 1000 drawn futures, yearly 2027-2040, each
year with its 2x relaxations (about 150,000 solver calls), in one process per core.

Targets on the 2-core CI machine: reproduce under 30 s (issue 11), project under 120 s
(issue 13). Prints PASS/FAIL; exit status 1 on FAIL. Not a pytest file.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time

from simulator.cli import main

CASES = [(["reproduce"], 30.0), (["project", "--samples", "1000"], 120.0)]


def main_bench() -> int:
    ok = True
    for argv, target in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            here = os.getcwd()
            os.chdir(tmp)
            try:
                t0 = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    code = main(argv)
                wall = time.perf_counter() - t0
            finally:
                os.chdir(here)
        passed = code == 0 and wall < target
        ok &= passed
        print(f"simulator {' '.join(argv):<28} exit {code}  wall {wall:6.1f} s   "
              f"{'PASS' if passed else 'FAIL'} (< {target:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main_bench())
