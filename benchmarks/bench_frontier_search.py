"""Wall time of the frontier's layout searches (`best_layout_closed_form`), cold and warm.

    python benchmarks/bench_frontier_search.py

Solves 2016-2026 (July of each year) with the built-in baseline scenario, one
Utilization cache, as the frontier does: the first pass starts with empty caches
(a fresh process), the second with a fresh Utilization but the search's structural
plans (`simulator.search.space.plans`) kept. Not a pytest file (no test_ prefix).
"""

from __future__ import annotations

import time
from datetime import date

from simulator.catalog.efficiency import default_efficiency
from simulator.frontier.config import load_frontier
from simulator.frontier.solver import solve
from simulator.frontier.utilization import Utilization


def main() -> None:
    config = load_frontier()
    for label in ("cold", "warm plans"):
        util = Utilization(default_efficiency())
        t0 = time.perf_counter()
        for year in range(2016, 2027):
            solve(date(year, 7, 1), config, util)
        print(f"{label:>10}: {time.perf_counter() - t0:6.2f} s for 11 solves, {util.searches} layout searches")


if __name__ == "__main__":
    main()
