"""Pipeline parallelism across sites (`Layout.site_split = "pp"`): each site holds a block
of pp / sites consecutive stages of every replica; the activations and gradients sent
between the two stages on either side of a site boundary cross the sites' link (the
fibre's delay plus the bytes over the boundary devices' share of its bandwidth), and the
data-parallel gradients stay inside each site."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cli_helpers import one_line, run
from test_engine import synthetic

from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.scenario import load_scenario
from simulator.core.specs import Layout, Reason, Schedule, SearchSpace
from simulator.costs import collectives as coll
from simulator.costs.closed_form import site_crossings, step_time
from simulator.costs.step import check_layout, step_costs, unit_costs
from simulator.engine.pipeline import simulate
from simulator.engine.step import simulate_step
from simulator.search.rank import best_layout_closed_form, search_layouts

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "two-sites-1000km.toml"
EFF = default_efficiency()


@pytest.fixture(scope="module")
def sc():
    return load_scenario(SCENARIO)


def at(cluster, gb_s: float):
    """The cluster with `gb_s` GB/s per site and direction between its sites."""
    return dataclasses.replace(cluster, site_link=dataclasses.replace(cluster.site_link, bandwidth_bytes_per_s=gb_s * 1e9))


def closed(sc, cluster, lay) -> float:
    return float(step_time(unit_costs(sc.model, cluster, lay, EFF, sc.stack), lay, EFF.comm_processor_usage))


def test_layout_rejects_unknown_splits_and_sites_must_divide_pp(sc):
    with pytest.raises(ValueError, match="site_split"):
        Layout(global_batch=8, site_split="tp")
    lay = dataclasses.replace(sc.layout, site_split="pp")
    assert check_layout(sc.model, sc.cluster, lay, sc.stack) is None
    three = dataclasses.replace(sc.cluster, sites=4, n_devices=sc.cluster.n_devices)  # 4 divides 16 stages
    assert check_layout(sc.model, three, lay, sc.stack) is None
    bad = check_layout(sc.model, dataclasses.replace(sc.cluster, sites=3), lay, sc.stack)
    assert bad is not None and bad.reason is Reason.SITES_NOT_DIVIDING_PP and "pp=16" in bad.detail


def test_data_parallel_groups_stay_inside_a_site(sc):
    lay = dataclasses.replace(sc.layout, site_split="pp")
    assert isinstance(coll.dp_group(sc.cluster, sc.layout, EFF), coll.SiteGroup)
    g = coll.dp_group(sc.cluster, lay, EFF)
    assert isinstance(g, coll.Group) and g.ranks == lay.dp * lay.cp
    costs = step_costs(sc.model, sc.cluster, lay, EFF, sc.stack)
    one_site = dataclasses.replace(sc.cluster, sites=1, site_link=None)
    plain = step_costs(sc.model, one_site, sc.layout, EFF, sc.stack)
    assert costs.dp_reduce_s == pytest.approx(plain.dp_reduce_s)  # the reduction of one site
    assert costs.stages_per_site == 8 and costs.p2p_site_s > costs.p2p_s


def test_site_transfer_is_fibre_delay_plus_bytes_over_the_boundary_devices_share(sc):
    """One transfer at a site boundary: the network's latency and the fibre's 4.9 ms, then
    s b h / tp bytes over the site's bandwidth x efficiency shared by the devices of the
    stages sending over it (interleaved with two sites: two stages of dp x tp x cp)."""
    lay = dataclasses.replace(sc.layout, site_split="pp")
    c = sc.cluster
    msg = sc.model.seq_len * lay.micro_batch * sc.model.hidden * 2 / lay.tp
    senders = 2 * lay.dp * lay.tp * lay.cp
    want = c.inter_link.latency_s + c.site_link.latency_s + msg / (c.site_link.bandwidth_bytes_per_s * EFF.inter_link / senders)
    assert step_costs(sc.model, c, lay, EFF, sc.stack).p2p_site_s == pytest.approx(want, rel=1e-9)
    one = dataclasses.replace(lay, schedule=Schedule.ONE_F_ONE_B, virtual_stages=1)  # one sending stage
    u = unit_costs(sc.model, c, one, EFF, sc.stack)
    assert float(u.p2p_site_s) - c.inter_link.latency_s - c.site_link.latency_s == pytest.approx(
        msg / (c.site_link.bandwidth_bytes_per_s * EFF.inter_link / (senders / 2)), rel=1e-9)


@pytest.mark.parametrize("p,m,sites", [(4, 8, 2), (8, 16, 4), (16, 32, 2), (16, 64, 4)])
def test_1f1b_across_sites_adds_fill_drain_and_one_transfer_per_micro_batch(p, m, sites):
    """1F1B: the first forward and the last backward each cross the sites - 1 boundaries
    (2 (sites - 1) C), and in the steady state a stage at a boundary waits for its gradient
    to come back while its neighbour waits for the next activation: with one op of slack on
    each side the period is t + C, paid by the m - p / sites micro-batches the stages past
    the last boundary do not absorb. The engine, transfer by transfer, agrees exactly."""
    for c in (0.2, 1.0, 3.0):
        base = simulate(synthetic(p, m, 1.0, 2.0)).step_time_s
        run_ = simulate(synthetic(p, m, 1.0, 2.0, p2p_site_s=c, p2p_site_delay_s=c / 4, stages_per_site=p // sites))
        assert run_.step_time_s - base == pytest.approx(2 * (sites - 1) * c + (m - p // sites) * c, rel=1e-9)


def test_closed_form_adds_the_site_boundaries_as_derived(sc):
    """The closed form's term for Meta's layout on 1F1B across the two sites, at 3,200 GB/s:
    2 (sites - 1) (C - p2p) + (m - p / sites) C, with C the transfer of the previous test."""
    lay = dataclasses.replace(sc.layout, site_split="pp", schedule=Schedule.ONE_F_ONE_B, virtual_stages=1)
    u = unit_costs(sc.model, sc.cluster, lay, EFF, sc.stack)
    assert u.sites == 2 and site_crossings(2, 1) == 1 and site_crossings(2, 2) == 3
    c, p2p, m, p = float(u.p2p_site_s), float(u.p2p_s), lay.n_microbatches, lay.pp
    added = closed(sc, sc.cluster, lay) - float(step_time(dataclasses.replace(u, sites=1), lay, EFF.comm_processor_usage))
    assert added == pytest.approx(2 * (2 - 1) * (c - p2p) + (m - p // 2) * c, rel=1e-9)
    assert c == pytest.approx(0.0168, abs=2e-4)  # 4.9 ms of fibre, 33.5 MB over 1/1,024 of 3,200 GB/s x 0.9
    assert added == pytest.approx(0.167, abs=0.002)  # m - p / 2 = 8 micro-batches + 2 fill and drain transfers


@pytest.mark.parametrize("schedule,v,gb_s", [(Schedule.INTERLEAVED, 2, 3200.0), (Schedule.INTERLEAVED, 2, 32000.0),
                                             (Schedule.ONE_F_ONE_B, 1, 320.0), (Schedule.ONE_F_ONE_B, 1, 3200.0),
                                             (Schedule.GPIPE, 1, 3200.0)])
def test_closed_form_matches_engine_across_sites(sc, schedule, v, gb_s):
    cluster = at(sc.cluster, gb_s)
    lay = dataclasses.replace(sc.layout, site_split="pp", schedule=schedule, virtual_stages=v)
    if schedule is Schedule.GPIPE:
        lay = dataclasses.replace(lay, zero=sc.layout.zero, recompute=sc.layout.recompute)
    engine = simulate_step(sc.model, cluster, lay, EFF, sc.stack)
    if not engine.feasible:  # GPipe holds every micro-batch's activations
        assert engine.reason is Reason.OUT_OF_MEMORY
        costs = step_costs(sc.model, cluster, lay, EFF, sc.stack)
        t = simulate(costs).step_time_s
    else:
        t = engine.step_time_s
    assert closed(sc, cluster, lay) == pytest.approx(t, rel=0.03)


def test_which_dimension_should_span_the_sites(sc):
    """Llama 3 405B, tp 8 x pp 16 x dp 128 on 2 x 8,192 H100 1,000 km apart.

    1F1B at 320 GB/s: data parallelism across the sites sends each device's 1/64 shard of
    its 3.2 GB of gradients over 1/8,192 of the link; the pipeline sends 33.5 MB per
    micro-batch and direction over 1/1,024 of it from the boundary stages alone. The pipeline
    across the sites is faster (closed form and engine). The interleaved schedule (the
    scenario's) doubles the boundary stages and sends v + 1 transfers per micro-batch
    across: at 320 GB/s they saturate the link and data parallelism across the sites wins,
    while at 3,200 GB/s the pipeline across the sites is the faster again."""
    slow = at(sc.cluster, 320.0)
    one = dataclasses.replace(sc.layout, schedule=Schedule.ONE_F_ONE_B, virtual_stages=1)
    dp1, pp1 = one, dataclasses.replace(one, site_split="pp")
    assert closed(sc, slow, pp1) < 0.97 * closed(sc, slow, dp1)
    assert simulate_step(sc.model, slow, pp1, EFF, sc.stack).step_time_s < simulate_step(
        sc.model, slow, dp1, EFF, sc.stack).step_time_s
    pp = dataclasses.replace(sc.layout, site_split="pp")
    assert simulate_step(sc.model, slow, pp, EFF, sc.stack).step_time_s > 1.5 * simulate_step(
        sc.model, slow, sc.layout, EFF, sc.stack).step_time_s
    assert closed(sc, slow, pp) > closed(sc, slow, sc.layout)
    fast_pp = simulate_step(sc.model, sc.cluster, pp, EFF, sc.stack)
    fast_dp = simulate_step(sc.model, sc.cluster, sc.layout, EFF, sc.stack)
    # at 3,200 GB/s the pipeline across the sites wins by little: the step is the GEMMs'
    assert 0.97 * fast_dp.step_time_s < fast_pp.step_time_s < fast_dp.step_time_s


def test_search_tries_both_splits_and_lists_them(sc):
    cluster = dataclasses.replace(sc.cluster, n_devices=2048)
    base = Layout(global_batch=2048)
    kw = {"global_batches": (2048,), "max_micro_batch": 1, "schedules": (Schedule.ONE_F_ONE_B,),
          "recompute": (sc.layout.recompute,), "sequence_parallel": (True,), "zero": (sc.layout.zero,),
          "divisors_only": True, "top_k": 2, "stack": sc.stack.key}
    both = SearchSpace(site_splits=("dp", "pp"), **kw)
    res = search_layouts(sc.model, cluster, base, both, EFF)
    assert set(res.frame.site_split) == {"dp", "pp"}
    assert Reason.SITES_NOT_DIVIDING_PP.value in res.reason_counts  # pp = 7, 9, 21, 63 ... on 2 sites
    lean = best_layout_closed_form(sc.model, cluster, base, both, EFF)
    ok = res.frame[res.frame.reason == ""]
    assert lean.row["tokens_per_s"] == ok.iloc[0].tokens_per_s and lean.row["site_split"] == ok.iloc[0].site_split
    only_dp = search_layouts(sc.model, cluster, base, SearchSpace(**kw), EFF)
    assert set(only_dp.frame.site_split) == {"dp"} and len(res.frame) == 2 * len(only_dp.frame)
    lay, _ = res.best
    assert res.rank_of(lay) is not None


def _write(tmp_path, old: str, new: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(SCENARIO.read_text().replace(old, new))
    return path


PP = ("zero = 2\n", 'zero = 2\nsite_split = "pp"\n')


@pytest.mark.parametrize("changes,words", [
    ((("zero = 2\n", 'zero = 2\nsite_split = "tp"\n'),), ("site_split='tp'", "dp, pp")),
    ((("zero = 2\n", "zero = 2\nsite_split = 2\n"),), ("site_split=2", "string")),
    ((PP, ("sites = 2\n", ""), ("site_link_gb_s = 3200\n", ""), ("site_distance_km = 1000\n", "")),
     ("site_split='pp'", "sites > 1")),
    ((PP, ("pp = 16\ndp = 128\n", "pp = 9\ndp = 227\n"), ("global_batch = 2048", "global_batch = 227"),
      ("devices = 16384", "devices = 16344"), ('schedule = "interleaved"\nvirtual_stages = 2', 'schedule = "1f1b"')),
     ("pp=9", "sites=2", "the sites do not divide pp")),
])
def test_bad_site_split_exits_2_with_one_line(capsys, tmp_path, changes, words):
    text = SCENARIO.read_text()
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, _, err = run(capsys, "step", str(path))
    line = one_line(err)
    assert code == 2 and str(path) in line and "[layout]" in line, line
    for w in words:
        assert w in line, line


def test_bad_search_site_splits_exits_2_with_one_line(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(SCENARIO.read_text() + '\n[search]\nsite_splits = ["dp", "sites"]\n')
    code, _, err = run(capsys, "search", str(path))
    line = one_line(err)
    assert code == 2 and "[search] site_splits" in line and "'sites'" in line and "dp, pp" in line, line


def test_scenario_site_split_round_trips(sc, tmp_path):
    path = _write(tmp_path, *PP)
    pp = load_scenario(path)
    assert pp.layout.site_split == "pp" and pp.raw["layout"]["site_split"] == "pp"
    assert "site_split" not in sc.raw["layout"]  # the default is not written
