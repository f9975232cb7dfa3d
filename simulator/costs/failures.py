"""Failures, checkpoints and restarts: from wall time to goodput.

A training run of many devices fails as a whole when any device fails (the job is
synchronous). With independent exponential failures of rate lambda per device-hour,
the cluster's mean time between failures is M = 3600 / (lambda n) seconds. The run
checkpoints every tau seconds of work, each checkpoint blocking training for C
seconds; after a failure it restarts (R seconds: reschedule, reload) and redoes the
work done since the last completed checkpoint.

Model (Daly 2006; exponential failures over wall time, so failures may
also strike during a checkpoint, which is then lost, or during a restart, which then
starts again): one segment needs tau + C seconds without a failure. Its expected
wall time, by renewal-reward (Daly 2006, the model with restart time):

    T_seg = M e^{R/M} (e^{(tau + C)/M} - 1)

and the goodput (fraction of wall time doing work that is kept) is tau / T_seg.
Derivation: attempts fail geometrically, (e^{(tau+C)/M} - 1) failures on average;
a failure loses on average M - (tau+C) / (e^{(tau+C)/M} - 1) of the attempt and
then M (e^{R/M} - 1) of restarting until a restart completes; adding the final
successful tau + C gives T_seg.

To first order in C/tau, tau/M and R/M the goodput is

    1 - C/tau - tau/(2M) - R/M,

whose maximum over tau is Young's interval sqrt(2 C M) (Young 1974). Daly's
higher-order interval (Daly 2006, the paper's main result) is closer to the exact optimum of
tau / T_seg, which does not depend on R (e^{R/M} is a common factor).

Units: seconds in and out, except the failure rate, which is per device-hour
(the unit of published failure logs).

The restart time R is the caller's: the frontier passes the recovery of the run's date
(frontier/config.py `FrontierConfig.recovery`: the drawn restart, lowered by the best
published recovery of catalog/recovery_times.csv once it has reached the run's actor).

Spare devices are not modelled. Holding spares would pay s of the devices (which do not
compute) for a shorter recovery: the hot-swap time R_s instead of R_0, which includes
replacing or draining the failed node, so goodput with spares would be
(1 - s) G(R_s) against G(R_0) without. Published sources give R_s (TrainMover, arXiv
2412.12636v3: about 20 s with standby machines at 1,024 GPUs; DeadPool, arXiv
2607.01646: under 40 s with spare nodes at 512 A100) but none read gives R_0 for the
same system, nor the node repair time that sizes the spare pool (how many spares keep
the pool from running dry); without them the benefit would be chosen, not sourced. So
the recovery rows that need spares are recorded but never read (catalog/recovery.py),
and the solver has no spares to choose.

Sources:
- J. W. Young, "A first order approximation to the optimum checkpoint interval",
  Communications of the ACM 17(9), 1974.
- J. T. Daly, "A higher order estimate of the optimum checkpoint interval for
  restart dumps", Future Generation Computer Systems 22(3), 2006.
- A. Dubey et al. (Llama team, Meta), "The Llama 3 Herd of Models", arXiv
  2407.21783, 2024, Sec. 3.3.4 (reliability and operational challenges).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from simulator.core.units import DAY_S, HOUR_S

#: Unexpected interruptions during a 54-day snapshot of Llama 3 405B pre-training
#: (Dubey et al. 2024, Sec. 3.3.4 and Table 5: 466 interruptions, 47 planned,
#: 419 unexpected; about 78% of the unexpected ones hardware, mostly GPUs and HBM).
LLAMA3_INTERRUPTIONS = 419
#: Length of that snapshot, days (Dubey et al. 2024, Sec. 3.3.4).
LLAMA3_DAYS = 54
#: GPUs of the run (16K H100s; Dubey et al. 2024, Sec. 3.3.1 and 3.3.4).
LLAMA3_GPUS = 16384

#: Job-interrupting failures per device-hour, from Llama 3 405B's 419 unexpected
#: interruptions in 54 days on 16,384 H100 GPUs (Dubey et al. 2024, Sec. 3.3.4):
#: 419 / (54 * 24 * 16384) ~ 1.97e-5 per GPU-hour, i.e. one every ~5.8 GPU-years, or
#: one every ~3.1 hours on 16,384 GPUs. It counts interruptions of the job (any
#: component: GPU, HBM, network, host, software), attributed per GPU.
DEFAULT_FAILURE_RATE_PER_DEVICE_HOUR = LLAMA3_INTERRUPTIONS / (LLAMA3_DAYS * 24 * LLAMA3_GPUS)


def _check(name: str, value, *, positive: bool = False, allow_inf: bool = True) -> None:
    """Raise ValueError unless value (scalar or array) is >= 0 (> 0 if positive), not NaN."""
    if type(value) in (float, int):  # the frontier's scalar calls: no array round trip
        if (value > 0 if positive else value >= 0) and (allow_inf or value != math.inf):
            return
    a = np.asarray(value, dtype=float)
    bad = np.isnan(a) | (a <= 0 if positive else a < 0)
    if not allow_inf:
        bad |= np.isinf(a)
    if np.any(bad):
        shown = value if np.ndim(value) == 0 else a[bad].ravel()[0]
        need = "positive" if positive else "non-negative"
        if not allow_inf:
            need += " and finite"
        raise ValueError(f"{name}={shown!r}: must be {need}")


def _out(x):
    """Python float for 0-d results, arrays otherwise."""
    return float(x) if np.ndim(x) == 0 else x


def young_daly_interval_s(checkpoint_s, mtbf_s):
    """Young's first-order optimum checkpoint interval, seconds of work.

        tau_Y = sqrt(2 C M)

    (Young 1974), with C the checkpoint time and M the mean time between failures,
    both in seconds. It maximises the first-order goodput 1 - C/tau - tau/(2M).
    M = inf gives inf (never checkpoint). Accepts scalars or numpy arrays.
    """
    _check("checkpoint_s", checkpoint_s, allow_inf=False)
    _check("mtbf_s", mtbf_s, positive=True)
    c = np.asarray(checkpoint_s, float)
    m = np.asarray(mtbf_s, float)
    with np.errstate(invalid="ignore"):
        tau = np.sqrt(2.0 * c * m)
    return _out(np.where(np.isinf(m), np.inf, tau))


def daly_interval_s(checkpoint_s, mtbf_s):
    """Daly's higher-order optimum checkpoint interval, seconds of work.

        tau_D = sqrt(2 C M) [1 + (1/3) sqrt(C / 2M) + (1/9) (C / 2M)] - C   if C < 2M
        tau_D = M                                                          otherwise

    (Daly 2006, higher-order estimate), C the checkpoint time, M the mean time between failures,
    seconds. It tends to Young's sqrt(2 C M) as C/M -> 0 and approximates the
    optimum of the exact goodput of `expected_goodput` to within a fraction of a
    percent for C/M up to ~0.1. M = inf gives inf. Scalars or numpy arrays.
    """
    _check("checkpoint_s", checkpoint_s, allow_inf=False)
    _check("mtbf_s", mtbf_s, positive=True)
    c = np.asarray(checkpoint_s, float)
    m = np.asarray(mtbf_s, float)
    with np.errstate(invalid="ignore"):
        x = c / (2.0 * m)
        tau = np.sqrt(2.0 * c * m) * (1.0 + np.sqrt(x) / 3.0 + x / 9.0) - c
    tau = np.where(c < 2.0 * m, tau, m)
    return _out(np.where(np.isinf(m), np.inf, tau))


def _check_run(interval_s, checkpoint_s, restart_s, mtbf_s) -> None:
    """The four inputs of a checkpointed run: finite times, positive interval and MTBF."""
    _check("interval_s", interval_s, positive=True, allow_inf=False)
    _check("checkpoint_s", checkpoint_s, allow_inf=False)
    _check("restart_s", restart_s, allow_inf=False)
    _check("mtbf_s", mtbf_s, positive=True)


def segment_wall_s(interval_s, checkpoint_s, restart_s, mtbf_s):
    """Expected wall time to complete one segment of `interval_s` work and its checkpoint.

        T_seg = M e^{R/M} (e^{(tau + C)/M} - 1)

    (Daly 2006, restart included), exponential failures of mean M over wall time,
    tau the work per segment, C the checkpoint and R the restart time, seconds.
    A failure loses the segment's work and any checkpoint in progress; failures
    during a restart start it again. M = inf gives tau + C. Scalars or arrays.
    """
    _check_run(interval_s, checkpoint_s, restart_s, mtbf_s)
    tau = np.asarray(interval_s, float)
    c = np.asarray(checkpoint_s, float)
    r = np.asarray(restart_s, float)
    m = np.asarray(mtbf_s, float)
    with np.errstate(over="ignore", invalid="ignore"):
        t = m * np.exp(r / m) * np.expm1((tau + c) / m)
    return _out(np.where(np.isinf(m), tau + c, t))


def expected_goodput(interval_s, checkpoint_s, restart_s, mtbf_s):
    """Fraction of wall time spent on work that is kept, in [0, 1].

        goodput = tau / T_seg = tau / (M e^{R/M} (e^{(tau + C)/M} - 1))

    exact for exponential failures of mean M (renewal-reward over segments; Daly
    2006), with a checkpoint costing C seconds of blocking time after every tau
    seconds of work and a restart of R seconds plus the lost work since the last
    checkpoint after each failure. To first order:

        goodput ~ 1 - C/tau - tau/(2M) - R/M

    whose optimum over tau is Young's sqrt(2 C M). With M = inf the goodput is
    tau / (tau + C). Inputs in seconds; scalars or numpy arrays (broadcast).
    """
    t_seg = segment_wall_s(interval_s, checkpoint_s, restart_s, mtbf_s)
    with np.errstate(divide="ignore"):
        return _out(np.asarray(interval_s, float) / np.asarray(t_seg))


def first_order_goodput(interval_s, checkpoint_s, restart_s, mtbf_s):
    """First-order goodput 1 - C/tau - tau/(2M) - R/M, clipped at 0 (Young 1974).

    Good while C/tau, tau/M and R/M are all small; `expected_goodput` is exact.
    """
    _check_run(interval_s, checkpoint_s, restart_s, mtbf_s)
    tau = np.asarray(interval_s, float)
    m = np.asarray(mtbf_s, float)
    g = 1.0 - np.asarray(checkpoint_s, float) / tau - tau / (2.0 * m) - np.asarray(restart_s, float) / m
    return _out(np.maximum(g, 0.0))


def cluster_mtbf_s(device_failure_rate_per_hour, n_devices):
    """Mean time between job-interrupting failures of n devices, seconds.

        M = 3600 / (lambda n)

    with lambda the failures per device-hour: independent exponential failures
    superpose into one exponential process of rate lambda n, and any failure
    interrupts the synchronous job. A rate of 0 gives inf (failures off).
    """
    _check("device_failure_rate_per_hour", device_failure_rate_per_hour, allow_inf=False)
    _check("n_devices", n_devices, positive=True, allow_inf=False)
    rate_per_s = np.asarray(device_failure_rate_per_hour, float) * np.asarray(n_devices, float) / HOUR_S
    with np.errstate(divide="ignore"):
        return _out(1.0 / rate_per_s)


def expected_failures(wall_s, device_failure_rate_per_hour, n_devices):
    """Expected job-interrupting failures in `wall_s` seconds on n devices: wall / M.

    With the default rate, 54 days on 16,384 devices gives Llama 3's 419.
    """
    _check("wall_s", wall_s, allow_inf=False)
    return _out(np.asarray(wall_s, float) / np.asarray(cluster_mtbf_s(device_failure_rate_per_hour, n_devices)))


#: Seconds in Llama 3's snapshot (for tests and examples).
LLAMA3_SNAPSHOT_S = LLAMA3_DAYS * DAY_S


@cache
def job_goodput(n_devices: int, checkpoint_s: float, device_failure_rate_per_hour: float, restart_s: float) -> float:
    """Expected goodput of a synchronous job of `n_devices` (it stops when any fails) that
    checkpoints at Young's interval: `expected_goodput` at `young_daly_interval_s` of the
    job's MTBF (cached: the frontier asks for the same jobs many times)."""
    mtbf = cluster_mtbf_s(device_failure_rate_per_hour, n_devices)
    return float(expected_goodput(young_daly_interval_s(checkpoint_s, mtbf), checkpoint_s, restart_s, mtbf))
