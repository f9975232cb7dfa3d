"""Published matmul benchmarks carry the fitted GEMM efficiency to other devices
(catalog/kernel_benchmarks.csv, specs.Efficiency.gemm_for)."""

from __future__ import annotations

import csv
import dataclasses
import io
from importlib.resources import files

import pytest

from simulator.catalog.efficiency import default_efficiency, parse_kernel_benchmarks
from simulator.catalog.hardware import find_accelerator
from simulator.core.specs import Precision

ROWS = list(csv.DictReader(io.StringIO(files("simulator.catalog").joinpath("kernel_benchmarks.csv").read_text("utf-8"))))
EFF = default_efficiency()


@pytest.mark.parametrize("row", ROWS, ids=[r["key"] for r in ROWS])
def test_each_benchmark_names_its_source_and_matches_the_catalog_peak(row):
    """The table's theoretical peak agrees with the catalog's within 10% (Gaudi 2: 432
    against 450 TFLOP/s; MI355X: 2300 against AMD's 2516.6); the fraction used is of the
    catalog's peak, the one the step model multiplies."""
    assert row["source"] and row["verification"]
    acc = find_accelerator(row["device"])
    peak = acc.peak(Precision(row["precision"])) / 1e12
    assert float(row["peak_tflops"]) == pytest.approx(peak, rel=0.10)
    assert 0 < float(row["achieved_tflops"]) <= float(row["peak_tflops"])


def test_a_device_without_a_fit_gets_the_reference_efficiency_scaled_by_the_benchmarks():
    """Closed form: H100 BF16 = gemm x (794.5 / 989.4) / (271.2 / 312), of the catalog's peaks."""
    h100 = find_accelerator("h100-sxm").name
    expected = EFF.gemm * (794.5 / 989.4) / (271.2 / 312)
    assert EFF.gemm_for(h100, Precision.BF16) == pytest.approx(expected, rel=1e-9)
    assert EFF.gemm_for(h100, Precision.FP16) == EFF.gemm_for(h100, Precision.BF16)  # one tensor peak


def test_a_fit_of_its_own_wins_and_no_benchmark_means_the_base_value():
    h100, tpu = find_accelerator("h100-sxm").name, find_accelerator("tpu-v4").name
    own = {(n, p): v for n, p, v in EFF.gemm_by_device}
    assert EFF.gemm_for(h100, Precision.FP8) == own[(h100, "fp8")]
    assert EFF.gemm_for(tpu, Precision.BF16) == EFF.gemm
    a100 = find_accelerator("a100-80gb").name
    assert EFF.gemm_reference == (a100, "bf16") and EFF.gemm_for(a100, Precision.BF16) == EFF.gemm
    bare = dataclasses.replace(EFF, matmul_ceiling=())
    assert bare.gemm_for(h100, Precision.BF16) == EFF.gemm


def test_a_slower_kernel_benchmark_makes_the_step_slower():
    """The benchmark reaches the step time: halving H100's BF16 ceiling slows a step."""
    from test_parallelism import cluster_of

    from simulator.catalog.models import find_model
    from simulator.core.specs import Layout
    from simulator.engine.step import simulate_step

    model, cluster = find_model("gpt3-175b"), cluster_of("h100-sxm", 64)
    layout = Layout(global_batch=64, dp=1, tp=8, pp=8, sequence_parallel=True, precision=Precision.BF16)
    h100 = cluster.accelerator
    slow = tuple((n, p, v / 2 if n == h100.name and p == "bf16" else v) for n, p, v in EFF.matmul_ceiling)
    fast_t = simulate_step(model, cluster, layout, EFF).step_time_s
    slow_t = simulate_step(model, cluster, layout, dataclasses.replace(EFF, matmul_ceiling=slow)).step_time_s
    assert slow_t > 1.3 * fast_t


@pytest.mark.parametrize("change, message", [
    (("device", "h100"), "column 'device': not an accelerator key: 'h100'"),
    (("precision", "bf17"), "column 'precision': not one of"),
    (("achieved_tflops", "1200"), "must be positive with achieved <= peak"),
    (("achieved_tflops", "fast"), "column 'achieved_tflops': not a number: 'fast'"),
])
def test_a_bad_benchmark_row_names_the_file_key_column_and_value(change, message):
    row = dict(ROWS[2])
    row[change[0]] = change[1]
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(row))
    w.writeheader()
    w.writerow(row)
    with pytest.raises(ValueError, match="kernel_benchmarks.csv: key='h100-sxm.bf16.matmul'") as e:
        parse_kernel_benchmarks(out.getvalue())
    assert message in str(e.value)
