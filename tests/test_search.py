"""The layout search (`simulator.search`, `simulator search`).

Stage 1 scores every candidate in closed form; stage 2 re-simulates the top k with
the event engine. Checked here: the closed form agrees with the engine on the
layouts it ranks highest (every shipped scenario), the search beats the published
Megatron PTD-P layouts, every candidate is marked feasible or infeasible by the
right rule, throughput and MFU are consistent, and the command line reports, saves
and refuses input as documented. Search speed is measured by
benchmarks/bench_search.py, not here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line, run

from simulator import catalog
from simulator.catalog.efficiency import default_efficiency
from simulator.catalog.hardware import host_of
from simulator.catalog.models import find_model
from simulator.catalog.scenario import load_scenario
from simulator.catalog.stacks import find_stack
from simulator.core.specs import (
    Cluster,
    GenericNetwork,
    Layout,
    Precision,
    Reason,
    Recompute,
    Schedule,
    SearchSpace,
    Transformer,
)
from simulator.core.units import GB
from simulator.costs.flops import model_flops_per_step
from simulator.engine.step import simulate_step
from simulator.measure.measurement import parse_row
from simulator.measure.validation import describe, read_rows
from simulator.search import search_layouts
from simulator.search.rank import COLUMNS, layout_of, used_cluster
from simulator.search.space import REASONS

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*.toml") if "[frontier]" not in p.read_text())  # step scenarios
EFF = default_efficiency()
#: The closed form may differ from the event engine by this much (relative).
CLOSED_FORM_TOLERANCE = 0.03




def flat(text: str) -> str:
    return " ".join(text.split())


def cluster_of(accelerator: str, devices: int) -> Cluster:
    """A cluster of the catalog's default system for an accelerator."""
    acc = catalog.find_accelerator(accelerator)
    intra, inter, per_node = catalog.default_links(accelerator)
    return Cluster(acc, devices, per_node, intra, inter)


def feasible(frame):
    return frame[frame.reason == ""].reset_index(drop=True)


def row_of(result, layout: Layout):
    """The closed-form row of a layout (by its closed-form rank)."""
    rank = result.rank_of(layout)
    assert isinstance(rank, int) and rank >= 1, describe(layout)
    return feasible(result.frame).iloc[rank - 1]


