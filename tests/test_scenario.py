"""Scenario files: every validation rule, the shipped scenarios, the built-in models."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path

import pytest

from simulator.catalog.models import builtin_models, find_model, model_notes
from simulator.catalog.scenario import Scenario, ScenarioError, default_scenario_path, load_scenario, parse_scenario
from simulator.core.specs import Attention, GenericNetwork, Precision, Recompute, Schedule, Transformer, Zero
from simulator.costs.step import check_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*.toml") if "[frontier]" not in p.read_text())  # step scenarios

BASE = {
    "name": "test",
    "description": "a valid scenario that each test breaks in one place",
    "model": {"name": "gpt3-175b"},
    "cluster": {"accelerator": "a100-80gb", "devices": 64, "devices_per_node": 8},
    "layout": {"global_batch": 64, "tp": 8, "pp": 8, "dp": 1, "micro_batch": 1,
               "schedule": "1f1b", "recompute": "full", "zero": 0, "precision": "fp16"},
}


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def to_toml(data: dict) -> str:
    """Just enough of a TOML writer for these tests (scalars and one level of tables)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for name, table in data.items():
        if isinstance(table, dict):
            lines.append(f"\n[{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def variant(changes: dict | None = None, drop: tuple = ()) -> dict:
    """BASE with tables updated by `changes` and ("table", "key") pairs removed."""
    data = copy.deepcopy(BASE)
    for key, value in (changes or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    for item in drop:
        if isinstance(item, tuple):
            del data[item[0]][item[1]]
        else:
            del data[item]
    return data


def write(tmp_path: Path, data: dict | str, name: str = "case.toml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else to_toml(data))
    return path


def error_of(tmp_path: Path, data: dict | str) -> str:
    path = write(tmp_path, data)
    with pytest.raises(ScenarioError) as info:  # the form, then the structural rules (as the CLI does)
        check_scenario(load_scenario(path))
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(str(path) + ": "), message
    return message


def test_base_is_valid(tmp_path):
    s = load_scenario(write(tmp_path, BASE))
    assert isinstance(s, Scenario)
    assert s.name == "test" and s.origin.endswith("case.toml")
    assert s.model == find_model("gpt3-175b")
    assert (s.layout.dp, s.layout.tp, s.layout.pp) == (1, 8, 8)
    assert s.layout.schedule is Schedule.ONE_F_ONE_B
    assert s.layout.recompute is Recompute.FULL
    assert s.layout.precision is Precision.FP16
    assert s.layout.zero is Zero.STAGE_0
    assert s.layout.attention is Attention.FLASH  # Layout's default
    assert s.cluster.n_devices == 64 and s.cluster.devices_per_node == 8
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.name = "other"


# ------------------------------------------------------------ one rule, one bad input
# (changes, drop, key, value-as-written-in-message, words in the problem)
BAD = {
    "unknown top-level table": ({"extra": {"a": 1}}, (), "extra", "{'a': 1}", "allowed"),
    "unknown top-level key": ({"title": "x"}, (), "title", "'x'", "allowed: name"),
    "unknown cluster key": ({"cluster": {"gpus": 8}}, (), "[cluster] gpus", "8",
                            "allowed: accelerator, devices"),
    "unknown layout key": ({"layout": {"tensor_parallel": 8}}, (), "[layout] tensor_parallel",
                           "8", "did you mean 'sequence_parallel'?"),
    "unknown model key": ({"model": {"name": "gpt3-175b", "depth": 3}}, (), "[model] depth",
                          "3", "allowed"),
    "table given as string": ({"model": "gpt3-175b"}, (), "model", "'gpt3-175b'", "table"),
    "name not a string": ({"name": 5}, (), "name", "5", "string"),
    "bool for int": ({"cluster": {"devices": True}}, (), "[cluster] devices", "True",
                     "positive integer"),
    "float for int": ({"cluster": {"devices": 64.0}}, (), "[cluster] devices", "64.0",
                      "positive integer"),
    "string for int": ({"layout": {"tp": "8"}}, (), "[layout] tp", "'8'", "positive integer"),
    "int for bool": ({"layout": {"sequence_parallel": 1}}, (), "[layout] sequence_parallel",
                     "1", "true or false"),
    "negative devices": ({"cluster": {"devices": -4}}, (), "[cluster] devices", "-4",
                         "must be a positive integer"),
    "zero micro-batch": ({"layout": {"micro_batch": 0}}, (), "[layout] micro_batch", "0",
                         "positive integer"),
    "zero global batch": ({"layout": {"global_batch": 0}}, (), "[layout] global_batch", "0",
                          "positive integer"),
    "negative inline layers": ({"model": {"name": "x", "layers": -2, "hidden": 64, "heads": 4,
                                          "seq_len": 8, "vocab": 10}}, (),
                               "[model] layers", "-2", "positive integer"),
    "non-positive generic params": ({"model": {"params": 0.0, "flops_per_example": 1e9,
                                               "activation_bytes_per_example": 1e6},
                                     "layout": {"tp": 1, "pp": 1, "dp": 64}},
                                    (("model", "name"),), "[model] params", "0.0",
                                    "positive number"),
    "missing devices": ({}, (("cluster", "devices"),), "[cluster] devices", None, "missing"),
    "missing accelerator": ({}, (("cluster", "accelerator"),), "[cluster] accelerator", None,
                            "missing"),
    "missing global batch": ({}, (("layout", "global_batch"),), "[layout] global_batch", None,
                             "missing"),
    "missing layout table": ({}, ("layout",), "layout", None, "missing"),
    "missing model": ({}, (("model", "name"),), "[model] name", None, "missing"),
    "inline missing hidden": ({"model": {"name": "mine", "layers": 2, "heads": 4, "seq_len": 8,
                                         "vocab": 10}}, (), "[model] hidden", None, "missing"),
    "unknown schedule": ({"layout": {"schedule": "pipedream"}}, (), "[layout] schedule",
                         "'pipedream'", "must be one of gpipe, 1f1b, interleaved"),
    "unknown recompute": ({"layout": {"recompute": "some"}}, (), "[layout] recompute",
                          "'some'", "must be one of none, selective, full"),
    "unknown precision": ({"layout": {"precision": "fp4"}}, (), "[layout] precision", "'fp4'",
                          "must be one of fp32"),
    "unknown attention": ({"layout": {"attention": "sparse"}}, (), "[layout] attention",
                          "'sparse'", "must be one of flash, materialized"),
    "zero stage 4": ({"layout": {"zero": 4}}, (), "[layout] zero", "4", "must be one of 0, 1"),
    "zero as bool": ({"layout": {"zero": True}}, (), "[layout] zero", "True", "one of"),
    "enum given a number": ({"layout": {"precision": 16}}, (), "[layout] precision", "16",
                            "string"),
    "unknown accelerator": ({"cluster": {"accelerator": "tpu-v99-ultra"}}, (),
                            "[cluster] accelerator", "'tpu-v99-ultra'", "tpu-v99-ultra"),
    "unknown intra link": ({"cluster": {"intra_link": "nvlink99"}}, (), "[cluster] intra_link",
                           "'nvlink99'", "nvlink99"),
    "unknown inter link": ({"cluster": {"inter_link": "carrier-pigeon"}}, (),
                           "[cluster] inter_link", "'carrier-pigeon'", "carrier-pigeon"),
    "unknown built-in model": ({"model": {"name": "gpt-17"}}, (), "[model] name", "'gpt-17'",
                               "gpt3-175b"),
    "tp not dividing heads": ({"model": {"name": "twelve-heads", "layers": 8, "hidden": 768, "heads": 12,
                                         "seq_len": 1024, "vocab": 1000}, "layout": {"tp": 8, "pp": 8}}, (),
                              "[layout] tp", "8", "tp does not divide the attention heads (tp=8, heads=12)"),
    "tp outside the node": ({"cluster": {"devices": 40}, "layout": {"tp": 5, "pp": 8}}, (),
                            "[layout] tp", "5", "tp does not divide the node"),
    "tp splitting a node": ({"cluster": {"devices": 96}, "layout": {"tp": 12}}, (), "[layout] tp",
                            "12", "tp does not divide the node"),
    "pp above the layers": ({"cluster": {"devices": 128}, "layout": {"tp": 1, "pp": 128}}, (),
                            "[layout] pp", "128", "does not divide the layers (layers=96, pp=128"),
    "pp*v not dividing layers": ({"cluster": {"devices": 64},
                                  "layout": {"schedule": "interleaved", "virtual_stages": 5,
                                             "global_batch": 64}}, (),
                                 "[layout] virtual_stages", "5", "does not divide the layers (layers=96, pp=8, v=5)"),
    "dp*tp*pp != devices": ({"layout": {"dp": 2}}, (), "[layout] dp", "2",
                            "dp*tp*pp*cp = 128 must equal [cluster] devices=64"),
    "tp*pp not dividing devices": ({"cluster": {"devices": 100}}, (("layout", "dp"),),
                                   "[layout] pp", "8", "devices=100"),
    "batch not divisible": ({"layout": {"tp": 8, "pp": 1, "dp": 8, "global_batch": 60}}, (),
                            "[layout] global_batch", "60", "not divisible by dp x micro-batch (global batch 60 vs dp 8"),
    "batch vs micro-batch": ({"layout": {"micro_batch": 3}}, (), "[layout] global_batch", "64",
                             "micro-batch 3)"),
    "interleaved without v": ({"layout": {"schedule": "interleaved"}}, (),
                              "[layout] virtual_stages", "1", "virtual_stages > 1"),
    "interleaved few micro-batches": ({"layout": {"schedule": "interleaved",
                                                  "virtual_stages": 2, "global_batch": 12}}, (),
                                      "[layout] global_batch", "12", "micro-batches divisible by pp (micro-batches=12, pp=8)"),
    "v without interleaving": ({"layout": {"virtual_stages": 2}}, (),
                               "[layout] virtual_stages", "2", "interleaved"),
    "generic with tp": ({"model": {"name": "alexnet"},
                         "layout": {"tp": 2, "pp": 1, "dp": 32}}, (), "[layout] tp", "2",
                        "data parallelism only"),
    "generic with pp": ({"model": {"name": "resnet50"},
                         "layout": {"tp": 1, "pp": 4, "dp": 16}}, (), "[layout] pp", "4",
                        "data parallelism only"),
    "override foreign field": ({"model": {"name": "alexnet", "hidden": 64},
                                "layout": {"tp": 1, "pp": 1, "dp": 64}}, (),
                               "[model] hidden", "64", "cannot override"),
    "mixed inline kinds": ({"model": {"name": "mix", "layers": 2, "hidden": 64, "heads": 4,
                                      "seq_len": 8, "vocab": 10, "params": 1e6}}, (),
                           "[model] params", "1000000.0", "generic-network"),
    "heads not dividing hidden": ({"model": {"name": "odd", "layers": 8, "hidden": 100,
                                             "heads": 8, "seq_len": 8, "vocab": 10}}, (),
                                  "[model] heads", "8", "hidden=100"),
    "kv heads not dividing heads": ({"model": {"name": "gpt3-175b", "kv_heads": 7}}, (),
                                    "[model] kv_heads", "7", "heads=96"),
}


@pytest.mark.parametrize("case", sorted(BAD), ids=sorted(BAD))
def test_bad_input_names_file_key_and_value(tmp_path, case):
    changes, drop, key, value, problem = BAD[case]
    message = error_of(tmp_path, variant(changes, drop))
    head = f"{key}={value}" if value is not None else key
    assert head in message, message
    assert problem in message, message


def test_messages_use_the_documented_shape(tmp_path):
    message = error_of(tmp_path, variant({"cluster": {"devices": -4}}))
    assert message == f"{tmp_path / 'case.toml'}: [cluster] devices=-4: must be a positive integer"


def test_toml_syntax_error_is_one_line_with_line_number(tmp_path):
    text = to_toml(BASE).replace("devices = 64", "devices = = 64")
    message = error_of(tmp_path, text)
    line = 1 + text.splitlines().index("devices = = 64")
    assert "TOML syntax error" in message and f"line {line}" in message, message


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: file not found"


def test_parse_scenario_uses_origin():
    with pytest.raises(ScenarioError) as info:
        parse_scenario(variant({"cluster": {"devices": 0}}), "inline-origin")
    assert str(info.value).startswith("inline-origin: [cluster] devices=0:")


def test_defaults_dp_and_links(tmp_path):
    s = load_scenario(write(tmp_path, variant(drop=(("layout", "dp"),
                                                    ("cluster", "devices_per_node")))))
    assert s.layout.dp == 1 and s.cluster.devices_per_node >= 1
    assert s.cluster.intra_link is not None and s.cluster.inter_link is not None
    s = load_scenario(write(tmp_path, variant({"cluster": {"devices": 512}},
                                              drop=(("layout", "dp"),))))
    assert s.layout.dp == 8 and s.layout.n_devices == 512


def test_zero_accepts_int_or_string(tmp_path):
    for value, stage in ((3, 3), ("2", 2), (0, 0)):
        s = load_scenario(write(tmp_path, variant({"layout": {"zero": value}})))
        assert s.layout.zero.stage == stage


def test_inline_models_and_overrides(tmp_path):
    s = load_scenario(write(tmp_path, variant({"model": {"name": "gpt3-175b", "seq_len": 4096}})))
    assert s.model.seq_len == 4096 and s.model.name == "gpt3-175b"
    assert s.model.layers == 96 and "seq_len=4096" in s.model.source
    inline = {"name": "tiny", "layers": 8, "hidden": 512, "heads": 8, "seq_len": 128,
              "vocab": 1000, "kv_heads": 2, "ffn_hidden": 1024, "gated_mlp": True}
    s = load_scenario(write(tmp_path, variant({"model": inline})))
    assert s.model == Transformer(**inline)
    generic = {"params": 1e6, "flops_per_example": 2e8, "activation_bytes_per_example": 1e6}
    s = load_scenario(write(tmp_path, variant({"model": generic,
                                               "layout": {"tp": 1, "pp": 1, "dp": 64}},
                                              drop=(("model", "name"),))))
    assert isinstance(s.model, GenericNetwork) and s.model.flops_per_example == 2e8


def test_raw_is_resolved_and_reloads(tmp_path):
    data = variant({"model": {"name": "gpt3-175b", "seq_len": 4096}},
                   drop=(("layout", "dp"), ("cluster", "devices_per_node")))
    s = load_scenario(write(tmp_path, data))
    assert s.raw["layout"]["dp"] == 1 and s.raw["layout"]["schedule"] == "1f1b"
    assert {"intra_link", "inter_link", "devices_per_node"} <= set(s.raw["cluster"])
    again = parse_scenario(s.raw, "raw")
    assert (again.model, again.cluster, again.layout) == (s.model, s.cluster, s.layout)


# ------------------------------------------------------------ shipped scenarios
def test_scenarios_folder_has_the_expected_files():
    names = {p.name for p in SCENARIOS}
    assert {"default.toml", "megatron-1t-3072.toml", "gpt3-175b-zero3.toml",
            "llama3-405b-h100.toml"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_shipped_scenarios_load(path):
    s = load_scenario(path)
    assert s.layout.n_devices == s.cluster.n_devices
    assert path.read_text().lstrip().startswith("#")  # comment header


def test_default_scenario_path_matches_scenarios_default():
    assert default_scenario_path().read_bytes() == (ROOT / "scenarios/default.toml").read_bytes()
    s = load_scenario(default_scenario_path())
    assert s.model.name == "gpt3-175b" and s.cluster.n_devices == 1024
    assert (s.layout.tp, s.layout.pp, s.layout.dp) == (8, 8, 16)
    assert s.layout.global_batch == 1536


def test_published_layouts():
    m = load_scenario(ROOT / "scenarios/megatron-1t-3072.toml")
    assert m.model.name == "megatron-1t" and m.cluster.n_devices == 3072
    assert (m.layout.tp, m.layout.pp, m.layout.dp, m.layout.global_batch) == (8, 64, 6, 3072)
    z = load_scenario(ROOT / "scenarios/gpt3-175b-zero3.toml")
    assert z.layout.zero is Zero.STAGE_3 and (z.layout.dp, z.layout.micro_batch) == (384, 4)
    assert z.layout.global_batch == 1536
    ll = load_scenario(ROOT / "scenarios/llama3-405b-h100.toml")
    assert (ll.layout.tp, ll.layout.pp, ll.layout.dp) == (8, 16, 128)
    assert ll.cluster.n_devices == 16384 and ll.model.seq_len == 8192
    assert ll.layout.global_batch * ll.model.seq_len == 2048 * 8192  # 16M tokens


# ------------------------------------------------------------ built-in models
PUBLISHED = {  # total parameters as published
    "gpt3-175b": 175e9,        # Brown et al. 2020 Table 2.1
    "megatron-1t": 1008.0e9,   # Narayanan et al. 2021 Table 1
    "mt-nlg-530b": 530e9,      # Smith et al. 2022 (529.6B in Narayanan Table 1)
    "gpt-22b": 22e9,           # Korthikanti et al. 2022 Table 3
    "gpt2-1.5b": 1542e6,       # Radford et al. 2019 Table 2
    "llama2-70b": 70e9,        # Touvron et al. 2023
    "llama3-405b": 405e9,      # Llama 3 paper Table 3
    "chinchilla-70b": 70e9,    # Hoffmann et al. 2022 Table 4
    "mixtral-8x7b": 46.7e9,    # Jiang et al. 2024 Sec. 2.1 (46.7B total, 12.9B active)
    "deepseek-v3": 671e9,      # DeepSeek-V3 report (671B total, 37B activated)
    "alexnet": 61e6,           # Krizhevsky et al. 2012 (~60M)
    "resnet50": 25.6e6,        # reference implementation
    "vgg16": 138e6,            # Simonyan & Zisserman 2014 Table 2 (configuration D)
    "lenet5": 60e3,            # LeCun et al. 1998 Sec. II.B
    "seq2seq-lstm": 384e6,     # Sutskever et al. 2014 Sec. 3.4
    "alphago-zero-net": 46.4e6,  # Epoch AI (Silver et al. 2017 architecture)
}


@pytest.mark.parametrize("key", ["gpt3-175b", "megatron-1t", "mt-nlg-530b", "llama2-70b",
                                 "llama3-405b", "gpt-22b", "gpt2-1.5b", "mixtral-8x7b", "deepseek-v3"])
def test_builtin_param_counts_within_3_percent(key):
    params = find_model(key).params
    assert abs(params / PUBLISHED[key] - 1) < 0.03, (key, params)


def test_every_builtin_is_cited_and_off_counts_are_flagged():
    models, notes = builtin_models(), model_notes()
    assert set(models) == set(PUBLISHED)
    for key, model in models.items():
        assert model.source.strip(), key
        if abs(model.params / PUBLISHED[key] - 1) >= 0.03:
            assert "verify" in notes.get(key, ""), key


def test_generic_networks_count_flop_not_multiply_adds():
    assert find_model("resnet50").flops_per_example == pytest.approx(2 * 3.8e9)
    assert find_model("vgg16").flops_per_example == pytest.approx(2 * 15.5e9, rel=0.01)
    assert find_model("alexnet").flops_per_example == pytest.approx(2 * 724e6, rel=0.01)
    for key in ("alexnet", "resnet50", "lenet5", "seq2seq-lstm", "alphago-zero-net"):
        assert "ESTIMATE" in model_notes()[key]


def test_generic_flops_follow_their_architectures():
    # seq2seq: 8 LSTM layers of 4 gates x (1000 + 1000) x 1000 multiply-adds per token plus the
    # 80,000-word softmax on the target side, 30 + 30 tokens (the note's assumption)
    lstm = 4 * 2000 * 1000
    assert find_model("seq2seq-lstm").flops_per_example == pytest.approx(
        2 * (4 * lstm * 30 + (4 * lstm + 80_000 * 1000) * 30), rel=0.01)
    # AlphaGo Zero: 79 convolutions of 3x3x256x256 at 19x19 points, one position
    assert find_model("alphago-zero-net").flops_per_example == pytest.approx(2 * 79 * 361 * 9 * 256 * 256, rel=0.01)
    # its parameters are about the tower's weights
    assert find_model("alphago-zero-net").params == pytest.approx(78 * 9 * 256 * 256, rel=0.03)


def test_find_model_unknown_lists_keys():
    with pytest.raises(KeyError) as info:
        find_model("gpt-17")
    assert "gpt3-175b" in str(info.value) and "more: simulator catalog models" in str(info.value)
    assert find_model("GPT3-175B") is find_model("gpt3-175b")


def test_a_misspelt_key_gets_did_you_mean():
    from simulator.frontier.config import parse_frontier

    with pytest.raises(ScenarioError) as info:
        parse_frontier({"frontier": {"budget_scal": 2}, "sources": {}}, "x.toml")
    assert "did you mean 'budget_scale'?" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ScenarioError) as info:
        parse_frontier({"frontier": {"zzzz": 2}}, "x.toml")
    assert "did you mean" not in str(info.value) and "allowed: actors" in str(info.value)
    assert len(str(info.value)) < 200 and "more: docs/frontier.md" in str(info.value)


def test_every_frontier_key_is_listed_where_the_error_points():
    from pathlib import Path

    from simulator.frontier import config as c

    page = (Path(__file__).resolve().parent.parent / "docs" / "frontier.md").read_text(encoding="utf-8")
    section = page.split("# The largest feasible run of each era")[1].split("\n## ")[0]
    listed = section.split("`[frontier]` table takes")[1].split("(`scenarios/`")[0]
    allowed = c._NUMBERS | c._DATES | c._LISTS | c._LINKS | c._BOOLS | {"price", "withhold", "batch_law"}
    assert {w.strip(" ,.\n") for w in listed.split(":", 1)[1].replace("\n", " ").split(",")} == allowed


@pytest.mark.parametrize("changes,reason", [
    ({"stack": {"name": "megatron-lm-2021"}, "layout": {"zero": 1}}, "ZeRO-2/3 cannot be combined"),
    ({"stack": {"name": "megatron-core-2024"}, "layout": {"zero": 3, "pp": 1, "dp": 8}},
     "the software stack does not run this layout"),
])
def test_a_stack_the_layout_asks_too_much_of_is_named(tmp_path, changes, reason):
    """Under a named [stack], the stack's own rules (costs/rules.py) are bad input naming the stack."""
    message = error_of(tmp_path, variant(changes))
    assert "[stack] name=" in message and reason in message and "the [layout] asks for it" in message, message


@pytest.mark.parametrize("case", ["tp not dividing heads", "tp outside the node", "pp above the layers",
                                  "pp*v not dividing layers", "batch not divisible", "interleaved few micro-batches",
                                  "generic with tp"])
def test_a_scenarios_layout_error_is_the_step_models_reason(tmp_path, case):
    """One rule set: the line a scenario file gets names the rule `check_layout` (the step model
    and, over arrays, the search) finds first for the same layout."""
    from simulator.costs.step import check_layout

    changes, drop, *_ = BAD[case]
    sc = load_scenario(write(tmp_path, variant(changes, drop)))  # the form is fine: the rules refuse it
    bad = check_layout(sc.model, sc.cluster, sc.layout, sc.stack)
    assert bad is not None
    with pytest.raises(ScenarioError, match=re.escape(bad.reason.value)):
        check_scenario(sc)
