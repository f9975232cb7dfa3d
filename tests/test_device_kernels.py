"""benchmarks/device_kernels.py: its FLOP counts and its rows, on any machine (the measuring
itself needs a CUDA GPU and PyTorch, and refuses without them in one line)."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
from pathlib import Path

import pytest

from simulator.catalog.efficiency import parse_attention_benchmarks, parse_kernel_benchmarks

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "device_kernels.py"


@pytest.fixture(scope="module")
def dk():
    spec = importlib.util.spec_from_file_location("device_kernels", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_attention_flops_are_flashattentions_count(dk):
    """benchmark_flash_attention.py: f = 4 b s^2 h d // (2 if causal else 1); backward 2.5 f."""
    f = dk.attention_flops(2, 8192, 16, 128)
    assert f == 4 * 2 * 8192**2 * 16 * 128 / 2
    assert dk.attention_flops(2, 8192, 16, 128, causal=False) == 2 * f
    assert dk.attention_flops(2, 8192, 16, 128, backward=True) == 2.5 * f
    assert dk.matmul_flops(1024, 2048, 4096) == 2 * 1024 * 2048 * 4096


def test_its_rows_are_catalog_rows(dk, tmp_path):
    """What the script writes, the catalog's loaders read: a matmul row and an attention
    kernel's forward and backward at one length."""
    when = dt.date(2026, 12, 8)
    rows = [dk.row("h100-sxm", "bf16", "matmul", 800.0, 989, "torch 2.x", "NVIDIA H100 80GB HBM3", when, "4096x8192x8192"),
            dk.row("h100-sxm", "bf16", "cudnn-attention.forward", 520.0, 989, "torch 2.x", "NVIDIA H100", when, seq_len=8192),
            dk.row("h100-sxm", "bf16", "cudnn-attention.backward", 500.0, 989, "torch 2.x", "NVIDIA H100", when, seq_len=8192)]
    path = tmp_path / "rows.csv"
    dk.write_rows(rows, path)
    text = path.read_text(encoding="utf-8")
    assert list(csv.DictReader(io.StringIO(text)))[1]["key"] == "h100-sxm.bf16.cudnn-attention.forward.8192"
    ((name, fraction),) = [(n, v) for n, p, v in parse_kernel_benchmarks(text)]
    assert name == "NVIDIA H100 SXM5 80GB" and fraction == pytest.approx(800 / 989.4, rel=1e-3)
    ((_, kernel, points),) = parse_attention_benchmarks(text)
    assert kernel == "cudnn-attention" and points == ((8192, 520e12, 500e12),)
    assert "device_kernels.py" in rows[0]["source"] and "2026-12-08" in rows[0]["source"]


def test_it_refuses_before_any_work(dk, tmp_path, capsys):
    """A bad device key, an existing output, or no PyTorch or GPU: one line, exit 2."""
    assert dk.main(["--device", "h1000x", "--out", str(tmp_path / "a.csv")]) == 2
    assert "--device 'h1000x'" in capsys.readouterr().err
    existing = tmp_path / "b.csv"
    existing.write_text("x")
    assert dk.main(["--device", "h100-sxm", "--out", str(existing)]) == 2
    assert "never overwritten" in capsys.readouterr().err
    try:
        import torch
        gpu = torch.cuda.is_available()
    except ImportError:
        gpu = False
    if gpu:
        pytest.skip("a GPU is visible: the script would measure it")
    assert dk.main(["--device", "h100-sxm", "--out", str(tmp_path / "c.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("PyTorch is not installed" in err[0] or "no CUDA GPU" in err[0])
    assert not (tmp_path / "c.csv").exists()
