"""Discrete-event simulation (simpy) of a training run with failures and checkpoints.

The run does `work_s` seconds of training in segments of `interval_s` work, each
followed by a blocking checkpoint of `checkpoint_s` seconds (the last segment,
which ends the run, is not checkpointed). Failures of the whole job arrive as a
Poisson process over wall time (exponential gaps of mean `mtbf_s`, drawn from the
caller's numpy Generator) and interrupt the training process (simpy
`Process.interrupt`) wherever it is:

- during work: the work since the last completed checkpoint is lost;
- during a checkpoint: that checkpoint is lost too, and with it its segment's work;
- during a restart: the restart starts again (its time so far is spent).

After each failure the run restarts (`restart_s`) and resumes from the last
completed checkpoint. One segment is two timeouts and one failure three events, so
the number of events grows with checkpoints + failures, never with training steps.

This is the model whose expectation `simulator.costs.failures.expected_goodput`
gives in closed form (Daly 2006); the tests check one against the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

from simulator.costs.failures import expected_goodput

#: Refuse runs expected to need more failure + checkpoint events than this (the
#: closed form answers those); about 10 s of simulation.
MAX_EXPECTED_EVENTS = 5_000_000


@dataclass(frozen=True)
class RunOutcome:
    """One simulated run. Times in seconds.

    wall_s = work_s + checkpoint_s_total + lost_work_s + restart_s_total, where
    checkpoint_s_total counts completed and interrupted checkpoints, lost_work_s the
    work redone after failures and restart_s_total every restart (interrupted ones
    included). goodput = work_s / wall_s.
    """

    wall_s: float
    work_s: float
    goodput: float
    n_failures: int
    n_checkpoints: int  # completed checkpoints
    lost_work_s: float
    restart_s_total: float
    checkpoint_s_total: float


class _Tally:
    __slots__ = ("checkpoint_s", "lost_work_s", "n_checkpoints", "n_failures", "restart_s")

    def __init__(self) -> None:
        self.n_failures = 0
        self.n_checkpoints = 0
        self.lost_work_s = 0.0
        self.restart_s = 0.0
        self.checkpoint_s = 0.0


def _check(name: str, value: float, *, positive: bool = False, allow_inf: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: must be a number") from None
    bad = math.isnan(v) or (v <= 0 if positive else v < 0) or (math.isinf(v) and not allow_inf)
    if bad:
        need = "positive" if positive else "non-negative"
        raise ValueError(f"{name}={value!r}: must be {need}{'' if allow_inf else ' and finite'}")
    return v


def _n_segments(work_s: float, interval_s: float) -> int:
    """Segments of at most interval_s covering work_s (tolerant of float rounding)."""
    return max(1, math.ceil(work_s / interval_s - 1e-9))


def _train(
    env: simpy.Environment, tally: _Tally, work_s: float, interval_s: float, checkpoint_s: float, restart_s: float
):
    n_seg = _n_segments(work_s, interval_s)
    k = 0  # segments committed (by a completed checkpoint)
    while True:
        seg_s = min(interval_s, work_s - k * interval_s)
        last = k == n_seg - 1
        work_start = env.now
        ckpt_start = None
        try:
            yield env.timeout(seg_s)
            if last:
                return
            ckpt_start = env.now
            yield env.timeout(checkpoint_s)
            tally.checkpoint_s += checkpoint_s
            tally.n_checkpoints += 1
            k += 1
            continue
        except simpy.Interrupt:
            tally.n_failures += 1
            if ckpt_start is None:
                tally.lost_work_s += env.now - work_start
            else:
                tally.lost_work_s += seg_s
                tally.checkpoint_s += env.now - ckpt_start
        # Restart until one completes without a failure.
        while True:
            restart_start = env.now
            try:
                yield env.timeout(restart_s)
                tally.restart_s += restart_s
                break
            except simpy.Interrupt:
                tally.n_failures += 1
                tally.restart_s += env.now - restart_start


def _failures(env: simpy.Environment, train: simpy.Process, mtbf_s: float, rng: np.random.Generator):
    while True:
        yield env.timeout(float(rng.exponential(mtbf_s)))
        if not train.is_alive:
            return
        train.interrupt("failure")


def simulate_run(
    work_s: float, interval_s: float, checkpoint_s: float, restart_s: float, mtbf_s: float, rng: np.random.Generator
) -> RunOutcome:
    """Simulate one run of `work_s` seconds of training; see the module docstring.

    Inputs in seconds; `mtbf_s` may be inf (no failures). All randomness comes
    from `rng`, so the same seed gives the same outcome. Raises ValueError for
    negative or NaN times, non-positive work, interval or mtbf, or a run expected
    to need more than MAX_EXPECTED_EVENTS events; TypeError if rng is not a
    numpy.random.Generator.
    """
    work_s = _check("work_s", work_s, positive=True)
    interval_s = _check("interval_s", interval_s, positive=True)
    checkpoint_s = _check("checkpoint_s", checkpoint_s)
    restart_s = _check("restart_s", restart_s)
    mtbf_s = _check("mtbf_s", mtbf_s, positive=True, allow_inf=True)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng={rng!r}: must be a numpy.random.Generator (numpy.random.default_rng(seed))")

    n_seg = _n_segments(work_s, interval_s)
    expected_events = float(n_seg)
    if math.isfinite(mtbf_s):
        g = expected_goodput(min(interval_s, work_s), checkpoint_s, restart_s, mtbf_s)
        expected_events += math.inf if g <= 0 else work_s / g / mtbf_s
    if expected_events > MAX_EXPECTED_EVENTS:
        raise ValueError(
            f"simulate_run: about {expected_events:.3g} checkpoints and failures expected "
            f"(limit {MAX_EXPECTED_EVENTS:.0e}); use simulator.costs.failures.expected_goodput instead"
        )

    env = simpy.Environment()
    tally = _Tally()
    train = env.process(_train(env, tally, work_s, interval_s, checkpoint_s, restart_s))
    if math.isfinite(mtbf_s):
        env.process(_failures(env, train, mtbf_s, rng))
    env.run(until=train)
    wall_s = float(env.now)
    return RunOutcome(
        wall_s=wall_s,
        work_s=work_s,
        goodput=work_s / wall_s,
        n_failures=tally.n_failures,
        n_checkpoints=tally.n_checkpoints,
        lost_work_s=tally.lost_work_s,
        restart_s_total=tally.restart_s,
        checkpoint_s_total=tally.checkpoint_s,
    )