def expected_reasons(frame, model, cluster: Cluster, space: SearchSpace) -> np.ndarray:
    """The first rule (in `REASONS` order) each candidate breaks, restated from the
    rules themselves (and the space's stack); "" when none."""
    tp, pp, dp = frame.tp.to_numpy(), frame.pp.to_numpy(), frame.dp.to_numpy()
    cp, ep = frame.cp.to_numpy(), frame.ep.to_numpy()
    mb, gb, v = frame.micro_batch.to_numpy(), frame.global_batch.to_numpy(), frame.virtual_stages.to_numpy()
    interleaved = (frame.schedule == Schedule.INTERLEAVED.value).to_numpy()
    zero, sp = frame.zero.to_numpy(), frame.sequence_parallel.to_numpy()
    stack = find_stack(space.stack)
    uneven_ok = stack is not None and stack.uneven_stages
    none = np.zeros(len(frame), bool)
    rules = {}
    if isinstance(model, Transformer):
        kv = model.n_kv_heads
        rules[Reason.TP_ABOVE_DOMAIN] = cluster.devices_per_node % tp != 0
        rules[Reason.TP_NOT_DIVIDING_HEADS] = (model.heads % tp != 0) | ((kv % tp != 0) & (tp % kv != 0))
        # uneven stages are placed for 1F1B and GPipe; interleaving needs equal virtual stages
        # unless the stack places uneven ones; without a stack, any 1F1B split runs
        uneven = (model.layers % pp != 0) & (stack is not None and not uneven_ok)
        rules[Reason.PP_NOT_DIVIDING_LAYERS] = ((pp * v > model.layers) | ((v > 1) & (model.layers % (pp * v) != 0)
                                                                          & (not uneven_ok)) | uneven)
        rules[Reason.CP_NOT_DIVIDING_SEQ] = (cp > 1) & (model.seq_len % (2 * cp) != 0)
        rules[Reason.EP_NOT_DIVIDING] = (ep > 1) & ((max(model.experts, 1) % ep != 0) | ((dp * cp) % ep != 0))
    rules[Reason.ZERO_WITH_PIPELINE] = (zero > (stack.max_zero_with_pipeline if stack else 1)) & (pp > 1)
    if cluster.sites > 1:
        rules[Reason.SITES_NOT_DIVIDING] = ((dp * cp) % cluster.sites != 0) | ((dp * cp // ep) % cluster.sites != 0)
    offload = frame.offload.to_numpy()
    rules[Reason.OFFLOAD_UNSUPPORTED] = offload & (host_of(cluster.accelerator.name) is None)
    if stack is not None:
        rules[Reason.STACK_UNSUPPORTED] = ((zero > stack.max_zero) | (interleaved & (not stack.interleaved))
                                           | (offload & (not stack.offload))
                                           | (sp & (not stack.sequence_parallel)) | ((cp > 1) & (not stack.context_parallel))
                                           | ((ep > 1) & (not stack.expert_parallel)))
    limit = space.max_global_batch
    rules[Reason.BATCH_ABOVE_LIMIT] = gb > limit if limit is not None else none
    rules[Reason.BATCH_NOT_DIVISIBLE] = gb % (dp * mb) != 0
    rules[Reason.TOO_FEW_MICROBATCHES] = interleaved & ((gb // (dp * mb)) % pp != 0)
    with np.errstate(invalid="ignore"):
        rules[Reason.OUT_OF_MEMORY] = frame.memory_gb.to_numpy() * GB > cluster.accelerator.memory_bytes
    out = np.full(len(frame), "", dtype=object)
    for reason in reversed(REASONS):  # the first rule that applies wins
        out[rules.get(reason, none)] = reason.value
    return out


# ------------------------------------------------------------------ shipped scenarios
@dataclasses.dataclass
class Searched:
    sc: object
    space: SearchSpace
    result: object


@pytest.fixture(scope="module", params=SCENARIOS, ids=[p.stem for p in SCENARIOS])
def shipped(request) -> Searched:
    """Every shipped scenario searched once (its [search] table, else its own batch)."""
    sc = load_scenario(request.param)
    space = sc.search or SearchSpace(global_batches=(sc.layout.global_batch,), top_k=5)
    return Searched(sc, space, search_layouts(sc.model, sc.cluster, sc.layout, space, EFF))


def test_shipped_scenarios_are_all_searched():
    names = {p.name for p in SCENARIOS}
    assert {"search-gpt3-175b-4096.toml", "search-mtnlg-530b-5128.toml", "default.toml"} <= names
    assert len(names) >= 6


def test_closed_form_matches_engine(shipped):
    """Issue requirement: the closed form is within 3% of the event engine on every
    re-simulated (top-k) layout."""
    res, space, sc = shipped.result, shipped.space, shipped.sc
    k = min(space.top_k, res.n_feasible)
    assert k >= 1 and len(res.top) == k
    # the re-simulated layouts are exactly the k best by closed form
    assert sorted(res.rank_of(lay) for lay, _ in res.top) == list(range(1, k + 1))
    errors = []
    for lay, engine in res.top:
        row = row_of(res, lay)
        assert engine.feasible, (describe(lay), engine.reason, engine.detail)
        assert engine.n_devices == lay.n_devices == row.devices <= sc.cluster.n_devices
        # memory and FLOPs are the same functions in both: equal to rounding
        assert math.isclose(row.memory_gb * GB, engine.memory.total, rel_tol=1e-9)
        assert math.isclose(row.mfu * row.step_time_s, engine.mfu * engine.step_time_s, rel_tol=1e-9)
        errors.append((row.step_time_s / engine.step_time_s - 1, describe(lay), row.step_time_s, engine.step_time_s))
    worst = max(errors, key=lambda e: abs(e[0]))
    print(f"\n{sc.name}: worst closed form / engine - 1 = {worst[0]:+.4f} ({worst[1]})")
    assert all(abs(e[0]) <= CLOSED_FORM_TOLERANCE for e in errors), errors
    # the top k are ordered by the engine's answer
    rates = [engine.tokens_per_s for _, engine in res.top]
    assert rates == sorted(rates, reverse=True)
    assert res.best == res.top[0]


def test_every_candidate_is_marked_by_the_right_rule(shipped):
    res, space, sc = shipped.result, shipped.space, shipped.sc
    f, model, cluster = res.frame, sc.model, sc.cluster
    assert list(f.columns) == COLUMNS
    assert res.evaluated == len(f) > 0

    ok = f[f.reason == ""]
    assert len(ok) == res.n_feasible > 0
    # the predicates, one by one, on every feasible candidate
    assert (model.heads % ok.tp == 0).all()
    uneven = model.layers % (ok.pp * ok.virtual_stages) != 0  # placed for 1F1B and GPipe, interleaved by a stack
    stack = find_stack(space.stack)
    assert (ok.pp * ok.virtual_stages <= model.layers).all()
    assert (stack is not None and stack.uneven_stages) or (ok.virtual_stages[uneven] == 1).all()
    assert (ok.global_batch % (ok.dp * ok.micro_batch) == 0).all()
    assert (ok.devices == ok.tp * ok.pp * ok.dp * ok.cp).all()
    assert (ok.devices <= cluster.n_devices).all()
    assert (ok.memory_gb * 1e9 <= cluster.accelerator.memory_bytes * (1 + 1e-12)).all()
    assert not ((ok.zero >= 2) & (ok.pp > 1)).any()
    inter = ok[ok.schedule == Schedule.INTERLEAVED.value]
    assert ((inter.global_batch // (inter.dp * inter.micro_batch)) % inter.pp == 0).all()

    # every infeasible candidate names a known reason, and the first rule it breaks
    bad = f[f.reason != ""]
    assert set(bad.reason) <= {r.value for r in REASONS}
    np.testing.assert_array_equal(f.reason.to_numpy(dtype=object), expected_reasons(f, model, cluster, space))
    assert sum(res.reason_counts.values()) + res.n_feasible == res.evaluated
    assert res.reason_counts == {k: int(v) for k, v in bad.reason.value_counts().items()}

    # dp fills the cluster; meaningless options are not generated
    assert (f.dp == cluster.n_devices // (f.tp * f.pp * f.cp)).all() and (f.dp >= 1).all()
    assert (f.tp <= cluster.devices_per_node).all()
    assert not (f.sequence_parallel & (f.tp == 1)).any()
    assert not ((f.zero > 0) & (f.dp * f.cp == 1)).any()
    assert not ((f.schedule != Schedule.ONE_F_ONE_B.value) & (f.pp == 1)).any()
    assert ((f.virtual_stages > 1) == (f.schedule == Schedule.INTERLEAVED.value)).all()
    assert (f.virtual_stages <= space.max_virtual_stages).all()
    assert (f.micro_batch <= space.max_micro_batch).all()
    assert set(f.global_batch) <= set(space.global_batches)

    # ranked by throughput, feasible first
    n = res.n_feasible
    assert (f.reason.iloc[:n] == "").all() and (f.reason.iloc[n:] != "").all()
    assert (np.diff(f.tokens_per_s.iloc[:n].to_numpy()) <= 0).all()


def test_infeasible_candidates_are_infeasible_for_the_engine(shipped):
    """A few candidates per reason, handed to the engine, do not run either."""
    res, sc = shipped.result, shipped.sc
    f = res.frame
    for reason in REASONS:
        if reason is Reason.BATCH_ABOVE_LIMIT:  # a search-only rule
            continue
        for row in f[f.reason == reason.value].head(3).itertuples():
            lay = layout_of(row, sc.layout)
            engine = simulate_step(sc.model, used_cluster(sc.cluster, lay), lay, EFF, find_stack(shipped.space.stack))
            assert not engine.feasible, (reason, describe(lay))
            if reason is Reason.OUT_OF_MEMORY:
                assert engine.reason is Reason.OUT_OF_MEMORY
                assert math.isclose(engine.memory.total, row.memory_gb * GB, rel_tol=1e-9)


def test_throughput_and_mfu(shipped):
    res, sc = shipped.result, shipped.sc
    f, model = res.frame, sc.model
    ok = f[f.reason == ""]
    assert (ok.step_time_s > 0).all()
    assert ((ok.mfu > 0) & (ok.mfu < 1)).all(), ok.mfu.describe()
    np.testing.assert_allclose(ok.tokens_per_s, ok.global_batch * model.seq_len / ok.step_time_s, rtol=1e-12)
    peak = sc.cluster.accelerator.peak(sc.layout.precision)
    per_batch = {int(b): float(model_flops_per_step(model, int(b))) for b in set(ok.global_batch)}
    flops = ok.global_batch.map(per_batch).to_numpy(dtype=float)
    np.testing.assert_allclose(ok.mfu, flops / (ok.step_time_s * ok.devices * peak), rtol=1e-9)
    # infeasible rows carry no throughput
    bad = f[f.reason != ""]
    assert bad.tokens_per_s.isna().all() and bad.mfu.isna().all()


# ------------------------------------------------------------------ published Megatron layouts
MEGATRON_ROWS = [f"N21-T2-{i}" for i in range(7, 13)]  # PTD-P: 175B on 384/768/1536, 530B on 560/1120/2240


@pytest.fixture(scope="module")
def megatron() -> dict:
    """Per calibration row: the published layout's closed-form rank and engine step
    time, and the search's best engine step time."""
    rows = {r["id"]: r for r in read_rows(catalog.calibration_csv_path())}
    out = {}
    for rid in MEGATRON_ROWS:
        parsed, spec = parse_row(rows[rid])
        assert spec is not None, parsed.skipped
        model, cluster, published = spec
        space = SearchSpace(global_batches=(published.global_batch,), top_k=3)
        res = search_layouts(model, cluster, published, space, EFF)
        pub = simulate_step(model, cluster, published, EFF)
        best_layout, best = res.best
        out[rid] = {
            "devices": cluster.n_devices, "model": model.name, "published": describe(published),
            "published_result": pub, "rank": res.rank_of(published), "feasible": res.n_feasible,
            "best_layout": best_layout, "best": best,
        }  # fmt: skip
    return out


@pytest.mark.parametrize("rid", MEGATRON_ROWS)
def test_search_beats_published_megatron_layout(megatron, rid):
    m = megatron[rid]
    pub, best = m["published_result"], m["best"]
    print(f"\n{rid}: {m['model']} on {m['devices']} GPUs: published {m['published']} "
          f"({pub.step_time_s:.2f} s) closed-form rank {m['rank']} of {m['feasible']}; "
          f"best {describe(m['best_layout'])} ({best.step_time_s:.2f} s)")  # fmt: skip
    assert pub.feasible, (pub.reason, pub.detail)
    assert best.feasible and best.layout.global_batch == pub.layout.global_batch
    assert best.step_time_s <= pub.step_time_s * (1 + 1e-9)
    assert isinstance(m["rank"], int) and 1 <= m["rank"] <= m["feasible"]


def test_published_megatron_layouts_are_all_ranked(megatron):
    ranks = {rid: m["rank"] for rid, m in megatron.items()}
    print(f"\npublished PTD-P layouts, closed-form rank: {ranks}")
    assert set(ranks) == set(MEGATRON_ROWS)
    assert all(isinstance(r, int) and r >= 1 for r in ranks.values()), ranks


# ------------------------------------------------------------------ special spaces
def test_generic_network_is_data_parallel_only():
    model = find_model("resnet50")
    assert isinstance(model, GenericNetwork)
    cluster = cluster_of("a100-80gb", 64)
    base = Layout(global_batch=1024, dp=64)
    res = search_layouts(model, cluster, base, SearchSpace(global_batches=(1024,), top_k=2), EFF)
    f = res.frame
    assert len(f) > 0 and res.n_feasible > 0
    assert set(f.tp) == {1} and set(f.pp) == {1}
    assert set(f.dp) == {64} and set(f.devices) == {64}
    assert set(f.schedule) == {Schedule.ONE_F_ONE_B.value} and set(f.virtual_stages) == {1}
    assert not f.sequence_parallel.any()
    for lay, engine in res.top:
        assert engine.feasible and lay.tp == lay.pp == 1
        row = row_of(res, lay)
        assert abs(row.step_time_s / engine.step_time_s - 1) <= CLOSED_FORM_TOLERANCE
        assert math.isclose(row.tokens_per_s, engine.tokens_per_s, rel_tol=CLOSED_FORM_TOLERANCE * 1.1)


BATCH_LIMITED = SearchSpace(global_batches=(512, 1536), max_global_batch=1024, top_k=1)
LIMIT = Reason.BATCH_ABOVE_LIMIT.value


def test_batch_limit_transformer():
    model = find_model("gpt3-175b")
    cluster = cluster_of("a100-80gb", 256)
    res = search_layouts(model, cluster, Layout(global_batch=512, dp=256), BATCH_LIMITED, EFF)
    f = res.frame
    big, small = f[f.global_batch == 1536], f[f.global_batch == 512]
    assert len(big) == len(small) > 0
    # every 1536 row is ruled out, by the limit unless a rule checked before it applies
    earlier = {r.value for r in REASONS[: REASONS.index(Reason.BATCH_ABOVE_LIMIT)]}
    assert (big.reason != "").all()
    assert big.reason.isin(earlier | {LIMIT}).all()
    keys = ["tp", "pp", "dp", "micro_batch", "schedule", "virtual_stages", "recompute", "sequence_parallel", "zero"]
    pair = big.merge(small, on=keys, suffixes=("_big", "_small"), validate="one_to_one")
    assert len(pair) == len(big)  # the same candidates at both batches
    structurally_ok = ~pair.reason_small.isin(earlier)
    assert structurally_ok.any() and (pair.reason_big[structurally_ok] == LIMIT).all()
    assert (pair.reason_big[~structurally_ok] == pair.reason_small[~structurally_ok]).all()
    assert (small.reason != LIMIT).all()
    assert (small.reason == "").any()
    assert res.best[0].global_batch == 512
    np.testing.assert_array_equal(f.reason.to_numpy(dtype=object), expected_reasons(f, model, cluster, BATCH_LIMITED))


def test_batch_limit_generic_network():
    """With no rule checked before it (data parallelism only), the limit marks every
    1536 candidate."""
    model = find_model("resnet50")
    res = search_layouts(model, cluster_of("a100-80gb", 64), Layout(global_batch=512, dp=64), BATCH_LIMITED, EFF)
    f = res.frame
    assert (f[f.global_batch == 1536].reason == LIMIT).all() and (f.global_batch == 1536).any()
    assert (f[f.global_batch == 512].reason != LIMIT).all() and (f[f.global_batch == 512].reason == "").any()


# ------------------------------------------------------------------ command line
SEARCH_SCENARIO = """\
name = "{name}"
description = "GPT-3 175B on {devices} A100s, layout search"

[model]
name = "gpt3-175b"

[cluster]
accelerator = "a100-80gb"
devices = {devices}
devices_per_node = 8

[layout]
global_batch = {batch}
{layout}
[search]
top_k = 2
{search}"""


def write_scenario(tmp_path: Path, name="s", devices=64, batch=64, layout="", search="") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(SEARCH_SCENARIO.format(name=name, devices=devices, batch=batch, layout=layout, search=search))
    return path


def test_search_no_feasible_layout(capsys, tmp_path):
    """GPT-3 175B on one DGX A100: model states alone need 16 B x 175e9 / 8 = 350 GB
    per GPU, so nothing fits."""
    path = write_scenario(tmp_path, "oom", devices=8, batch=8)
    code, out, err = run(capsys, "search", str(path))
    assert code == 0, err
    text = flat(out)
    assert "no feasible layout" in text
    m = re.search(r"([\d,]+) out of memory", text)
    assert m and int(m.group(1).replace(",", "")) > 0, text

    code, out, err = run(capsys, "search", "--json", str(path))
    assert code == 0, err
    data = json.loads(out)
    assert data["best"] is None and data["top"] == [] and data["feasible"] == 0
    counts = data["reason_counts"]
    assert counts[Reason.OUT_OF_MEMORY.value] > 0
    assert sum(counts.values()) == data["evaluated"] > 0
    assert f"{counts[Reason.OUT_OF_MEMORY.value]:,} out of memory" in text


def test_search_out_writes_new_run_folders(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_scenario(tmp_path, "out", search='zero = [0, 1]\nschedules = ["1f1b", "interleaved"]\n')
    sc = load_scenario(path)
    assert not sc.has_layout
    folders = []
    for _ in range(2):
        code, out, err = run(capsys, "search", "--json", "--out", str(path))
        assert code == 0, err
        data = json.loads(out)
        run_dir = Path(data["run_dir"])
        assert run_dir.parent == Path("outputs") / "search"
        assert (tmp_path / run_dir).is_dir()
        folders.append(run_dir)
        lines = (run_dir / "candidates.csv").read_text().splitlines()
        assert lines[0].split(",") == COLUMNS
        assert len(lines) - 1 == data["evaluated"] > 0
        meta = json.loads((run_dir / "meta.json").read_text())
        assert "git_commit" in meta
        again = load_scenario(run_dir / "scenario.toml")
        assert again.model == sc.model and again.cluster == sc.cluster
        assert again.search == sc.search and again.has_layout is False
    assert folders[0] != folders[1]
    first = sorted(p.name for p in folders[0].iterdir())
    assert first == ["candidates.csv", "meta.json", "scenario.toml"]  # the second run left it alone


def test_search_out_scenario_without_description_loads_again(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_scenario(tmp_path, "nodesc")
    path.write_text("\n".join(line for line in path.read_text().splitlines() if not line.startswith("description")))
    code, out, err = run(capsys, "search", "--json", "--out", str(path))
    assert code == 0, err
    again = load_scenario(Path(json.loads(out)["run_dir"]) / "scenario.toml")
    assert again.model == load_scenario(path).model


BAD_SEARCH = {
    # case: (lines added to [search], "key=value" the message must show)
    "unknown key": ("flux = 3\n", "flux=3"),
    "unknown schedule": ('schedules = ["bogus"]\n', "schedules='bogus'"),
    "top_k zero": ("top_k = 0\n", "top_k=0"),
    "no global batches": ("global_batches = []\n", "global_batches=[]"),
}


@pytest.mark.parametrize("case", sorted(BAD_SEARCH), ids=sorted(BAD_SEARCH))
def test_bad_search_table_is_one_line_exit_2(capsys, tmp_path, case):
    extra, key_value = BAD_SEARCH[case]
    path = write_scenario(tmp_path, "bad")
    text = path.read_text().replace("top_k = 2\n", "") + extra  # top_k may appear once
    path.write_text(text)
    code, out, err = run(capsys, "search", str(path))
    assert code == 2
    line = one_line(err)
    assert str(path) in line and "[search]" in line and key_value in line, line
    assert out == ""


def test_search_reports_the_scenarios_own_layout(capsys, tmp_path):
    path = write_scenario(tmp_path, "own", layout='tp = 8\npp = 8\nrecompute = "full"\n')
    sc = load_scenario(path)
    assert sc.has_layout and sc.search is not None
    code, out, err = run(capsys, "search", str(path))
    assert code == 0, err
    m = re.search(r"the scenario's own layout (.+?): rank (\d+) of ([\d,]+)", flat(out))
    assert m, out
    assert m.group(1) == describe(sc.layout)
    rank, n = int(m.group(2)), int(m.group(3).replace(",", ""))
    res = search_layouts(sc.model, sc.cluster, sc.layout, sc.search, EFF)
    assert (rank, n) == (res.rank_of(sc.layout), res.n_feasible)
    assert 1 <= rank <= n

    code, out, err = run(capsys, "search", "--json", str(path))
    assert code == 0, err
    base = json.loads(out)["baseline"]
    assert base["rank"] == rank and base["feasible"] is True
    assert base["layout"]["tp"] == 8 and base["layout"]["pp"] == 8 and base["layout"]["dp"] == 1


# ------------------------------------------------------------------ tp groups stay in a node
def test_tensor_parallel_group_must_divide_the_node():
    """With Megatron's placement (tp ranks innermost), tp = 3 on 8-GPU nodes would put
    ranks 6, 7, 8 in one group across two nodes: such layouts are ruled out."""
    from simulator.core.specs import Reason
    from simulator.costs.step import check_layout

    cluster = cluster_of("a100-80gb", 384)
    assert cluster.devices_per_node == 8
    layout = Layout(global_batch=1536, tp=3, pp=8, dp=16, recompute=Recompute.SELECTIVE)
    bad = check_layout(find_model("gpt3-175b"), cluster, layout)
    assert bad is not None and bad.reason is Reason.TP_ABOVE_DOMAIN
    res = search_layouts(find_model("gpt3-175b"), cluster, layout, SearchSpace(global_batches=(1536,), top_k=1), EFF)
    ok = res.frame[res.frame.reason == ""]
    assert (8 % ok.tp == 0).all()
    assert (res.frame[res.frame.tp == 3].reason == Reason.TP_ABOVE_DOMAIN.value).all()


def test_max_tp_max_pp_and_divisors_only_restrict_the_space():
    model = find_model("gpt-22b")
    acc = catalog.find_accelerator("a100-80gb")
    intra, inter, node = catalog.default_links("a100-80gb")
    cluster = Cluster(acc, 64, node, intra, inter)
    base = Layout(global_batch=256, precision=Precision.BF16)
    full = SearchSpace(global_batches=(256,), top_k=0)
    eff = default_efficiency()
    everything = search_layouts(model, cluster, base, full, eff).frame
    narrow = search_layouts(model, cluster, base, dataclasses.replace(full, max_tp=2, max_pp=4), eff).frame
    assert narrow.tp.max() == 2 and narrow.pp.max() == 4 and len(narrow) < len(everything)
    divisors = search_layouts(model, cluster, base, dataclasses.replace(full, divisors_only=True), eff).frame
    assert (model.heads % divisors.tp == 0).all() and (model.layers % divisors.pp == 0).all()
    # dropping non-divisors drops the tp that cannot run and the uneven pipelines that can: the
    # divisor space is a subset, and here (48 layers) the best layout is an even one
    ok_all, ok_div = everything[everything.reason == ""], divisors[divisors.reason == ""]
    keys = ["tp", "pp", "dp", "micro_batch", "schedule", "virtual_stages", "recompute", "sequence_parallel", "zero"]
    assert len(ok_div.merge(ok_all, on=keys)) == len(ok_div) < len(ok_all)
    assert ok_all.iloc[0].step_time_s == pytest.approx(ok_div.iloc[0].step_time_s)


# ------------------------------------------------------------------ reading a row as written
@pytest.mark.parametrize("text, stage", [
    ("FSDP (full_shard)", "3"), ("FSDP, SHARD_GRAD_OP", "2"), ("FSDP, weights not resharded after forward", "2"),
    ("FSDP no_reshard", "2"), ("ZeRO stage 1", "1"), ("distributed optimizer", "1"), ("", "0"),
])
def test_the_fsdp_flavour_is_read_from_the_text(text, stage):
    from simulator.measure.rowtext import read_zero

    assert read_zero(text).value == stage


@pytest.mark.parametrize("text, expected", [
    ("not verified", None), ("unstated", None), ("n/a", None), ("no", "none"), ("none", "none"),
    ("full", "full"), ("selective", "selective"),
])
def test_recompute_not_verified_is_unstated_not_no(text, expected):
    from simulator.measure.rowtext import read_recompute

    got = read_recompute(text)
    assert (got.value if got else None) == expected


@pytest.mark.parametrize("text, gated", [
    ("(squared-ReLU, not gated)", False), ("SwiGLU", True), ("ungated GeLU MLP", False), ("GeGLU", True),
    ("dense decoder", None),
])
def test_gating_is_read_with_its_negation(text, gated):
    from simulator.measure.rowtext import gated_in

    assert gated_in(text) is gated


@pytest.mark.parametrize("name, key", [
    ("Llama 3 405B", "llama3-405b"), ("GPT-3 175B", "gpt3-175b"), ("Megatron 1T", "megatron-1t"),
    ("llama2-70b", "llama2-70b"), ("Llama 4", None),
    ("Megatron-Turing NLG 530B", "mt-nlg-530b"), ("MT-NLG", "mt-nlg-530b"), ("Llama 3.1 405B", "llama3-405b"),
])
def test_a_named_model_is_matched_to_its_builtin(name, key):
    from simulator.measure.rowtext import find_builtin

    got = find_builtin(name)
    assert (got.name if got else None) == key


def test_a_row_naming_a_builtin_as_written_takes_its_gated_shape():
    row = {"id": "L", "model": "Llama 3 405B", "hardware": "h100-sxm", "n_devices": "16384",
           "global_batch_seqs": "2048", "tp": "8", "pp": "16", "mfu": "0.41"}
    parsed, spec = parse_row(row)
    assert spec is not None and spec[0].gated_mlp and spec[0].layers == 126
    assert "shape of built-in llama3-405b" in parsed.defaulted


def test_attention_comes_from_the_runs_date_not_the_devices():
    from datetime import date as day

    from simulator.measure.rowtext import run_date

    assert run_date({"source": "Zhang et al. 2024, TinyLlama (arXiv 2401.02385)"}) == day(2024, 1, 1)
    assert run_date({"source": "Narayanan et al. 2021 (SC21)"}) == day(2021, 1, 1)
    assert run_date({"source": "a blog"}) is None
    base = {"id": "T", "model": "gpt3-175b", "hardware": "a100-80gb", "n_devices": "1024",
            "global_batch_seqs": "1536", "tp": "8", "pp": "8", "mfu": "0.4"}
    _, old = parse_row({**base, "source": "Narayanan et al. 2021 (arXiv 2104.04473)"})
    parsed, new = parse_row({**base, "source": "a 2023 run (arXiv 2309.00001)"})
    assert old[2].attention.value == "materialized" and new[2].attention.value == "flash"  # the same A100
    assert any(d.startswith("attention flash (the run's date)") for d in parsed.defaulted)


def test_the_overlaps_a_row_names_are_honoured_and_imply_sequence_parallelism():
    from simulator.measure.rowtext import overlaps_in

    assert overlaps_in("DP/TP/PP comm overlap (--overlap-grad-reduce --overlap-param-gather --tp-comm-overlap)") == {
        "tp_overlap", "dp_overlap", "param_gather_overlap"}
    assert overlaps_in("--overlap-grad-reduce only") == {"dp_overlap"}
    assert overlaps_in("torch DDP overlap raised scaling") == set()  # not a named flag
    base = {"id": "M", "model": "gpt3-175b", "hardware": "h100-sxm", "n_devices": "1024", "global_batch_seqs": "1536",
            "tp": "8", "pp": "8", "mfu": "0.4", "stack": "megatron-core-2024"}
    plain, _ = parse_row(base)
    told, spec = parse_row({**base, "notes": "--tp-comm-overlap --overlap-grad-reduce"})
    assert told.stack.tp_overlap and told.stack.dp_overlap and spec[2].sequence_parallel
    assert plain.stack is not told.stack and plain.stack.key == told.stack.key  # the row's copy, not the catalog's


def test_a_row_without_a_sequence_length_takes_its_stacks_recipe_length():
    from simulator.catalog.stacks import find_stack

    base = {"id": "T", "model": "Llama 3.1 8B", "layers": "32", "hidden": "4096", "heads": "32", "hardware": "h100-sxm",
            "n_devices": "128", "global_batch_seqs": "256", "dp": "128", "tokens_per_s_per_device": "5000",
            "sharding": "FSDP"}
    parsed, spec = parse_row({**base, "stack": "torchtitan-fsdp2"})
    assert spec[0].seq_len == find_stack("torchtitan-fsdp2").seq_len_default == 8192
    assert parsed.origin["seq_len"] == "stack" and "seq_len" in parsed.to_dict()["from_stack"].split(";")
    skipped, none = parse_row({**base, "stack": "megatron-core-2024"})  # no recipe length read for it
    assert none is None and "seq_len" in skipped.skipped
    told, spec = parse_row({**base, "stack": "torchtitan-fsdp2", "seq_len": "4096"})
    assert spec[0].seq_len == 4096 and told.origin["seq_len"] == "row"


@pytest.mark.parametrize("cells, tp, origin", [
    ({"dp": "16", "pp": "1"}, 8, "derived"),  # torchtitan's 405B table: tp 8 implied by 128 / 16
    ({"sharding": "12-way model parallel x 256-way FSDP per pod"}, 12, "text"),  # PaLM's words
    ({"tp": "4"}, 4, "row"),
])
def test_tp_is_read_or_derived_as_the_row_states_it(cells, tp, origin):
    base = {"id": "T", "model": "llama3-405b", "hardware": "h100-sxm", "n_devices": "128" if tp != 12 else "3072",
            "global_batch_seqs": "3072", "mfu": "0.3"}
    parsed, _ = parse_row({**base, **cells})
    assert parsed.origin["tp"] == origin
    assert f"tp{tp} " in parsed.layout and not parsed.skipped


def test_an_overlapped_parameter_gather_means_the_distributed_optimizer():
    base = {"id": "M", "model": "gpt3-175b", "hardware": "h100-sxm", "n_devices": "3072", "global_batch_seqs": "1536",
            "tp": "8", "pp": "8", "mfu": "0.4", "stack": "megatron-core-2024"}
    plain, a = parse_row(base)
    told, b = parse_row({**base, "notes": "--overlap-grad-reduce --overlap-param-gather"})
    assert a[2].zero.stage == 0 and plain.origin["zero"] == "stack"  # Megatron-Core's default: not sharded
    assert b[2].zero.stage == 1 and told.origin["zero"] == "text"


def test_an_unstated_split_is_searched_and_its_spread_reported():
    from simulator.catalog.efficiency import default_efficiency
    from simulator.measure.validation import complete

    row = {"id": "U", "model": "llama2-70b", "hardware": "a100-80gb", "n_devices": "64", "global_batch_seqs": "512",
           "iteration_time_s": "30", "stack": "megatron-core-2024"}
    parsed, spec = parse_row(row)
    assert (parsed.origin["tp"], parsed.origin["pp"]) == ("default", "default") and spec[2].tp == spec[2].pp == 1
    done, found = complete(row, default_efficiency(), "auto")  # 70B on one device each: does not fit, so searched
    lay = found[2]
    assert lay.tp * lay.pp > 1 and lay.tp * lay.pp * lay.dp == 64
    assert {done.origin[k] for k in ("tp", "pp", "dp", "zero")} == {"searched"}
    s = done.spread
    assert s["completions"] >= 1 and 0 < s["best"] <= s["median"]  # a step time: the fastest is the least
    stated, _ = complete({**row, "tp": "8", "pp": "8"}, default_efficiency(), "search")
    assert stated.origin["tp"] == "row" and stated.origin["pp"] == "row"  # a stated split is never searched


@pytest.mark.parametrize("value", ["0", "-8", "8192.5", '"long"'])
def test_a_bad_recipe_length_in_the_stack_table_names_table_and_key(value):
    from importlib.resources import files

    from simulator.catalog.stacks import STACKS_TOML, parse_stacks, stack_evidence

    text = files("simulator.catalog").joinpath(STACKS_TOML).read_text(encoding="utf-8")
    bad = text.replace("seq_len_default = 8192", f"seq_len_default = {value}")
    assert bad != text
    with pytest.raises(ValueError, match=r"\[torchtitan-fsdp2\]: seq_len_default = "):
        parse_stacks(bad, stack_evidence())


def test_empty_or_repeated_ids_are_named_by_their_line_and_refused_when_strict(tmp_path):
    from simulator.measure.validation import check_values

    rows = [{"id": "A", "mfu": "0.4"}, {"id": "A", "mfu": "0.4"}, {"id": " ", "mfu": "0.4"}]
    warnings = check_values("m.csv", [dict(r) for r in rows], strict=False)
    assert [w.split(": column 'id': ")[1] for w in warnings] == ["'A' repeats row 2; named 'A@3'",
                                                                  "empty; named 'row@4'"]
    with pytest.raises(ValueError, match=r"m.csv: row 3 \(id=A\): column 'id': 'A' repeats row 2"):
        check_values("m.csv", [dict(r) for r in rows], strict=True)


def test_a_step_time_in_milliseconds_is_flagged():
    from simulator.measure.measurement import Row
    from simulator.measure.validation import unit_warnings

    ms = Row("M", metric="iteration_time_s", measured=36_000.0, predicted=36.5)
    s = Row("S", metric="iteration_time_s", measured=40.0, predicted=36.5)
    f = Row("F", metric="mfu", measured=0.4, predicted=0.0004)
    (w,) = unit_warnings([ms, s, f])
    assert w.startswith("M: column 'iteration_time_s': 36000 is 986x the prediction; milliseconds")


def test_an_unstated_split_may_place_uneven_stages_where_the_stack_does():
    from simulator.catalog.efficiency import default_efficiency
    from simulator.measure.validation import complete

    # Llama 3 405B's 126 layers on 16,384 H100 at batch 2048: only pp that do not divide the
    # layers fit (Meta ran pp 16); a divisors-only search found no completion at all
    row = {"id": "L", "model": "llama3-405b", "hardware": "h100-sxm", "n_devices": "16384",
           "global_batch_seqs": "2048", "mfu": "0.4", "stack": "megatron-core-2024"}
    done, found = complete(row, default_efficiency(), "search")
    lay = found[2]
    assert lay.tp * lay.pp * lay.dp == 16384 and 126 % lay.pp and done.origin["pp"] == "searched"
    assert done.spread["completions"] > 1 and done.spread["best"] >= done.spread["median"]  # MFU: the best is the most
