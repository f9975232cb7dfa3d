"""A 1,000-point sweep of `frontier` over two keys: local processes against one process.

    python benchmarks/bench_sweep.py [--points 1000]

Grid: 25 budget scales (0.1 to 10, log-spaced) x 40 dates (quarterly 2012-2021),
each point the largest run at its date with the built-in baseline scenario
(`simulator sweep --command frontier`). Runs it in this process, then in one local
process per core, checks the rows are identical, and prints both wall times and the
speed-up (issue 7). Not a pytest file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from simulator.app.sweep import run_points
from simulator.frontier.series import date_grid

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1000)
    n = ap.parse_args().points
    scales = np.round(np.logspace(-1, 1, 25), 4)
    dates = date_grid(date(2012, 1, 1), date(2021, 12, 31), "quarter")
    # date-major order: consecutive points share a date, so each worker's layout-search cache
    # (one per process) is reused across the budget scales of its dates
    pts = [{"frontier.budget_scale": float(s), "date": d.isoformat()} for d in dates for s in scales][:n]
    path = ROOT / "scenarios" / "frontier-baseline.toml"
    text = path.read_text()
    workers = os.cpu_count() or 1
    # processes first: forked workers would otherwise inherit this process's warm search cache
    t0 = time.perf_counter()
    many = run_points("frontier", text, str(path), pts, workers=workers)
    parallel = time.perf_counter() - t0
    t0 = time.perf_counter()
    one = run_points("frontier", text, str(path), pts, workers=1)
    serial = time.perf_counter() - t0
    same = one == many
    failed = sum(bool(r["error"]) for r in one)
    print(f"sweep of frontier, {len(pts)} points (25 budget scales x 40 dates), {failed} failed")
    print(f"  one process              {serial:7.1f} s")
    print(f"  {workers} local processes       {parallel:7.1f} s   speed-up x{serial / parallel:.2f}   "
          f"rows identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
