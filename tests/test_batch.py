"""Tests of simulator.costs.batch: the critical-batch trade-off and the batch catalog.

Sources: McCandlish et al. 2018 (arXiv 1812.06162) Eq. 2.11; Kaplan et al. 2020
(arXiv 2001.08361) Eq. 5.1-5.5.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from source_helpers import imported_modules, top_level

from simulator.costs import batch as bt

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
positive = st.floats(min_value=1e-3, max_value=1e9, allow_nan=False, allow_infinity=False)


# ------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("b_crit", [1.0, 8192.0, 2e6])
def test_at_the_critical_batch(b_crit):
    assert bt.examples_multiplier(b_crit, b_crit) == pytest.approx(2.0)
    assert bt.steps_multiplier(b_crit, b_crit) == pytest.approx(2.0)
    assert bt.useful_fraction(b_crit, b_crit) == pytest.approx(0.5)
    assert bt.compute_efficiency(b_crit, b_crit) == pytest.approx(0.5)


def test_limits():
    assert bt.examples_multiplier(1e-12, 1.0) == pytest.approx(1.0)
    assert bt.useful_fraction(1e-12, 1.0) == pytest.approx(1.0)
    assert bt.steps_multiplier(1e-12, 1.0) > 1e11  # steps -> inf as B -> 0
    assert bt.steps_multiplier(1e12, 1.0) == pytest.approx(1.0)  # S -> S_min
    assert bt.useful_fraction(1e12, 1.0) < 1e-11  # compute all wasted as B -> inf
    # B = 3 B_crit: E = 4 E_min, S = 4/3 S_min, a quarter of the compute is useful
    assert bt.examples_multiplier(3.0, 1.0) == pytest.approx(4.0)
    assert bt.steps_multiplier(3.0, 1.0) == pytest.approx(4 / 3)
    assert bt.useful_fraction(3.0, 1.0) == pytest.approx(0.25)


@given(positive, st.floats(min_value=1e-4, max_value=1e4))
def test_mccandlish_trade_off_identity(b_crit, ratio):
    """(S/S_min - 1)(E/E_min - 1) = 1 for any B (B/B_crit kept within 1e-4..1e4, where
    1 + B/B_crit keeps enough digits for the subtraction)."""
    b = ratio * b_crit
    s = bt.steps_multiplier(b, b_crit)
    e = bt.examples_multiplier(b, b_crit)
    assert (s - 1) * (e - 1) == pytest.approx(1.0, rel=1e-9)
    # and E = B S in units of E_min = B_crit S_min
    assert e == pytest.approx(b / b_crit * s, rel=1e-9)


def test_vectorised():
    out = bt.useful_fraction(np.array([1.0, 2.0, 3.0]), 1.0)
    np.testing.assert_allclose(out, [1 / 2, 1 / 3, 1 / 4])


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan])
def test_rejects_non_positive(bad):
    with pytest.raises(ValueError, match="batch"):
        bt.useful_fraction(bad, 1.0)
    with pytest.raises(ValueError, match="loss"):
        bt.kaplan_critical_batch_tokens(bad)


# ------------------------------------------------------------------ Kaplan Eq. 5.3
@pytest.mark.parametrize(
    "loss, expected",
    [
        (1.0, 2e8),
        # 3^(1/0.21) = exp(4.7619 * 1.09861) = exp(5.2315) = 187.07; 2e8 / 187.07
        (3.0, 1.0691e6),
        # 2^(1/0.21) = exp(4.7619 * 0.69315) = exp(3.3007) = 27.13; 2e8 / 27.13
        (2.0, 7.371e6),
    ],
)
def test_kaplan_critical_batch_by_hand(loss, expected):
    assert bt.kaplan_critical_batch_tokens(loss) == pytest.approx(expected, rel=1e-3)


def test_kaplan_critical_batch_grows_as_loss_falls():
    losses = np.linspace(4.0, 1.5, 20)
    assert np.all(np.diff(bt.kaplan_critical_batch_tokens(losses)) > 0)


# ------------------------------------------------------------------ largest useful batch
def test_largest_useful_batch_closed_form():
    assert bt.largest_useful_batch(1e6, 0.5) == pytest.approx(1e6)
    assert bt.largest_useful_batch(1e6, 0.2) == pytest.approx(2.5e5)
    assert bt.largest_useful_batch(1e6, 0.0) == 0.0
    for bad in (-0.1, 1.0, 2.0):
        with pytest.raises(ValueError, match="max_waste"):
            bt.largest_useful_batch(1e6, bad)


@given(positive, st.floats(min_value=1e-6, max_value=0.999))
def test_largest_useful_batch_inverts_useful_fraction(b_crit, w):
    b = bt.largest_useful_batch(b_crit, w)
    assert bt.useful_fraction(b, b_crit) == pytest.approx(1 - w, rel=1e-9)
    assert bt.useful_fraction(b * 1.01, b_crit) < 1 - w  # larger batches waste more


# ------------------------------------------------------------------ catalog
def _package_csv() -> list[dict[str, str]]:
    from importlib.resources import files

    text = files("simulator.catalog").joinpath("batch_limits.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_every_row_has_a_source_and_a_unique_key():
    rows = bt.batch_limits()
    assert len(rows) == 31
    assert all(r.source.strip() for r in rows)
    assert len({r.key for r in rows}) == len(rows)
    assert all(r["source"].strip() for r in _package_csv())


def test_loader_reads_ramps_and_kinds():
    rows = {r.key: r for r in bt.batch_limits()}
    assert rows["alexnet"].batch_size == 128 and rows["alexnet"].year == 2012
    assert rows["deepseek_v3"].batch_tokens_ramp == (12.6e6, 62.9e6)
    assert rows["palm_540b"].batch_size_ramp == (512, 1024, 2048)
    assert rows["openai_five"].batch_size == 1e6 and rows["openai_five"].approximate
    assert rows["gpt3_175b"].batch_tokens == 3.2e6 and rows["gpt3_175b"].batch_size is None
    assert rows["goyal2017"].kind is bt.BatchKind.MAX_WITHOUT_LOSS
    assert rows["kaplan2020"].kind is bt.BatchKind.CRITICAL
    assert rows["mccandlish2018"].kind is bt.BatchKind.CRITICAL
    assert bt.batch_limits() is bt.batch_limits()  # cached


def test_csv_equals_shared_in_shared_columns():
    shared = SHARED / "batch_limits.csv"
    if not SHARED.exists():
        pytest.skip("../shared/data is absent")
    theirs = list(csv.DictReader(io.StringIO(shared.read_text(encoding="utf-8"))))
    ours = _package_csv()
    # the data columns are the shared file's; the package's prose (`outcome`, `verification`)
    # says where each row was checked since (catalog unverified), so it may be newer
    data = [k for k in theirs[0] if k not in ("outcome", "verification")]
    assert [{k: r[k] for k in data} for r in ours] == [{k: r[k] for k in data} for r in theirs]
    assert set(ours[0]) == set(theirs[0]) | {"key"}


def test_module_does_not_import_simpy():
    names = top_level(imported_modules(Path(bt.__file__)))
    assert not names & {"simpy", "pandas", "matplotlib"}


# ------------------------------------------------------------------ published batch laws
def test_batch_laws_match_their_published_closed_forms():
    laws = bt.batch_laws()
    assert set(laws) == {"kaplan", "deepseek", "porian", "step_law"}
    n, d = 4.05e11, 1.56e13  # a Llama-3-405B-like model and its tokens
    # DeepSeek LLM: B = 0.292 C^0.3271 with C = 6 N D; about 4.2e8 tokens at 1e28 FLOP (../shared/data notes)
    assert laws["deepseek"].tokens(1e28 / (6 * d), d) == pytest.approx(4.2e8, rel=0.05)
    assert laws["step_law"].tokens(n, d) == pytest.approx(0.58 * d ** 0.571)
    assert laws["step_law"].tokens(10 * n, d) == laws["step_law"].tokens(n, d)  # independent of N
    assert laws["porian"].tokens(n, d) == pytest.approx(0.7576 * n ** 0.703)
    assert laws["porian"].tokens(n, 10 * d) == laws["porian"].tokens(n, d)  # independent of D
    # Kaplan's goes through the loss: the same as the critical batch of L(N)
    assert laws["kaplan"].tokens(n, d) == pytest.approx(bt.kaplan_critical_batch_tokens(bt.kaplan_loss_nats(n)))


def test_a_bad_batch_law_row_is_one_line():
    head = "key,law,coefficient,exponent,variable,unit,domain_of_fit,source,url,verification,notes\n"
    with pytest.raises(ValueError, match=r"batch_laws.csv: line 2 \('x'\): column 'variable'"):
        bt.parse_batch_laws(head + "x,law,1,0.5,loss2,tokens,d,a paper,u,v,n\n")
    with pytest.raises(ValueError, match="coefficient and exponent must be > 0"):
        bt.parse_batch_laws(head + "x,law,-1,0.5,tokens,tokens,d,a paper,u,v,n\n")
