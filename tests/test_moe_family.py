"""The mixture-of-experts family (catalog/workloads.toml [moe_lm], frontier/sizing.py):
sized over active parameters from the design of its date, withheld with its runs, and
leaving dense sizing as it was."""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from datetime import date
from importlib.resources import files

import pytest

from simulator.frontier import sizing
from simulator.frontier import workloads as wl
from simulator.frontier.config import load_frontier
from simulator.frontier.solver import solve
from simulator.frontier.utilization import search_space

DESIGN = sizing.MoEDesign(experts=256, top_k=8, shared=1, expert_width=0.2857, dense_share=0.0492)


def _moe() -> wl.Family:
    return wl.families()["moe_lm"]


@pytest.mark.parametrize("params", [1e10, 1e11, 1e12, 1e13])
def test_moe_shape_has_the_active_parameters_asked_and_the_designs_experts(params):
    m = sizing.shape(params, 8192, DESIGN)
    assert (m.experts, m.top_k, m.shared_experts) == (256, 8, 1)
    assert m.expert_ffn == round(0.2857 * m.hidden) and m.gated_mlp
    assert m.dense_layers == round(0.0492 * m.layers)
    # the dense rule's rounding (d_model a multiple of 1024: the dense shape of 1e10 has 1.29e10)
    assert 0.75 < m.active_params / params < 1.3
    assert m.params > 10 * m.active_params  # 257 experts of which 9 are used: total follows
    # attention kept: the dense rule's head size and aspect ratio
    assert m.head_dim == 128 and m.hidden % 1024 == 0


def test_active_parameters_count_the_experts_used():
    m = sizing.shape(1e11, 4096, DESIGN)
    moe_layers = m.layers - m.dense_layers
    unused = moe_layers * (m.experts - m.top_k) * m.expert_params
    assert m.params - m.active_params == pytest.approx(unused, abs=1)
    assert m.layers * m.active_layer_params + m.embedding_params + 2 * m.hidden == pytest.approx(m.active_params,
                                                                                                abs=1)


@pytest.mark.parametrize("params", [1e9, 1.75e11, 3e12])
def test_dense_sizing_unchanged(params):
    m = sizing.shape(params, 2048)
    assert not m.moe and m.active_params == m.params and m.active_layer_params == m.layer_params
    assert m.ffn == 4 * m.hidden and not m.gated_mlp
    n = float(m.params)
    assert sizing.optimal_flop(m, "chinchilla", 20) == 6 * n * 20 * n
    assert sizing.data_flop(m, 3e14, 4) == 6 * n * 3e14 * 4
    n_ne = m.layers * m.layer_params
    assert sizing.optimal_flop(m, "kaplan") == pytest.approx(sizing.PF_DAY_FLOP * (n_ne / 1.3e9) ** (1 / 0.73))
    assert sizing.max_params(3e14, 4, 20) == 6e13
    assert sizing.sizes_up_to(1e12, 2048) == tuple(p for p in sizing.ladder(1e12)
                                                   if sizing.shape(p, 2048).params <= 1e12)
    assert sizing.shape(1.75e11).layers == 96 and sizing.shape(1.75e11).hidden == 12288  # GPT-3


def test_moe_compute_and_data_read_active_parameters():
    m = sizing.shape(1e12, 8192, DESIGN)
    a = float(m.active_params)
    assert sizing.optimal_flop(m, "chinchilla", 20) == 6 * a * 20 * a
    assert sizing.data_flop(m, 3e14, 4) == 6 * a * 3e14 * 4
    assert all(sizing.shape(p, 8192, DESIGN).active_params <= 1e12 for p in sizing.sizes_up_to(1e12, 8192, DESIGN))


def test_family_starts_at_its_sourced_date():
    fam = _moe()
    assert fam.sized and fam.is_moe
    assert fam.since[0].since == date(2024, 2, 15) and "2403.05530" in fam.since[0].source
    assert "moe_lm" not in {f.key for f in wl.families_at(date(2024, 2, 14))}
    assert "moe_lm" in {f.key for f in wl.families_at(date(2024, 2, 15))}
    assert fam.view(frozenset({'gpt4'})).is_moe  # a view keeps the designs
    # every row sourced; every design row names its run
    assert all(d.source.strip() and d.run_fact_of for d in fam.moe)


