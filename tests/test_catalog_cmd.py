"""`simulator catalog KIND` (issue 14): every row with its key numbers and source, in 80 columns."""

from __future__ import annotations

import json
import re

import pytest
from cli_helpers import one_line, run
from typer.testing import CliRunner

import simulator.cli.catalog_cmd  # noqa: F401  (registers `catalog` on the shared app)
from simulator.catalog.listing import KINDS, catalog_listing
from simulator.cli.catalog_cmd import render_catalog
from simulator.cli.common import app


def test_command_registers_on_the_shared_app():
    result = CliRunner().invoke(app, ["catalog", "links", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["kind"] == "links"


@pytest.mark.parametrize("kind", KINDS)
def test_every_row_and_source_listed(kind):
    rows = catalog_listing(kind)
    assert rows and all(r["key"] and r["source"].strip() for r in rows)
    assert len({r["key"] for r in rows}) == len(rows)


@pytest.mark.parametrize("kind", KINDS)
def test_table_fits_80_columns_and_never_cuts_a_number(capsys, monkeypatch, kind):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run(capsys, "catalog", kind)
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = catalog_listing(kind)
    for r in rows:  # every row, in every table
        assert sum(1 for line in lines if line.startswith(r["key"] + " ")) >= 2 or kind in ("links", "kernels"), r["key"]
        assert any(line.startswith(r["key"] + " ") for line in lines), r["key"]
    for _, table, width in render_catalog(kind, rows, 80):
        assert width <= 80
        for column in table.columns:
            cells = [str(c) for c in column._cells]
            if column.header in ("name", "source", "attention kernel"):  # text, cut to fit
                continue
            # keys and numbers: the column is as wide as its widest cell, and printed whole
            assert column.width >= max(len(c) for c in cells + [str(column.header)]), column.header
            for cell in cells:
                assert cell in out, (column.header, cell)
    assert "…" in out  # sources are cut to fit (numbers never: above)


def test_accelerator_numbers_shown_whole(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = run(capsys, "catalog", "accelerators")
    h100 = next(line for line in out.splitlines() if line.startswith("h100-sxm "))
    for number in ("2022-09-20", "66.9", "494.7", "989.4", "1979", "80", "3350", "700", "37750", "12.29"):
        assert re.search(rf"(^|\s){re.escape(number)}(\s|$)", h100), (number, h100)
    system = [line for line in out.splitlines() if line.startswith("a100-80gb ")][1]
    assert re.search(r"nvlink3\s+ib-hdr\s+8\s", system), system


def test_stacks_show_behaviours_and_legend(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = run(capsys, "catalog", "stacks")
    row = next(line for line in out.splitlines() if line.startswith("megatron-lm-2021 "))
    assert "2021-08-10" in row and "0/0/0" in row and "i-------r--" in row
    assert "i=interleaved 1F1B" in out and "o=optimizer offload" in out


def test_kernels_list_the_attention_rates_and_stacks_their_kernel(capsys):
    """The kernel table lists each attention rate with its length and fraction of peak; a stack
    lists the kernel it runs per device key."""
    rows = {r["key"]: r for r in catalog_listing("kernels")}
    row = rows["h100-sxm.bf16.cudnn-attention.forward.8192"]
    assert row["seq_len"] == 8192 and row["achieved_tflops"] == 529 and row["fraction_of_peak"] == round(529 / 989, 4)
    assert rows["h100-sxm.bf16.matmul"]["seq_len"] is None
    stacks = {r["key"]: r for r in catalog_listing("stacks")}
    assert stacks["nemo-2024"]["attention_kernel"]["h100-sxm"] == "cudnn-attention"
    assert stacks["torchtitan-fsdp2"]["attention_kernel"]["h100-sxm"] == "flash-attention-2"
    assert stacks["megatron-lm-2021"]["attention_kernel"] == {}
    code, out, _ = run(capsys, "catalog", "stacks", "--wide")
    assert code == 0 and "cudnn-attention: h100-sxm, h200-sxm" in out


def test_wide_prints_sources_in_full(capsys):
    code, out, _ = run(capsys, "catalog", "techniques", "--wide")
    assert code == 0
    source = catalog_listing("techniques")[1]["source"]
    assert len(source) > 80 and " ".join(source.split()) in out
    assert "2012-09-30*" in out and "first shown by a run (alexnet)" in out


@pytest.mark.parametrize("kind", ["accelerators", "model"])
def test_json_every_field_in_full(capsys, kind):
    code, out, _ = run(capsys, "catalog", kind, "--json")
    assert code == 0
    payload = json.loads(out)
    full = kind if kind.endswith("s") else kind + "s"
    assert payload["kind"] == full and payload["rows"] == json.loads(json.dumps(catalog_listing(full)))
    if full == "accelerators":
        h100 = next(r for r in payload["rows"] if r["key"] == "h100-sxm")
        assert h100["bf16_tflops"] == 989.4 and h100["memory_gb"] == 80 and h100["default_intra_link"] == "nvlink4"
        assert max(len(r["source"]) for r in payload["rows"]) > 300


def test_unknown_kind_is_one_line_exit_2_listing_the_kinds(capsys):
    code, out, err = run(capsys, "catalog", "gpus")
    assert code == 2 and out == ""
    assert one_line(err) == ("error: unknown catalog 'gpus'; one of: accelerators, links, models, techniques, "
                             "stacks, kernels, run-facts, actors")


def test_ambiguous_accelerator_in_a_scenario_is_one_line_exit_2(capsys, tmp_path):
    path = tmp_path / "a100.toml"
    path.write_text('[model]\nname = "gpt3-175b"\n\n[cluster]\naccelerator = "A100"\ndevices = 64\n'
                    'devices_per_node = 8\n\n[layout]\nglobal_batch = 64\ntp = 8\npp = 8\nrecompute = "full"\n')
    code, out, err = run(capsys, "step", str(path))
    assert code == 2 and out == ""
    line = one_line(err)
    assert "accelerator='A100'" in line and "ambiguous: a100-40gb, a100-80gb" in line, line
