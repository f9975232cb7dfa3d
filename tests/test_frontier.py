"""The largest feasible run per date (simulator.frontier): one test per mechanism."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta
from itertools import pairwise

import pytest

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.scenario import ScenarioError
from simulator.costs import failures as cf
from simulator.costs.batch import batch_limits
from simulator.frontier import inputs
from simulator.frontier import solver as solver_module
from simulator.frontier.actors import actors, actors_at
from simulator.frontier.config import CHECKPOINT_BYTES_PER_PARAM, FrontierConfig, load_frontier, parse_frontier
from simulator.frontier.decompose import FACTORS, decompose, jumps
from simulator.frontier.ledger import facts_of
from simulator.frontier.market import ActorMarket, caps_for
from simulator.frontier.series import LANDMARKS, compare, date_grid, frontier_series, published, to_frame
from simulator.frontier.solver import _known, solve
from simulator.frontier.utilization import Utilization
from simulator.frontier.workloads import families

BASE = load_frontier()
HEADER = "key,quantity,since,value,unit,actor,source,verification,notes,device,device_tdp_w,actor_key,run_fact_of\n"


@pytest.fixture(scope="module")
def util():
    return Utilization(default_efficiency())


def cfg(**kw) -> FrontierConfig:
    return replace(BASE, **kw)


# ------------------------------------------------------------------ inputs
def test_every_input_row_has_a_source_a_known_quantity_and_an_actor():
    rows = inputs.all_input_rows()
    assert len(rows) > 100
    known = set(actors()) | {inputs.MARKET}
    assert all(r.source and r.quantity in inputs.QUANTITIES and r.value > 0 and r.actor_key in known for r in rows)


def test_series_rules_are_per_actor():
    rows = inputs.parse_inputs(
        HEADER + "a1,annual_spend_usd,2015,10,USD,A,s,doc,,,,a,\n"
        "a2,annual_spend_usd,2017,4,USD,A,s,doc,,,,a,\n"
        "b1,annual_spend_usd,2016,6,USD,B,s,doc,,,,b,\n"
        "c1,cluster_devices,2015,100,devices,A,s,doc,,v100-16gb,,a,\n"
        "c2,cluster_devices,2016,50,devices,A,s,doc,,v100-16gb,,a,\n"
        "c3,cluster_devices,2016,70,devices,A,s,doc,,a100-40gb,,a,\n"
        "h1,host_devices,2014,8,devices,M,s,doc,,,,market,\n")
    assert inputs.value_at("annual_spend_usd", date(2016, 6, 1), rows, "a") == 10
    assert inputs.value_at("annual_spend_usd", date(2017, 6, 1), rows, "a") == 4  # an actor's latest row
    assert inputs.value_at("annual_spend_usd", date(2014, 1, 1), rows, "a") is None  # no budget before its first
    assert inputs.value_at("annual_spend_usd", date(2016, 6, 1), rows, "b") == 6
    found, refs = inputs.clusters_at(date(2016, 6, 1), rows, "a")
    assert dict(found) == {"v100-16gb": 100, "a100-40gb": 70}  # the largest cluster of each device stays
    assert inputs.value_at("host_devices", date(2015, 1, 1), rows) == 8
    # a drawn delay moves every date: the 2016 cluster is not there yet 200 days later
    assert dict(inputs.clusters_at(date(2016, 6, 1), rows, "a", shift_days=200)[0]) == {"v100-16gb": 100}
    with pytest.raises(ValueError, match="capex_usd"):
        inputs.value_at("capex_usd", date(2020, 1, 1), rows)


def test_bad_input_row_names_file_key_and_column():
    with pytest.raises(ValueError, match=r"frontier_inputs.csv: key='x': column 'value'"):
        inputs.parse_inputs(HEADER + "x,cluster_devices,2015,lots,devices,A,s,doc,,,,a,\n")
    with pytest.raises(ValueError, match=r"key='y': column 'run_fact_of': unknown run 'nobody'"):
        inputs.parse_inputs(HEADER + "y,cluster_devices,2015,5,devices,A,s,doc,,,,a,nobody\n")


def test_budget_is_spend_times_shares_and_can_be_frozen():
    at, actor = date(2017, 10, 18), actors()["deepmind"]
    caps = caps_for(actor, at, 20.0, BASE)
    rows = inputs.input_rows()
    expected = (inputs.value_at("annual_spend_usd", at, rows, "deepmind")
                * inputs.value_at("compute_share_of_spend", at, rows, "deepmind") * BASE.input("run_share"))
    assert caps.budget_usd == pytest.approx(expected) and caps.budget_basis == "run"
    frozen = caps_for(actor, date(2022, 1, 1), 20.0, cfg(budget_frozen_at=date(2016, 6, 30)))
    assert frozen.budget_usd == pytest.approx(caps_for(actor, date(2016, 6, 30), 20.0, BASE).budget_usd)
    assert caps_for(actors()["meta"], at, 20.0, BASE).budget_usd is None  # no public AI budget: its sites bind


def test_a_cluster_counts_for_its_own_device_and_a_site_for_any():
    caps = caps_for(actors()["nvidia"], date(2017, 1, 1), 20.0, BASE)
    assert caps.supply_devices(None, 1, "p100-sxm2") == 992  # SaturnV's P100s
    assert caps.supply_devices(None, 1, "k80") is None  # not a K80 cluster, and no site power known for it
    watts = 1000.0
    assert caps.supply_devices(watts, 1, "k80") == pytest.approx(caps.site_power_w / watts)  # SaturnV's power


# ------------------------------------------------------------------ actors
def test_actors_are_active_in_their_span_and_use_only_their_pools(util):
    at = date(2016, 1, 1)
    keys = {a.key for a in actors_at(at)}
    assert {"research_group", "google", "deepmind", "baidu", "meta"} <= keys and "xai" not in keys
    assert "deepmind" not in {a.key for a in actors_at(date(2023, 5, 1))}  # merged into google 2023-04-20
    tpus = [o.key for o in ActorMarket(actors()["google"], 20.0)(date(2018, 1, 1), BASE)[1]]
    gpus_only = [o.key for o in ActorMarket(actors()["meta"], 20.0)(date(2018, 1, 1), BASE)[1]]
    assert "tpu-v2" in tpus and not [k for k in gpus_only if k.startswith("tpu")]
    assert "tpu-v2" not in [o.key for o in ActorMarket(actors()["google"], 20.0)(date(2017, 5, 1), BASE)[1]]
    # DeepMind trains on Google's sites
    assert caps_for(actors()["deepmind"], date(2018, 6, 1), 20.0, BASE).clusters == \
        caps_for(actors()["google"], date(2018, 6, 1), 20.0, BASE).clusters


def test_a_renter_pays_the_cloud_markup():
    owner = {o.key: o.price for o in ActorMarket(actors()["meta"], 20.0)(date(2021, 1, 1), BASE)[1]}
    renter = {o.key: o.price for o in ActorMarket(actors()["openai"], 20.0)(date(2021, 1, 1), BASE)[1]}
    assert renter["a100-40gb"] == pytest.approx(owner["a100-40gb"] * BASE.input("cloud_markup"))


def test_a_chip_without_a_price_gets_its_generations_price_per_flops():
    from simulator.catalog.hardware import accelerators
    from simulator.frontier.prices import imputed_price, training_peak

    price, method = imputed_price("gb200", date(2025, 7, 1), "capex")
    assert math.isfinite(price) and "imputed" in method
    names = method.split("(")[1].split(")")[0].split(", ")
    from simulator.catalog.eras import price_per_device_hour

    per = sorted(price_per_device_hour(k, date(2025, 7, 1), prefer="capex").usd_per_hour / training_peak(accelerators()[k])
                 for k in names)
    median = per[len(per) // 2] if len(per) % 2 else (per[len(per) // 2 - 1] + per[len(per) // 2]) / 2
    assert price == pytest.approx(median * training_peak(accelerators()["gb200"]))
    offers = ActorMarket(actors()["xai"], 20.0)(date(2025, 7, 1), BASE)[1]
    assert "gb200" in [o.key for o in offers]  # never dropped for want of a price


# ------------------------------------------------------------------ run length
def test_run_length_is_the_economic_optimum_capped_by_the_turnaround():
    from simulator.frontier.duration import economic_days, run_length_days

    at = date(2017, 1, 1)
    r = (math.log(2) / BASE.input("hardware_doubling_years_gpu") + math.log(BASE.input("investment_growth_per_year"))
         + math.log(2) / (BASE.input("algorithmic_halving_months_lm") / 12))
    assert economic_days(at, BASE, "algorithmic_halving_months_lm") == pytest.approx(365.25 / r)
    research = run_length_days(actors()["google"], at, BASE, "algorithmic_halving_months_lm")
    assert research == (BASE.input("research_turnaround_days"), "research turnaround")
    flagship = run_length_days(actors()["openai"], date(2021, 1, 1), BASE, "algorithmic_halving_months_lm")
    assert flagship[1] == "economic optimum" and flagship[0] == pytest.approx(
        economic_days(date(2021, 1, 1), BASE, "algorithmic_halving_months_lm"))
    assert run_length_days(actors()["openai"], at, cfg(max_duration_days=30.0), None) == (30.0, "scenario")


@pytest.mark.parametrize("at", [date(1975, 1, 1), date(2012, 9, 30), date(2017, 10, 18), date(2025, 7, 1)])
def test_a_run_starts_its_length_before_the_date(at, util):
    run = solve(at, BASE, util, relax=False)
    assert run.feasible and run.start == at - timedelta(days=run.caps.max_duration_days)
    assert run.days <= run.caps.max_duration_days * (1 + 1e-9)


# ------------------------------------------------------------------ workloads
def test_family_batch_rows_are_the_batch_limits_csv_values():
    rows = {r.key: r for r in batch_limits()}
    for fam in families().values():
        for step in fam.batch_limits:
            if step.source.startswith("batch_limits.csv row"):
                key = step.source.split("'")[1]
                assert rows[key].batch_size == step.value


def test_a_withheld_run_leaves_its_family_without_its_rows():
    fam = families()["search_selfplay"]
    assert fam.learner_bound(date(2018, 1, 1)).value == 64 * (1 + 78)  # AlphaZero's 64 learners and their actors
    seen = fam.view(frozenset({"alphazero"}))
    assert seen.learner_bound(date(2018, 1, 1)) is None  # AlphaZero's design is gone: the supply alone bounds
    assert seen.learner_bound(date(2020, 1, 1)).value == 8 * (1 + 250)  # ELF OpenGo's, once published
    assert families()["transformer_lm"].view(frozenset({"transformer"})).since[0].since == date(2018, 6, 11)
    sup = families()["supervised"].view(frozenset({"goyal2017"}))
    assert not [d for d in sup.batch_limits if "goyal2017" in d.run_fact_of]


# ------------------------------------------------------------------ mechanisms
DATES = [date(2010, 1, 1), date(2012, 9, 30), date(2014, 6, 1), date(2016, 9, 26), date(2017, 10, 18),
         date(2020, 7, 1), date(2023, 1, 1)]


@pytest.mark.parametrize("at", DATES)
def test_no_technique_is_used_before_its_actor_knows_it(at, util):
    run = solve(at, BASE, util, relax=False)
    assert run.feasible and set(run.techniques_used) <= _known(run.start, BASE, run.actor), (at, run.techniques_used)


def test_frozen_techniques_are_never_used_and_shrink_the_run(util):
    at = date(2022, 7, 1)
    free, frozen = solve(at, BASE, util, relax=False), solve(at, cfg(techniques_frozen_at=date(2012, 12, 31)),
                                                              util, relax=False)
    assert set(frozen.techniques_used) <= _known(date(2012, 12, 31), BASE, frozen.actor)
    assert frozen.flop < free.flop / 3


def test_relaxing_the_binding_constraint_enlarges_the_run(util):
    for at in (date(2017, 10, 18), date(2023, 1, 1)):
        run = solve(at, BASE, util)
        assert run.binding, at
        first = run.binding[0]
        bigger = solve(at, BASE.relaxed(first, 2.0, run.caps.scales()), util, relax=False)
        assert bigger.flop > 1.02 * run.flop, (at, first)
        for c, g in run.gains.items():  # a constraint that does not bind changes nothing
            if c not in run.binding:
                assert g == pytest.approx(1.0, abs=0.021), (at, c)


@pytest.mark.parametrize("actor, basis", [("openai", "run"), ("meta", "rate")])
def test_budget_bound_run_spends_its_budget(actor, basis, util):
    at = date(2023, 1, 1)
    roomy = {"max_devices": 1e7, "actors": (actor,)}  # the sites must not bind
    run = solve(at, cfg(budget_usd=20e6, **roomy), util, relax=False)
    assert run.devices_limited_by == "budget" and run.caps.budget_basis == basis
    # "run": the budget is spent on the run; "rate": a year's budget, for as long as the run lasts
    spent = 20e6 if basis == "run" else 20e6 * run.days / 365.25
    assert run.cost_usd == pytest.approx(spent, rel=2 * run.price_usd_per_hour * run.days * 24 / spent)
    doubled = solve(at, cfg(budget_usd=40e6, **roomy), util, relax=False)
    assert run.flop < doubled.flop <= 2 * run.flop * 1.001


@pytest.mark.parametrize("at", [date(1975, 1, 1), date(2014, 6, 1), date(2019, 1, 1), date(2024, 1, 1)])
def test_a_larger_budget_never_shrinks_the_run(at, util):
    runs = [solve(at, cfg(budget_scale=k), util, relax=False).flop for k in (0.25, 0.5, 1.0, 2.0, 4.0)]
    assert all(b >= a * 0.999 for a, b in pairwise(runs)), runs


def test_budget_below_one_device_shortens_a_renters_run(util):
    run = solve(date(2020, 7, 1), cfg(budget_usd=100.0, actors=("openai",), families=("supervised",)), util,
                relax=False)
    assert run.n_devices == 1 and run.days < run.caps.max_duration_days
    assert run.cost_usd == pytest.approx(100.0, rel=1e-6)


def test_batch_limit_caps_data_parallelism(util):
    # mid-2016: synchronous multi-node DP known, large-batch training not yet: a conventional batch of
    # 256 at 32 per GPU allows 8 replicas however big the cluster
    roomy = cfg(families=("supervised",), actors=("google",), max_devices=1e5, budget_usd=1e9, async_replicas=1.0)
    roomy = roomy.with_draws({"conventional_batch_examples": 256.0})
    run = solve(date(2016, 6, 1), roomy, util, relax=False)
    assert run.n_devices == 256 // 32 and run.devices_limited_by == "batch"
    wider = solve(date(2016, 6, 1), replace(roomy, critical_batch_scale=4.0), util, relax=False)
    assert wider.n_devices == 4 * 256 // 32 and wider.devices_limited_by == "batch"
    # Goyal et al. 2017 (large batch, 8192 images): 256 replicas once the run starts after it
    after = solve(date(2017, 7, 1), roomy, util, relax=False)
    assert after.start >= date(2017, 6, 8) and after.n_devices == 8192 // 32


def test_batch_waste_is_counted(util):
    run = solve(date(2020, 7, 1), cfg(families=("transformer_lm",)), util, relax=False)
    assert run.useful_fraction == pytest.approx(1 / (1 + run.global_batch / run.critical_batch))
    assert run.useful_flop < run.flop


def test_goodput_is_the_young_daly_model_of_the_run(util):
    # at Llama 3's scale (16,384 devices) Young's first-order model holds within 5%
    run = solve(date(2024, 10, 1), cfg(max_devices=16384.0, families=("transformer_lm",)), util, relax=False)
    assert run.n_devices == 16384
    ckpt = run.params * CHECKPOINT_BYTES_PER_PARAM / BASE.checkpoint_bytes_per_s
    mtbf = cf.cluster_mtbf_s(BASE.failure_rate, run.n_devices)
    young = cf.first_order_goodput(cf.young_daly_interval_s(ckpt, mtbf), ckpt, BASE.restart, mtbf)
    assert run.goodput == pytest.approx(young, rel=0.05) and run.goodput < 1
    exact = cf.expected_goodput(cf.young_daly_interval_s(ckpt, mtbf), ckpt, BASE.restart, mtbf)
    assert run.goodput == pytest.approx(exact, rel=1e-9)
    off = solve(date(2024, 10, 1), cfg(max_devices=16384.0, families=("transformer_lm",),
                                       failure_rate_per_device_hour=0.0), util, relax=False)
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
    runs = frontier_series(BASE, date_grid(date(2012, 7, 1), date(2013, 7, 1), "quarter"), relax=False, util=util)
    found = jumps(runs)
    assert found and any("technique" in " ".join(why) for _, why in found)


def test_pruned_and_full_searches_give_the_same_run(util, monkeypatch):
    """Actors whose bound cannot beat the best so far are skipped, dominated offers dropped and
    model sizes bisected: the answer must not change against trying everything."""
    at_dates = (date(1987, 6, 1), date(2016, 11, 5), date(2018, 7, 1), date(2020, 7, 1), date(2025, 1, 1),
                date(2026, 7, 1))
    pruned = [solve(d, BASE, util, relax=False) for d in at_dates]
    monkeypatch.setattr(solver_module, "PRUNE", False)
    monkeypatch.setattr(solver_module, "SIZE_BOUND", False)
    full = [solve(d, BASE, util, relax=False) for d in at_dates]
    for a, b in zip(pruned, full, strict=True):
        assert (a.flop, a.actor, a.device, a.n_devices) == (b.flop, b.actor, b.device, b.n_devices)


def test_a_date_with_no_actor_says_why(util):
    run = solve(date(1950, 1, 1), BASE, util)
    assert not run.feasible and "no actor trained at 1950-01-01" in run.reason


def test_a_device_without_a_usable_peak_is_a_reason(util):
    run = solve(date(2018, 1, 1), cfg(devices=("tpu-v1",)), util)
    assert not run.feasible and "tpu-v1" in run.reason and "no peak" in run.reason


# ------------------------------------------------------------------ published comparison
def test_landmarks_are_compared_with_their_published_compute(util):
    points = {p.system: p for p in published()}
    assert points["AlexNet"].flop == pytest.approx(5.01e17)
    assert points["AlphaGo Zero"].flop == pytest.approx(1850 * 8.64e19, rel=0.01)
    for p, run in compare(BASE, util=util):
        assert p.system in LANDMARKS and run.at == p.at and run.feasible
        assert not [ref for ref in run.inputs if p.run_id in facts_of(ref)], p.system


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
    ({"batch_law": "openai"}, "not a law of batch_laws.csv"),
])
def test_bad_scenario_values_are_one_line(table, problem):
    src = {k: "s" for k in table}
    with pytest.raises(ScenarioError) as info:
        parse_frontier({"frontier": table, "sources": src}, "bad.toml")
    text = str(info.value)
    assert problem in text and "bad.toml" in text and "\n" not in text


def test_partial_dates_mean_the_first_day_of_their_period():
    from simulator.core.units import partial_date

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


def test_device_grid_is_finer_than_doubling_and_exact_on_its_points():
    from simulator.frontier.utilization import GRID_BITS, grid_floor
    points = sorted({grid_floor(n) for n in range(1, 5000)})
    assert all(grid_floor(p) == p for p in points)  # a count on the grid is searched as it is
    assert all(grid_floor(n) <= n < (1 + 2.0**-GRID_BITS) * grid_floor(n) + 1 for n in range(1, 5000))
    above = [p for p in points if p >= 2**GRID_BITS]
    assert max(b / a for a, b in pairwise(above)) <= 1 + 2.0**-GRID_BITS < 2  # finer than powers of two
    assert {3, 6, 12, 3 * 2**15} <= {grid_floor(n) for n in (3, 6, 13, 3 * 2**15 + 7)}


@pytest.mark.parametrize("day", [date(2017, 10, 19), date(2020, 6, 1), date(2024, 10, 1), date(2026, 7, 1)])
def test_a_sized_run_uses_the_devices_its_layout_was_searched_on(day):
    # under device_grid the run's MFU is that of a search on exactly its device count (its layout's
    # idle devices counted), never a smaller count's MFU spread over more devices
    from simulator.frontier.request import layout_text
    from simulator.frontier.utilization import grid_floor
    util = Utilization(default_efficiency())
    run = solve(day, cfg(families=("transformer_lm",), device_grid=True), util, relax=False)
    assert run.feasible and run.n_devices == grid_floor(run.n_devices)
    searched = [fit for key, fit in util._cache.items()
                if key[3] == run.n_devices and fit.layout is not None and layout_text(fit.layout) == run.layout]
    assert searched and any(fit.mfu == run.mfu and fit.devices_used <= run.n_devices for fit in searched)
    assert run.flop == pytest.approx(run.n_devices * run.peak_flops_per_s * run.mfu * run.goodput * run.days * 86400)


def test_the_batches_searched_follow_the_device_grid():
    from simulator.frontier.utilization import batch_sizes, grid_below, grid_floor
    for top in (1, 3, 4096, 8192.5, 155_769.2):
        b = batch_sizes(top, grid=True)
        assert max(b) == int(top) and all(x == grid_floor(x) for x in b if x != int(top))
        assert min(b) * 4 >= grid_floor(top) or min(b) == 1  # two doublings below the grid's count
        # without the grid: the power of two below, halved twice, and the largest batch itself
        p = 2 ** (int(top).bit_length() - 1)
        assert batch_sizes(top) == tuple(sorted({max(1, p // 4), max(1, p // 2), p, int(top)}))
    # 98,304 devices (3 x 2^15) can hold as many replicas as a batch of 98,304 divides into
    assert 98_304 in batch_sizes(155_769, grid=True) and 3 * 2**14 in batch_sizes(155_769, grid=True)
    assert grid_below(96) == (64, 48) and grid_below(64) == (48, 32) and grid_below(2) == (1,) and grid_below(1) == ()
    assert grid_floor(6000, bits=0) == 4096 and grid_below(4096, bits=0) == (2048,)


def test_without_the_device_grid_a_run_spreads_its_power_of_two_layout(util):
    # the default: the layout of the power of two below the devices allowed, its MFU taken for all
    # of them (docs/frontier.md says what device_grid changes)
    from simulator.frontier.request import layout_text
    run = solve(date(2017, 10, 19), cfg(families=("transformer_lm",)), util, relax=False)
    grid = solve(date(2017, 10, 19), cfg(families=("transformer_lm",), device_grid=True), util, relax=False)
    p2 = 2 ** (int(run.n_devices).bit_length() - 1)
    assert run.n_devices > p2  # 4,000 TPU v2 allowed: searched on 2,048 ...
    searched = [k for k, fit in util._cache.items() if fit.layout is not None and layout_text(fit.layout) == run.layout]
    assert any(k[3] == p2 for k in searched)
    assert grid.n_devices <= run.n_devices and grid.flop < run.flop  # ... the grid runs fewer, honestly