def test_design_in_force_is_the_latest_published_and_withheld_with_its_run():
    fam = _moe()
    assert fam.design_at(date(2025, 1, 15)).design.experts == 256  # DeepSeek-V3
    assert fam.design_at(date(2025, 4, 10)).design.top_k == 1  # Llama 4 Maverick
    assert fam.design_at(date(2026, 1, 1)).design.experts == 128  # Qwen3
    assert fam.design_at(date(2020, 1, 1)) is fam.moe[0]  # before any: the first
    seen = fam.view(frozenset({"deepseek_v3"}))
    assert seen.design_at(date(2025, 1, 15)).design.experts == 160  # DeepSeek-V2's
    assert all("deepseek_v3" not in d.run_fact_of for d in seen.moe)
    seen = fam.view(frozenset({"llama4"}))
    assert seen.design_at(date(2025, 4, 10)).design.experts == 256 and seen.since[0].since == date(2024, 2, 15)
    everything = frozenset().union(*(d.run_fact_of for d in fam.moe))
    assert fam.view(everything) is None  # no design left: the family cannot be shaped


def _table() -> dict:
    return tomllib.loads(files("simulator.catalog").joinpath(wl.WORKLOADS_TOML).read_text(encoding="utf-8"))


@pytest.mark.parametrize("field,value", [("top_k", 0), ("experts", 1), ("shared", -1), ("expert_width", 0),
                                         ("dense_share", 1.0), ("top_k", 300), ("since", "2025-13-01"),
                                         ("source", " "), ("experts", 8.5)])
def test_bad_design_rows_name_the_file_key_and_value(field, value):
    t = _table()["moe_lm"]
    t["moe"][2] = dict(t["moe"][2], **{field: value})
    with pytest.raises(ValueError) as e:
        wl._family("moe_lm", t, {})
    msg = str(e.value)
    assert "workloads.toml" in msg and "[moe_lm] moe[2]" in msg and repr(value) in msg


def test_designs_need_a_sized_family():
    t = dict(_table()["supervised"], moe=_table()["moe_lm"]["moe"])
    with pytest.raises(ValueError, match=r"workloads.toml: \[supervised\]: moe designs need"):
        wl._family("supervised", t, {r.key: r for r in wl.batch_limits()})


def test_expert_parallelism_searched_only_once_known():
    m = sizing.shape(1e11, 4096, DESIGN)
    assert search_space(m, {"tensor_parallel"}, (1024,), 8).expert_parallel == (1,)
    assert search_space(m, {"tensor_parallel", "expert_parallel"}, (1024,), 8).expert_parallel is None


def test_solver_finds_a_feasible_moe_run_in_2025():
    config = replace(load_frontier(), families=("moe_lm",))
    run = solve("2025-07", config, relax=False)
    assert run.feasible and run.family == "moe_lm"
    assert run.params > 5 * run.params_active > 0
    assert "mixture_of_experts" in run.techniques_used
    assert any(".moe[" in i for i in run.inputs)
    dense = solve("2025-07", replace(load_frontier(), families=("transformer_lm",)), relax=False)
    assert dense.params == dense.params_active and not any(".moe[" in i for i in dense.inputs)


def test_a_scored_runs_design_is_not_read():
    config = replace(load_frontier(), families=("moe_lm",)).withholding({"qwen3_235b"})
    run = solve("2026-01", config, relax=False)
    assert run.feasible and "workloads.toml:moe_lm.moe[4]" not in run.inputs
    assert math.isfinite(run.flop)


def test_frontier_csv_carries_the_largest_moe_run_beside_the_largest():
    from simulator.frontier.series import frontier_series, to_frame

    runs = frontier_series(load_frontier(), [date(2023, 7, 1), date(2025, 7, 1)], relax=False, moe=True)
    frame = to_frame(runs).set_index("date")
    assert math.isnan(frame.loc["2023-07-01", "moe_flop"])  # before the family's sourced start
    row = frame.loc["2025-07-01"]
    assert row["moe_flop"] > 0 and row["moe_params_total"] > 5 * row["moe_params_active"]
    assert row["params_active"] == row["params"] or row["family"] == "moe_lm"
    assert runs[1].moe.family == "moe_lm" and runs[1].moe.flop <= runs[1].flop


def test_no_layout_search_on_devices_the_model_state_overflows(monkeypatch):
    """The solver skips, without searching, the device counts whose memory cannot hold the
    model state (weights, gradients, optimizer: at least once over the devices whatever the
    layout) - exact, so the answer is the same, found sooner (the MoE family's total
    parameters are ten times its active ones)."""
    from simulator.catalog.efficiency import default_efficiency
    from simulator.core.specs import Precision
    from simulator.frontier import solver as sv
    from simulator.frontier.utilization import Utilization

    assert sv._state_bytes_per_param(Precision.BF16) == 16.0  # 2 + 2 + 12 (Adam, mixed precision)
    util = Utilization(default_efficiency())
    seen = []
    real = util.best_layout

    def spy(q):
        seen.append(q.n * q.acc.memory_bytes / (q.model.params * sv._state_bytes_per_param(q.precision)))
        return real(q)

    monkeypatch.setattr(util, "best_layout", spy)
    run = solve("2026-01", replace(load_frontier(), families=("moe_lm",)), util, relax=False)
    assert run.feasible and seen and min(seen) >= 1.0
