"""Wall time of `simulate_step` at 3,072 and 307,200 GPUs (Megatron 1T).

    python benchmarks/bench_step.py

Megatron 1T on 3072 A100-80GB (Narayanan et al. 2021 Table 1: tp 8, pp 64, dp 6,
global batch 3072, micro-batch 1, full recompute, fp16), from
scenarios/megatron-1t-3072.toml, and the same layout at dp 600 (307,200 GPUs,
global batch 307,200: the same work per pipeline). The engine simulates one
pipeline, so its cost should not grow with the device count.

Targets: each simulation under 1 s (best of 3, time.perf_counter), and the two
wall times within 20% of each other; the closed-form step (the costs of every stage and
the step time, what the layout search and the frontier solver evaluate) of the
307,200-GPU cluster under 10 ms (issue 12). Prints PASS/FAIL per target; exit status 1
if any target fails. Not a pytest file (no test_ prefix).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.scenario import load_scenario
from simulator.costs.closed_form import step_time
from simulator.costs.step import unit_costs
from simulator.engine.step import simulate_step

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "megatron-1t-3072.toml"
REPEATS = 3
MAX_WALL_S = 1.0
MAX_RATIO = 1.20
MAX_CLOSED_FORM_S = 0.010


def best_of(fn, repeats: int = REPEATS) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> int:
    sc = load_scenario(SCENARIO)
    eff = default_efficiency()
    big_cluster = dataclasses.replace(sc.cluster, n_devices=307_200)
    big_layout = dataclasses.replace(sc.layout, dp=600, global_batch=307_200)
    cases = [
        ("3,072 GPUs (dp 6)", sc.cluster, sc.layout),
        ("307,200 GPUs (dp 600)", big_cluster, big_layout),
    ]
    walls = []
    ok = True
    print(f"simulate_step, {sc.model.name}, tp {sc.layout.tp} pp {sc.layout.pp}, "
          f"micro-batch {sc.layout.micro_batch}, {sc.layout.recompute.value} recompute, "
          f"{sc.layout.precision.value}; best of {REPEATS}")
    for label, cluster, layout in cases:
        wall, result = best_of(lambda: simulate_step(sc.model, cluster, layout, eff))
        walls.append(wall)
        passed = wall < MAX_WALL_S and result.feasible
        ok &= passed
        print(f"  {label:<22} wall {wall:7.3f} s   simulated step {result.step_time_s:8.2f} s   "
              f"MFU {result.mfu:.3f}   {'PASS' if passed else 'FAIL'} (< {MAX_WALL_S:g} s)")
    wall, t = best_of(lambda: float(step_time(unit_costs(sc.model, big_cluster, big_layout, eff),
                                              big_layout, eff.comm_processor_usage)), repeats=20)
    passed = wall < MAX_CLOSED_FORM_S
    ok &= passed
    print(f"  closed form, 307,200 GPUs wall {1e3 * wall:7.3f} ms  simulated step {t:8.2f} s   "
          f"{'PASS' if passed else 'FAIL'} (< {1e3 * MAX_CLOSED_FORM_S:g} ms)")
    ratio = max(walls) / min(walls)
    passed = ratio <= MAX_RATIO
    ok &= passed
    print(f"  wall-time ratio (slower / faster) {ratio:.3f}   {'PASS' if passed else 'FAIL'} "
          f"(within {100 * (MAX_RATIO - 1):.0f}%)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
