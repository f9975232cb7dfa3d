"""Wall time of a quarterly frontier 2012-2025 (56 dates), binding constraints included.

    python benchmarks/bench_frontier.py

Solves every quarter from 2012-01 to 2025-10 with the built-in baseline scenario,
each date with its 2x relaxation of every constraint (seven solves per date), in one
process with one layout-search cache, as `simulator frontier --start 2012 --end 2025`
does. Best of 2 runs (time.perf_counter), each with a fresh cache.

Target (issue 5): under 30 s on the 2-core CI machine. Prints PASS/FAIL; exit status 1
on FAIL. Not a pytest file (no test_ prefix).
"""

from __future__ import annotations

import sys
import time
from datetime import date

from simulator.catalog.efficiency import default_efficiency
from simulator.frontier.config import load_frontier
from simulator.frontier.series import date_grid, frontier_series
from simulator.frontier.utilization import Utilization

TARGET_S = 30.0
REPEATS = 2


def main() -> int:
    config = load_frontier()
    dates = date_grid(date(2012, 1, 1), date(2025, 12, 31), "quarter")
    best, searches, runs = float("inf"), 0, []
    for _ in range(REPEATS):
        util = Utilization(default_efficiency())
        t0 = time.perf_counter()
        runs = frontier_series(config, dates, util=util)
        best = min(best, time.perf_counter() - t0)
        searches = util.searches
    feasible = sum(r.feasible for r in runs)
    print(f"quarterly frontier 2012-2025: {len(dates)} dates ({feasible} feasible), {searches} layout searches")
    print(f"  wall time {best:.2f} s ({best / len(dates) * 1000:.0f} ms per date)   "
          f"{'PASS' if best < TARGET_S else 'FAIL'} (< {TARGET_S:.0f} s)")
    return 0 if best < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
