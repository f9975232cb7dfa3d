"""Each constraint's own ceiling: the largest run one constraint allows with the others out of the way.

Sevilla et al. 2024 ("Can AI scaling continue through 2030?", Epoch AI) ask, per constraint
(power, chip production, data, latency), how large a run it alone would allow. `solve_ceilings`
asks the same of the frontier solver: the run with one constraint as it is and every other
one of CEILING_CONSTRAINTS relaxed CEILING_FACTOR-fold (the run length, the sites and the
hardware stay as they are); HELD_WITH keeps the batch law with the latency. The binding
constraint is the one with the lowest ceiling. The history keeps the 2x relaxation of
`solver.solve`; the projection reports ceilings.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from simulator.frontier.config import FrontierConfig
from simulator.frontier.solver import Run, best_run
from simulator.frontier.utilization import Utilization

#: The constraints whose own ceilings the projection reports: Sevilla et al. 2024's four (power,
#: chip production, data, latency) and budget, batch and failures.
CEILING_CONSTRAINTS = ("power", "chips", "budget", "data", "batch", "latency", "failures")
#: How far the other constraints are relaxed for one constraint's ceiling: two orders of magnitude,
#: beyond the 5-95% spread of every projected input at 2030 (a computing bound, not a source).
CEILING_FACTOR = 100.0
#: Constraints held with another's when its ceiling is found: the latency wall is the latency at the
#: batch the law allows (Erdil & Schneider-Joseph 2024: larger batches would move the wall), so the
#: latency ceiling keeps the batch law.
HELD_WITH = {"latency": ("batch",)}


def solve_ceilings(at: date, config: FrontierConfig, util: Utilization, market=None,
                   names: tuple[str, ...] = CEILING_CONSTRAINTS, factor: float = CEILING_FACTOR) -> Run:
    """The largest feasible run ending by `at`, with each constraint's ceiling (module doc) and
    the lowest one as its binding constraint. A ceiling is never below the run itself:
    relaxing only adds choices."""
    run, _ = best_run(at, config, util, market)
    if not run.feasible:
        return run
    scales = run.caps.scales()
    out = {}
    for c in names:
        loose = config
        for other in names:
            if other != c and other not in HELD_WITH.get(c, ()):
                loose = loose.relaxed(other, factor, scales)
        top, _ = best_run(at, loose, util, market)
        out[c] = max(top.flop, run.flop) if top.feasible else run.flop
    return replace(run, ceilings=out, binding=(min(out, key=out.get),))
