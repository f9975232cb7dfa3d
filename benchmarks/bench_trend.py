"""End-to-end wall time of `simulator reproduce` and `simulator project --samples 1000`.

    python benchmarks/bench_trend.py

Each command runs in-process through the CLI entry point, in a temporary working
directory (its run folder is thrown away), with the built-in baseline scenario:
`reproduce` solves the frontier on the fit windows (1959-2012 yearly, AlexNet to AlphaZero
quarterly, after 2018 yearly) at the median inputs and with every fact read, re-solves it
for 200 joint draws of the uncertain inputs (the bands) and for each drawn input at its
5th and 95th percentile (the sensitivity), solves each published run's date without its
own facts (the ceiling), fits each era and draws both figures; `project` solves the yearly history to 2026 with its
relaxations, then runs the frontier solver on 1000 drawn futures, yearly 2027-2040, each
year with its 2x relaxations (about 150,000 solver calls), in one process per core.

Targets on the 2-core CI machine: reproduce with 200 draws under 60 s (issue 19),
project under 120 s (issue 13). Prints PASS/FAIL; exit status 1 on FAIL. Not a pytest file.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time

from simulator.cli import main

CASES = [(["reproduce", "--samples", "200"], 60.0), (["project", "--samples", "1000"], 120.0)]


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
