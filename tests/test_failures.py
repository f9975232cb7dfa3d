"""Failure / checkpoint / restart model: closed forms and the event simulation.

Sources:
- Young 1974 (CACM 17(9)): optimum interval sqrt(2 C M).
- Daly 2006 (FGCS 22(3)): higher-order interval and the exact expected wall time
  M e^{R/M} (e^{(tau + C)/M} - 1) per segment for exponential failures.
- Dubey et al. 2024 ("The Llama 3 Herd of Models", Sec. 3.3.4): 419 unexpected
  interruptions in 54 days on 16,384 H100 GPUs.

Acceptance criterion of the issue: the simulated goodput matches Young/Daly
(the closed form) within 5% for exponential failures.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from source_helpers import imported_modules, top_level

from simulator.costs.failures import (
    DEFAULT_FAILURE_RATE_PER_DEVICE_HOUR,
    LLAMA3_DAYS,
    LLAMA3_GPUS,
    LLAMA3_INTERRUPTIONS,
    cluster_mtbf_s,
    daly_interval_s,
    expected_failures,
    expected_goodput,
    first_order_goodput,
    segment_wall_s,
    young_daly_interval_s,
)
from simulator.engine.failures import RunOutcome, simulate_run

DAY_S = 86400.0
INF = math.inf


# --- closed forms -------------------------------------------------------------------


def test_young_hand_values():
    assert young_daly_interval_s(2.0, 100.0) == pytest.approx(20.0)  # sqrt(400)
    assert young_daly_interval_s(8.0, 100.0) == pytest.approx(40.0)  # sqrt(1600)
    assert young_daly_interval_s(60.0, 86400.0) == pytest.approx(3219.9379, rel=1e-7)  # sqrt(10,368,000)
    assert young_daly_interval_s(60.0, INF) == INF


def test_daly_hand_values():
    # C=2, M=100: C/2M = 0.01, sqrt = 0.1: 20 (1 + 0.1/3 + 0.01/9) - 2 = 841/45
    assert daly_interval_s(2.0, 100.0) == pytest.approx(841 / 45, rel=1e-12)
    # C=8, M=100: C/2M = 0.04, sqrt = 0.2: 40 (1 + 0.2/3 + 0.04/9) - 8 = 40 + 8/3 + 8/45 - 8
    assert daly_interval_s(8.0, 100.0) == pytest.approx(32 + 8 / 3 + 8 / 45, rel=1e-12)
    # C >= 2M: tau = M
    assert daly_interval_s(250.0, 100.0) == 100.0
    assert daly_interval_s(200.0, 100.0) == 100.0
    assert daly_interval_s(60.0, INF) == INF


def test_daly_tends_to_young():
    m = 1.0
    prev = INF
    for c in (1e-2, 1e-4, 1e-6, 1e-8):
        gap = abs(daly_interval_s(c, m) / young_daly_interval_s(c, m) - 1)
        assert gap < prev
        prev = gap
    assert prev < 1e-4


def test_vectorised():
    c = np.array([2.0, 8.0, 250.0])
    np.testing.assert_allclose(daly_interval_s(c, 100.0), [841 / 45, 32 + 8 / 3 + 8 / 45, 100.0])
    np.testing.assert_allclose(young_daly_interval_s(c, 100.0), np.sqrt(200 * c))
    g = expected_goodput(np.array([1.0, 2.0]), 0.1, 0.0, np.array([INF, 10.0]))
    assert g.shape == (2,) and g[0] == pytest.approx(1 / 1.1)


def test_expected_goodput_hand_values():
    # tau=1, C=R=0, M=1: 1 / (e - 1)
    assert expected_goodput(1.0, 0.0, 0.0, 1.0) == pytest.approx(1 / (math.e - 1))
    # restart multiplies the segment time by e^{R/M}
    assert expected_goodput(1.0, 0.5, 2.0, 4.0) == pytest.approx(1.0 / (4 * math.exp(0.5) * math.expm1(1.5 / 4)))
    assert segment_wall_s(1.0, 0.5, 2.0, 4.0) == pytest.approx(4 * math.exp(0.5) * math.expm1(0.375))
    # no failures: tau / (tau + C)
    assert expected_goodput(100.0, 5.0, 1e6, INF) == pytest.approx(100 / 105)


def test_first_order_approximation():
    """1 - C/tau - tau/2M - R/M matches the exact goodput when all ratios are small."""
    m, c, r = 1e6, 10.0, 100.0
    tau = young_daly_interval_s(c, m)
    exact, approx = expected_goodput(tau, c, r, m), first_order_goodput(tau, c, r, m)
    assert approx == pytest.approx(exact, abs=1e-4)
    assert approx == pytest.approx(1 - 2 * math.sqrt(c / (2 * m)) - r / m)


@pytest.mark.parametrize("c_over_m", [1e-4, 1e-3, 1e-2, 0.05, 0.1])
def test_goodput_maximised_near_daly(c_over_m):
    m = 3600.0
    c = c_over_m * m
    tau_d = daly_interval_s(c, m)
    taus = np.geomspace(tau_d / 20, tau_d * 20, 20001)
    g = expected_goodput(taus, c, 0.1 * m, m)
    best = taus[np.argmax(g)]
    assert best == pytest.approx(tau_d, rel=0.10)
    # and the optimum does not depend on the restart time
    assert taus[np.argmax(expected_goodput(taus, c, 0.0, m))] == best


def test_cluster_mtbf():
    assert cluster_mtbf_s(1.0, 1) == pytest.approx(3600.0)
    assert cluster_mtbf_s(1e-4, 1000) == pytest.approx(36000.0)
    assert cluster_mtbf_s(0.0, 1000) == INF


def test_default_rate_reproduces_llama3():
    assert DEFAULT_FAILURE_RATE_PER_DEVICE_HOUR == pytest.approx(419 / (54 * 24 * 16384))
    assert 1.9e-5 < DEFAULT_FAILURE_RATE_PER_DEVICE_HOUR < 2.0e-5
    n = expected_failures(LLAMA3_DAYS * DAY_S, DEFAULT_FAILURE_RATE_PER_DEVICE_HOUR, LLAMA3_GPUS)
    assert n == pytest.approx(LLAMA3_INTERRUPTIONS, abs=0.5)
    m = cluster_mtbf_s(DEFAULT_FAILURE_RATE_PER_DEVICE_HOUR, LLAMA3_GPUS)
    assert LLAMA3_DAYS * DAY_S / m == pytest.approx(419, abs=0.5)
    assert 3.0 < m / 3600 < 3.2  # one interruption every ~3.1 hours


# --- event simulation ---------------------------------------------------------------


def _mean_goodput(n_runs, work_s, interval_s, c, r, m, seed):
    rng = np.random.default_rng(seed)
    outs = [simulate_run(work_s, interval_s, c, r, m, rng) for _ in range(n_runs)]
    return float(np.mean([o.goodput for o in outs])), sum(o.n_failures for o in outs)


@pytest.mark.parametrize("factor", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("interval", ["young", "daly"])
def test_simulated_goodput_matches_closed_form(interval, factor):
    """Acceptance: simulated goodput within 5% of the exponential closed form."""
    m = 3 * 3600.0  # a 3-hour cluster MTBF (about Llama 3 on 16k GPUs)
    c, r = 0.02 * m, 0.05 * m
    tau = factor * (young_daly_interval_s if interval == "young" else daly_interval_s)(c, m)
    mean_g, n_fail = _mean_goodput(8, 400 * m, tau, c, r, m, seed=1234)
    assert n_fail > 2000
    assert mean_g == pytest.approx(expected_goodput(tau, c, r, m), rel=0.05)
    # In practice much closer (the renewal-reward expression is exact).
    assert mean_g == pytest.approx(expected_goodput(tau, c, r, m), rel=0.02)


def test_simulated_llama3_failure_count():
    m = cluster_mtbf_s(DEFAULT_FAILURE_RATE_PER_DEVICE_HOUR, LLAMA3_GPUS)
    c, r = 60.0, 600.0  # a one-minute checkpoint, a ten-minute restart
    out = simulate_run(LLAMA3_DAYS * DAY_S, young_daly_interval_s(c, m), c, r, m, np.random.default_rng(2024))
    assert LLAMA3_INTERRUPTIONS / 2 <= out.n_failures <= LLAMA3_INTERRUPTIONS * 2
    assert 0.8 < out.goodput < 1.0


def test_same_seed_same_outcome():
    args = (500 * 3600.0, 1800.0, 60.0, 300.0, 3 * 3600.0)
    a = simulate_run(*args, np.random.default_rng(7))
    b = simulate_run(*args, np.random.default_rng(7))
    c = simulate_run(*args, np.random.default_rng(8))
    assert a == b
    assert a != c
    np.random.seed(0)  # the global numpy state plays no part
    assert simulate_run(*args, np.random.default_rng(7)) == a


def test_accounting_adds_up():
    out = simulate_run(200 * 3600.0, 1800.0, 120.0, 600.0, 3600.0, np.random.default_rng(3))
    assert isinstance(out, RunOutcome)
    assert out.n_failures > 50
    total = out.work_s + out.checkpoint_s_total + out.lost_work_s + out.restart_s_total
    assert total == pytest.approx(out.wall_s, rel=1e-9)
    assert out.goodput == pytest.approx(out.work_s / out.wall_s)
    # every failure starts a restart of 600 s; interrupted ones count the time spent
    assert 0 < out.restart_s_total <= out.n_failures * 600.0
    assert out.n_checkpoints == math.ceil(200 * 3600 / 1800) - 1  # every segment but the last


@pytest.mark.parametrize("work, interval, n_ckpt", [(10.0, 3.0, 3), (9.0, 3.0, 2), (2.0, 3.0, 0), (0.7, 0.1, 6)])
def test_no_failures(work, interval, n_ckpt):
    out = simulate_run(work, interval, 1.5, 100.0, INF, np.random.default_rng(0))
    assert out.n_failures == 0 and out.n_checkpoints == n_ckpt
    assert out.lost_work_s == 0 and out.restart_s_total == 0
    assert out.wall_s == pytest.approx(work + 1.5 * n_ckpt)
    assert out.goodput == pytest.approx(work / (work + 1.5 * n_ckpt))


def test_failure_during_checkpoint_loses_it():
    """A checkpoint as long as the MTBF usually fails: work is lost, checkpoints still finish sometimes."""
    out = simulate_run(50.0, 1.0, 1.0, 0.0, 1.0, np.random.default_rng(5))
    assert out.n_failures > out.n_checkpoints > 0
    assert out.lost_work_s > 0


def test_events_scale_with_failures_not_steps(monkeypatch):
    """simpy events processed <= a few per checkpoint and per failure, whatever the work."""
    import simpy

    steps = 0
    step = simpy.Environment.step

    def counting_step(self):
        nonlocal steps
        steps += 1
        return step(self)

    monkeypatch.setattr(simpy.Environment, "step", counting_step)
    out = simulate_run(365 * DAY_S, 30 * DAY_S, 600.0, 600.0, INF, np.random.default_rng(0))
    assert out.n_checkpoints == 12 and steps <= 3 * (12 + 1) + 2
    steps = 0
    out = simulate_run(100 * DAY_S, 3600.0, 60.0, 600.0, 5 * 3600.0, np.random.default_rng(0))
    assert out.n_failures > 100
    assert steps <= 4 * (out.n_checkpoints + out.n_failures + 1) + 2


# --- bad arguments ------------------------------------------------------------------

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: young_daly_interval_s(-1.0, 100.0), "checkpoint_s"),
        (lambda: young_daly_interval_s(1.0, 0.0), "mtbf_s"),
        (lambda: daly_interval_s(1.0, -5.0), "mtbf_s"),
        (lambda: daly_interval_s(float("nan"), 5.0), "checkpoint_s"),
        (lambda: expected_goodput(0.0, 1.0, 1.0, 100.0), "interval_s"),
        (lambda: expected_goodput(10.0, -1.0, 1.0, 100.0), "checkpoint_s"),
        (lambda: expected_goodput(10.0, 1.0, -1.0, 100.0), "restart_s"),
        (lambda: expected_goodput(10.0, 1.0, 1.0, 0.0), "mtbf_s"),
        (lambda: expected_goodput(np.array([10.0, -2.0]), 1.0, 1.0, 100.0), "interval_s"),
        (lambda: cluster_mtbf_s(-1e-5, 100), "device_failure_rate_per_hour"),
        (lambda: cluster_mtbf_s(1e-5, 0), "n_devices"),
        (lambda: simulate_run(-1.0, 10.0, 1.0, 1.0, 100.0, RNG), "work_s"),
        (lambda: simulate_run(100.0, 0.0, 1.0, 1.0, 100.0, RNG), "interval_s"),
        (lambda: simulate_run(100.0, 10.0, -1.0, 1.0, 100.0, RNG), "checkpoint_s"),
        (lambda: simulate_run(100.0, 10.0, 1.0, -1.0, 100.0, RNG), "restart_s"),
        (lambda: simulate_run(100.0, 10.0, 1.0, 1.0, 0.0, RNG), "mtbf_s"),
        (lambda: simulate_run(100.0, 10.0, 1.0, 1.0, -3.0, RNG), "mtbf_s"),
        (lambda: simulate_run(1e9, 10.0, 1.0, 1.0, 100.0, RNG), "expected"),
        (lambda: simulate_run(1e6, 100.0, 1.0, 1.0, 1.0, RNG), "expected"),
    ],
)
def test_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        simulate_run(100.0, 10.0, 1.0, 1.0, 100.0, 42)


def test_costs_module_is_pure():
    """costs/failures.py imports neither simpy, pandas nor matplotlib (layering)."""
    src = Path(__file__).resolve().parents[1] / "simulator" / "costs" / "failures.py"
    modules = imported_modules(src)
    for module in modules:
        if module.startswith("simulator."):
            assert module.split(".")[1] in {"core", "costs"}
    assert not top_level(modules) & {"simpy", "pandas", "matplotlib"}
