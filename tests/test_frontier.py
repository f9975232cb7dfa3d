"""The largest feasible run per date (simulator.frontier): one test per mechanism."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from itertools import pairwise

import pytest

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.eras import techniques, techniques_known
from simulator.catalog.hardware import default_links
from simulator.costs import failures as cf
from simulator.costs.batch import batch_limits
from simulator.frontier import inputs
from simulator.frontier.config import CHECKPOINT_BYTES_PER_PARAM, FrontierConfig, load_frontier, parse_frontier
from simulator.frontier.decompose import FACTORS, decompose, jumps
from simulator.frontier.series import LANDMARKS, compare, date_grid, frontier_series, published, to_frame
from simulator.frontier.solver import caps_at, solve
from simulator.frontier.utilization import Utilization
from simulator.frontier.workloads import families
from simulator.scenario import ScenarioError

BASE = load_frontier()


@pytest.fixture(scope="module")
def util():
    return Utilization(default_efficiency())


def cfg(**kw) -> FrontierConfig:
    return replace(BASE, **kw)


# ------------------------------------------------------------------ inputs
def test_every_input_row_has_a_source_and_a_known_quantity():
    rows = inputs.input_rows()
    assert len(rows) > 30
    assert all(r.source and r.quantity in inputs.QUANTITIES and r.value > 0 for r in rows)


def test_series_rules_largest_actor_largest_so_far_and_constants():
    rows = inputs.parse_inputs(
        "key,quantity,since,value,unit,actor,source,verification,notes\n"
        "a1,annual_spend_usd,2015,10,USD,A,s,doc,\n"
        "a2,annual_spend_usd,2017,4,USD,A,s,doc,\n"
        "b1,annual_spend_usd,2016,6,USD,B,s,doc,\n"
        "c1,cluster_devices,2015,100,devices,A,s,doc,\n"
        "c2,cluster_devices,2016,50,devices,B,s,doc,\n"
        "d1,max_duration_days,2020,90,days,all,s,doc,\n")
    assert inputs.value_at("annual_spend_usd", date(2016, 6, 1), rows) == 10  # A's 10 beats B's 6
    assert inputs.value_at("annual_spend_usd", date(2017, 6, 1), rows) == 6  # A fell to 4: B's latest wins
    assert inputs.value_at("annual_spend_usd", date(2014, 1, 1), rows) == 10  # before the rows: the earliest
    assert inputs.value_at("cluster_devices", date(2016, 6, 1), rows) == 100  # capacity stays
    assert inputs.value_at("max_duration_days", date(2010, 1, 1), rows) == 90  # a constant of the field
    with pytest.raises(ValueError, match="capex_usd"):
        inputs.value_at("capex_usd", date(2020, 1, 1), rows)


def test_bad_input_row_names_file_key_and_column():
    with pytest.raises(ValueError, match=r"frontier_inputs.csv: key='x': column 'value'"):
        inputs.parse_inputs("key,quantity,since,value,unit,actor,source,verification,notes\n"
                            "x,cluster_devices,2015,lots,devices,A,s,doc,\n")


def test_budget_is_spend_times_shares_and_can_be_frozen():
    at = date(2017, 10, 18)
    caps = caps_at(at, BASE)
    expected = (inputs.value_at("annual_spend_usd", at) * inputs.value_at("compute_share_of_spend", at)
                * inputs.value_at("run_share_of_compute", at))
    assert caps.budget_usd == pytest.approx(expected)
    frozen = caps_at(date(2024, 1, 1), cfg(budget_frozen_at=date(2016, 6, 30)))
    assert frozen.budget_usd == pytest.approx(caps_at(date(2016, 6, 30), BASE).budget_usd)


# ------------------------------------------------------------------ workloads
def test_family_batch_rows_are_the_batch_limits_csv_values():
    rows = {r.key: r for r in batch_limits()}
    for fam in families().values():
        for step in fam.batch_limits:
            if step.source.startswith("batch_limits.csv row"):
                key = step.source.split("'")[1]
                assert rows[key].batch_size == step.examples


# ------------------------------------------------------------------ mechanisms
DATES = [date(2010, 1, 1), date(2012, 9, 30), date(2014, 6, 1), date(2016, 9, 26), date(2017, 10, 18),
         date(2020, 7, 1), date(2023, 1, 1)]


@pytest.mark.parametrize("at", DATES)
def test_no_technique_is_used_before_it_is_known(at, util):
    run = solve(at, BASE, util, relax=False)
    known = {t.key for t in techniques_known(at)}
    assert run.feasible and set(run.techniques_used) <= known, (at, run.techniques_used)


def test_frozen_techniques_are_never_used_and_shrink_the_run(util):
    at = date(2020, 7, 1)
    free, frozen = solve(at, BASE, util, relax=False), solve(at, cfg(techniques_frozen_at=date(2012, 12, 31)),
                                                              util, relax=False)
    later = {k for k, t in techniques().items() if t.available > date(2012, 12, 31)}
    assert not set(frozen.techniques_used) & later
    # 2012's techniques: one host (a TPU's pod is its scale-up domain), or asynchronous replicas
    # of one host each (DistBelief, 2011-12)
    host = max(frozen.caps.host_devices, default_links(frozen.device)[2] or 1)
    assert frozen.n_devices <= max(host, frozen.caps.async_replicas * host)
    assert "async_data_parallel" in frozen.techniques_used or frozen.n_devices <= host
    assert frozen.flop < free.flop / 3  # 2012 had asynchronous replicas (DistBelief): they go far, not as far


def test_relaxing_the_binding_constraint_enlarges_the_run(util):
    for at in (date(2017, 10, 18), date(2023, 1, 1)):
        run = solve(at, BASE, util)
        assert run.binding, at
        first = run.binding[0]
        bigger = solve(at, BASE.relaxed(first, 2.0, run.caps.scales()), util, relax=False)
        assert bigger.flop > 1.3 * run.flop, (at, first)
        for c, g in run.gains.items():  # a constraint that does not bind changes nothing
            if c not in run.binding:
                assert g == pytest.approx(1.0, abs=0.021), (at, c)


def test_budget_bound_run_spends_its_budget(util):
    at = date(2023, 1, 1)
    roomy = {"max_devices": 1e7}  # the largest cluster must not bind
    run = solve(at, cfg(budget_usd=20e6, **roomy), util, relax=False)
    assert run.devices_limited_by == "budget"
    assert run.cost_usd == pytest.approx(20e6, rel=2 * run.price_usd_per_hour * run.days * 24 / 20e6)
    doubled = solve(at, cfg(budget_usd=40e6, **roomy), util, relax=False)
    # twice the money never shrinks the run, and buys at most twice the compute (utilization and
    # failures get worse with scale)
    assert run.flop < doubled.flop <= 2 * run.flop * 1.001


@pytest.mark.parametrize("at", [date(1975, 1, 1), date(2014, 6, 1), date(2019, 1, 1), date(2024, 1, 1)])
def test_a_larger_budget_never_shrinks_the_run(at, util):
    runs = [solve(at, cfg(budget_scale=k), util, relax=False).flop for k in (0.25, 0.5, 1.0, 2.0, 4.0)]
    assert all(b >= a * 0.999 for a, b in pairwise(runs)), runs


def test_budget_below_one_device_shortens_the_run(util):
    run = solve(date(2020, 7, 1), cfg(budget_usd=100.0, families=("vision_cnn",)), util, relax=False)
    assert run.n_devices == 1 and run.days < BASE.max_duration_days if BASE.max_duration_days else run.days < 180
    assert run.cost_usd == pytest.approx(100.0, rel=1e-6)


def test_batch_limit_caps_data_parallelism(util):
    # mid-2016: synchronous multi-node DP known, large-batch training not yet: ImageNet's useful
    # batch is VGG's 256 images at 32 per GPU, so at most 8 replicas however big the cluster
    roomy = {"families": ("vision_cnn",), "max_devices": 1e5, "budget_usd": 1e9, "async_replicas": 1.0,
             "data_scale": 1e6}  # the data must not bind either
    at = date(2016, 6, 1)
    run = solve(at, cfg(**roomy), util, relax=False)
    assert run.n_devices == 256 // 32 and run.devices_limited_by in ("batch", "host")
    wider = solve(at, cfg(**roomy, critical_batch_scale=4.0), util, relax=False)
    assert wider.n_devices == 4 * 256 // 32 and wider.devices_limited_by == "batch"
    # Goyal et al. 2017 (large batch, 8192 images): 256 replicas
    after = solve(date(2017, 7, 1), cfg(**roomy), util, relax=False)
    assert after.n_devices == 8192 // 32 and "large_batch" in after.techniques_used


def test_batch_waste_is_counted(util):
    run = solve(date(2017, 7, 1), cfg(families=("vision_cnn",), max_devices=1e5, budget_usd=1e9, data_scale=1e6), util,
                relax=False)
    assert run.useful_fraction == pytest.approx(1 / (1 + run.global_batch / run.critical_batch))
    assert run.useful_flop < run.flop


def test_goodput_is_the_young_daly_model_of_the_run(util):
    # at Llama 3's scale (16,384 devices) Young's first-order model holds within 5%
    run = solve(date(2024, 10, 1), cfg(max_devices=16384.0), util, relax=False)
    assert run.n_devices == 16384
    params = run.params
    ckpt = params * CHECKPOINT_BYTES_PER_PARAM / BASE.checkpoint_bytes_per_s
    mtbf = cf.cluster_mtbf_s(BASE.failure_rate_per_device_hour, run.n_devices)
    young = cf.first_order_goodput(cf.young_daly_interval_s(ckpt, mtbf), ckpt, BASE.restart_s, mtbf)
    assert run.goodput == pytest.approx(young, rel=0.05)
    assert run.goodput < 1
    exact = cf.expected_goodput(cf.young_daly_interval_s(ckpt, mtbf), ckpt, BASE.restart_s, mtbf)
    assert run.goodput == pytest.approx(exact, rel=1e-9)
    off = solve(date(2024, 10, 1), cfg(max_devices=16384.0, failure_rate_per_device_hour=0.0), util, relax=False)
    assert off.goodput == 1.0 and off.flop > run.flop


def test_flop_is_the_product_of_its_factors(util):
    run = solve(date(2020, 7, 1), BASE, util, relax=False)
    assert run.flop == pytest.approx(run.n_devices * run.peak_flops_per_s * run.mfu * run.goodput * run.days * 86400)


def test_growth_decomposition_multiplies_to_the_growth(util):
    a, b = solve(date(2012, 9, 30), BASE, util, relax=False), solve(date(2017, 10, 18), BASE, util, relax=False)
    g = decompose(a, b)
    assert set(g.factors) == set(FACTORS)
    assert math.prod(g.factors.values()) == pytest.approx(g.total)
    assert g.factors["devices"] > 100  # the era of parallelism: most of the growth is device count


def test_jumps_name_what_changed(util):
    runs = frontier_series(BASE, date_grid(date(2012, 7, 1), date(2013, 1, 1), "quarter"), relax=False, util=util)
    found = jumps(runs)
    assert found and any("intra_machine_split" in " ".join(why) for _, why in found)


def test_a_date_with_no_device_says_why(util):
    run = solve(date(1950, 1, 1), BASE, util)
    assert not run.feasible and "no device" in run.reason


def test_a_device_without_a_usable_peak_is_a_reason(util):
    run = solve(date(2017, 1, 1), cfg(devices=("tpu-v1",)), util)
    assert not run.feasible and "tpu-v1" in run.reason and "no peak" in run.reason


# ------------------------------------------------------------------ published comparison
def test_landmarks_are_compared_with_their_published_compute(util):
    points = {p.system: p for p in published()}
    assert points["AlexNet"].flop == pytest.approx(5.01e17)
    assert points["AlphaGo Zero"].flop == pytest.approx(1850 * 8.64e19, rel=0.01)
    for p, run in compare(BASE, util=util):
        assert p.system in LANDMARKS and run.at == p.at and run.feasible


def test_grid_and_frame():
    dates = date_grid(date(2012, 1, 15), date(2013, 1, 1), "quarter")
    assert dates == [date(2012, 4, 1), date(2012, 7, 1), date(2012, 10, 1), date(2013, 1, 1)]
    assert len(date_grid(date(2012, 1, 1), date(2025, 12, 31), "quarter")) == 56
    with pytest.raises(ValueError):
        date_grid(date(2012, 1, 1), date(2012, 1, 1), "week")


def test_frame_has_one_row_per_date(util):
    runs = frontier_series(BASE, [date(2012, 10, 1), date(1950, 1, 1)], util=util)
    frame = to_frame(runs)
    assert list(frame.date) == ["2012-10-01", "1950-01-01"]
    assert frame.feasible.tolist() == [True, False] and frame.reason[1]


# ------------------------------------------------------------------ scenario
def test_scenario_numbers_need_a_source(tmp_path):
    with pytest.raises(ScenarioError, match=r"\[frontier\] max_duration_days=30: no source"):
        parse_frontier({"frontier": {"max_duration_days": 30}}, "x.toml")
    ok = parse_frontier({"frontier": {"max_duration_days": 30}, "sources": {"max_duration_days": "a paper"}}, "x.toml")
    assert ok.max_duration_days == 30


@pytest.mark.parametrize("table, problem", [
    ({"budget_usd": -1}, "must be a number > 0"),
    ({"devices": ["gtx-9000"]}, "must be a non-empty list"),
    ({"max_waste": 1.5}, "must be in (0, 1)"),
    ({"budget_frozen_at": "last year"}, "ISO date"),
    ({"colour": "red"}, "unknown key"),
])
def test_bad_scenario_values_are_one_line(table, problem):
    src = {k: "s" for k in table}
    with pytest.raises(ScenarioError) as info:
        parse_frontier({"frontier": table, "sources": src}, "bad.toml")
    text = str(info.value)
    assert problem in text and "bad.toml" in text and "\n" not in text


def test_partial_dates_mean_the_first_day_of_their_period():
    from simulator.units import partial_date

    assert partial_date("2012") == date(2012, 1, 1)
    assert partial_date("2012-09") == date(2012, 9, 1)
    assert partial_date(" 2012-09-30 ") == date(2012, 9, 30)
    for bad in ("20x2", "2012-13", "2012-1-2-3", ""):
        with pytest.raises(ValueError, match="not a date"):
            partial_date(bad)


def test_a_dip_without_a_reason_carries_the_run_it_was_solved_at(util):
    from simulator.frontier.series import monotone

    base = solve(date(2023, 1, 1), BASE, util, relax=False)
    runs = [base, replace(base, at=date(2023, 4, 1), flop=base.flop / 2),
            replace(base, at=date(2023, 7, 1), flop=base.flop / 3)]
    out = monotone(runs)
    assert [r.flop for r in out] == [base.flop] * 3 and [r.at for r in out] == [r.at for r in runs]
    assert all(r.fall_reason.endswith("carried from 2023-01-01") for r in out[1:])
    cheaper = replace(base.caps, budget_usd=base.caps.budget_usd / 10)
    fell = monotone([base, replace(base, at=date(2023, 4, 1), flop=base.flop / 2, caps=cheaper)])
    assert fell[1].flop == base.flop / 2 and "budget fell" in fell[1].fall_reason


def test_the_frontier_trains_with_the_stack_of_its_date():
    """Each stack of the lineage from its release; none before the first; a scenario's
    `stacks` list replaces the lineage (an empty list: no stack at any date)."""
    from dataclasses import replace as _replace
    from datetime import date as _date

    from simulator.frontier.config import STACK_LINEAGE, FrontierConfig, stack_at

    cfg = FrontierConfig()
    assert cfg.stacks == STACK_LINEAGE
    assert stack_at(_date(2021, 8, 9), cfg) is None
    assert stack_at(_date(2021, 8, 10), cfg) == "megatron-lm-2021"
    assert stack_at(_date(2024, 9, 5), cfg) == "nemo-2024"
    assert stack_at(_date(2026, 1, 1), cfg) == "nemo-2025"
    assert stack_at(_date(2026, 1, 1), _replace(cfg, stacks=())) is None
