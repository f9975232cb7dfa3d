"""Published kernel benchmarks: matmuls carry the fitted GEMM efficiency to other devices,
fused attention kernels time the attention core of the stacks that run them
(catalog/kernel_benchmarks.csv, specs.Efficiency.gemm_for)."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
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


def _one_row_csv(row: dict) -> str:
    """CSV text of a header and one row."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(row))
    w.writeheader()
    w.writerow(row)
    return out.getvalue()


@pytest.mark.parametrize("change, message", [
    (("device", "h100"), "column 'device': not an accelerator key: 'h100'"),
    (("precision", "bf17"), "column 'precision': not one of"),
    (("achieved_tflops", "1200"), "must be positive with achieved <= peak"),
    (("achieved_tflops", "fast"), "column 'achieved_tflops': not a number: 'fast'"),
])
def test_a_bad_benchmark_row_names_the_file_key_column_and_value(change, message):
    row = dict(ROWS[2])
    row[change[0]] = change[1]
    with pytest.raises(ValueError, match="kernel_benchmarks.csv: key='h100-sxm.bf16.matmul'") as e:
        parse_kernel_benchmarks(_one_row_csv(row))
    assert message in str(e.value)


# ------------------------------------------------------------------ fused attention kernels
def test_the_attention_rows_agree_with_flashattention_2s_own_combined_figure():
    """The forward (FlashAttention-3 figure, causal) and backward (FA3 paper, transcribed)
    rates of FlashAttention-2 on H100 give 3.5 / (1/fwd + 2.5/bwd) forward+backward, which
    FlashAttention-2's own release measured at 308 and 328 TFLOP/s (causal, head dim 128, 8k
    and 16k; flash2_h100_fwd_bwd_benchmark.png): two sources within 10%."""
    h100 = find_accelerator("h100-sxm").name
    points = {seq: (f, b) for seq, f, b in EFF.attention_for(h100, "flash-attention-2")}
    assert sorted(points) == [512, 1024, 2048, 4096, 8192, 16384]
    for seq, published in ((8192, 308e12), (16384, 328e12)):
        fwd, bwd = points[seq]
        assert 3.5 / (1 / fwd + 2.5 / bwd) == pytest.approx(published, rel=0.10)
    cudnn = {seq: (f, b) for seq, f, b in EFF.attention_for(h100, "cudnn-attention")}
    assert all(cudnn[q][0] > 1.4 * points[q][0] and cudnn[q][1] > 1.4 * points[q][1] for q in (4096, 8192))
    fa2_fwd = [points[q][0] for q in sorted(points)]
    assert fa2_fwd == sorted(fa2_fwd)  # longer calls run faster, to a plateau
    a100 = EFF.attention_for(find_accelerator("a100-80gb").name, "flash-attention-2")
    assert [(q, f) for q, f, b in a100 if f == b] == [(8192, 182e12), (16384, 189e12)]  # one rate for both
    # cuDNN on Blackwell (NVIDIA/cudnn-frontend's committed benchmarks): B200 beats Hopper, GB200
    # (1200 W) B200, GB300 (Blackwell Ultra) GB200 at every length both cover from 2k up (a
    # mistyped cell breaks the order), and a longer call runs faster up to 16k
    tables = {k: {seq: (f, b) for seq, f, b in EFF.attention_for(find_accelerator(k).name, "cudnn-attention")}
              for k in ("h100-sxm", "h200-sxm", "b200", "gb200", "gb300")}
    for slower, faster in (("h100-sxm", "b200"), ("h200-sxm", "b200"), ("b200", "gb200"), ("gb200", "gb300")):
        shared = [q for q in tables[slower] if q in tables[faster] and 2048 <= q <= 16384]
        assert shared and all(tables[faster][q][0] > tables[slower][q][0] for q in shared), (slower, faster)
    b200 = [tables["b200"][q][0] for q in sorted(tables["b200"]) if q <= 16384]
    assert b200 == sorted(b200)


def test_the_kernel_rate_between_benchmarked_lengths_is_read_on_a_log_scale():
    from simulator.costs.compute import Rates

    r = Rates(1e15, 3e12, attention=((1024, 100.0, 50.0), (4096, 300.0, 150.0)))
    fwd, bwd = r.attention_rates(2048)
    assert (fwd, bwd) == pytest.approx((200.0, 100.0))  # halfway in log2
    assert r.attention_rates(512) == pytest.approx((100.0, 50.0))  # the ends beyond the range
    assert r.attention_rates(65536) == pytest.approx((300.0, 150.0))


def _core_times(stack_key, device="h100-sxm", eff=EFF):
    from test_parallelism import cluster_of

    from simulator.catalog.models import find_model
    from simulator.catalog.stacks import find_stack
    from simulator.core.specs import Layout
    from simulator.costs.compute import rates, transformer_layer_time

    model, cluster = find_model("llama2-70b"), cluster_of(device, 8)
    layout = Layout(global_batch=8, dp=8, tp=1, pp=1, precision=Precision.BF16)
    stack = find_stack(stack_key)
    base = transformer_layer_time(model, layout, rates(cluster.accelerator, Precision.BF16, eff), eff)
    lt = transformer_layer_time(model, layout, rates(cluster.accelerator, Precision.BF16, eff, stack), eff)
    return model, base, lt


@pytest.mark.parametrize("stack_key, kernel", [("nemo-2024", "cudnn-attention"), ("torchtitan-fsdp2", "flash-attention-2")])
def test_the_attention_core_runs_at_the_kernel_its_stack_runs(stack_key, kernel):
    """Closed form: the core's forward is the causal FLOPs (half of 4 s^2 d per head) at the
    kernel's forward rate, its backward 2.5x those FLOPs at the backward rate; the rest of the
    layer is the same as without a stack."""
    model, base, lt = _core_times(stack_key)
    points = {seq: (f, b) for seq, f, b in EFF.attention_for(find_accelerator("h100-sxm").name, kernel)}
    s = model.seq_len
    fwd, bwd = points[s]  # Llama 2's 4096 tokens: a benchmarked length
    flops = model.heads * s * s * (model.qk_dim + model.head_dim)  # micro-batch 1, tp 1: half of 2 s s (qk + dv)
    assert lt.attention_core_forward == pytest.approx(flops / fwd, rel=1e-9)
    assert lt.forward - lt.attention_core_forward == pytest.approx(base.forward - base.attention_core_forward, rel=1e-9)
    rest_backward = base.backward - 2.5 * base.attention_core_forward
    assert lt.backward == pytest.approx(rest_backward + 2.5 * flops / bwd, rel=1e-9)


def test_a_stack_without_a_kernel_or_a_device_without_a_benchmark_keeps_the_gemm_rate():
    _, base, lt = _core_times("megatron-lm-2021")
    assert lt == base
    _, base, lt = _core_times("nemo-2024", device="b200")
    assert lt == base


def test_a_slower_attention_kernel_makes_the_step_slower():
    """The kernel reaches the step time: halving cuDNN's rates on H100 slows a NeMo step."""
    from test_parallelism import cluster_of

    from simulator.catalog.models import find_model
    from simulator.catalog.stacks import find_stack
    from simulator.core.specs import Layout
    from simulator.engine.step import simulate_step

    # GPT-2 1.5B at 8k tokens a sequence (the benchmarks' length): attention is a large share
    model, cluster = dataclasses.replace(find_model("gpt2-1.5b"), seq_len=8192), cluster_of("h100-sxm", 8)
    layout = Layout(global_batch=8, dp=8, precision=Precision.BF16)
    slow = tuple((n, k, tuple((q, f / 2, b / 2) for q, f, b in pts)) if k == "cudnn-attention" else (n, k, pts)
                 for n, k, pts in EFF.attention_rates)
    stack = find_stack("nemo-2024")
    fast_t = simulate_step(model, cluster, layout, EFF, stack).step_time_s
    slow_t = simulate_step(model, cluster, layout, dataclasses.replace(EFF, attention_rates=slow), stack).step_time_s
    assert slow_t > 1.05 * fast_t


def test_a_bad_attention_row_names_the_file_key_and_value():
    from simulator.catalog.efficiency import parse_attention_benchmarks

    rows = [dict(r) for r in ROWS if r["key"] in ("h100-sxm.bf16.flash-attention-2.forward.8192",
                                                   "h100-sxm.bf16.flash-attention-2.backward.8192")]
    key = "kernel_benchmarks.csv: key='h100-sxm.bf16.flash-attention-2.forward.8192'"
    for change, message in ((("kernel", "flash-attention-2.sideways"), "an attention row is <kernel>.forward"),
                            (("kernel", "flash-attention-9.forward"), "not matmul or <kernel>.<direction>"),
                            (("seq_len", ""), "column 'seq_len': an attention row needs the sequence length")):
        bad = [dict(rows[0], **{change[0]: change[1]}), rows[1]]
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(bad)
        with pytest.raises(ValueError, match=re.escape(key)) as e:
            parse_attention_benchmarks(out.getvalue())
        assert message in str(e.value) and change[1] in str(e.value)
    out = io.StringIO()  # a kernel with one direction only
    w = csv.DictWriter(out, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerow(rows[0])
    with pytest.raises(ValueError, match="at sequence 8192: needs a forward and a backward row"):
        parse_attention_benchmarks(out.getvalue())


def test_a_stacks_attention_kernel_is_checked():
    from simulator.catalog.stacks import STACKS_TOML, parse_stacks, stack_evidence

    text = files("simulator.catalog").joinpath(STACKS_TOML).read_text("utf-8")
    bad = text.replace('"h100-sxm" = "flash-attention-2"', '"h100-sxm" = "flash-attention-7"', 1)
    with pytest.raises(ValueError, match=r"\[torchtitan-fsdp2\]: attention_kernel.h100-sxm = 'flash-attention-7'"):
        parse_stacks(bad, stack_evidence())
    bad = text.replace('"h100-sxm" = "flash-attention-2"', '"h100" = "flash-attention-2"', 1)
    with pytest.raises(ValueError, match=r"attention_kernel: 'h100': not an accelerator key"):
        parse_stacks(bad, stack_evidence())
    bad = text.replace(', "torchtitan-fsdp2:attention_kernel"', "", 1)
    with pytest.raises(ValueError, match="needs the evidence row torchtitan-fsdp2:attention_kernel"):
        parse_stacks(bad, stack_evidence())


def test_validate_says_which_kernel_timed_each_rows_attention():
    """A row run by Transformer Engine on H100 names cuDNN, torchtitan's names FlashAttention-2, a
    row without a stack names none (its core runs at the GEMM rate)."""
    from pathlib import Path

    from simulator.measure.validation import read_rows, validate

    path = Path(files("simulator.catalog").joinpath("published_runs.csv"))
    rows = {r.row_id: r for r in validate(read_rows(path), EFF) if not r.skipped}
    assert rows["NEMOTRON4-340B-T2-1536"].to_dict()["attention_kernel"] == "cudnn-attention"
    assert rows["TT2412-T4-LLAMA31-70B-256-2D"].attention_kernel == "flash-attention-2"
    assert rows["MEGASCALE-T2-175B-MEGASCALE-256"].stack is None
    assert rows["MEGASCALE-T2-175B-MEGASCALE-256"].attention_kernel == ""


# ------------------------------------------------------------------ matmul rates by shape
SHAPE_ROWS = list(csv.DictReader(io.StringIO(files("simulator.catalog").joinpath("gemm_shapes.csv").read_text("utf-8"))))


def test_the_gemm_time_charges_operands_and_output_at_their_own_widths():
    """Closed form: 2 m n k / flops + (in (m k + k n) + out m n) / bytes."""
    from simulator.costs.compute import Rates

    r = Rates(1e15, 2e12)
    m, n, k = 4096, 7168, 512
    expected = 2 * m * n * k / 1e15 + (1 * (m * k + k * n) + 2 * m * n) / 2e12
    assert r.gemm(m, n, k, 1, out_bytes=2) == pytest.approx(expected, rel=1e-12)
    assert r.gemm(m, n, k, 2) == pytest.approx(2 * m * n * k / 1e15 + 2 * (m * k + k * n + m * n) / 2e12, rel=1e-12)
    assert r.gemm(m, n, k, 2, count=3) == pytest.approx(3 * r.gemm(m, n, k, 2), rel=1e-12)


def test_each_shape_row_names_its_source_and_its_own_text_checks_its_cells():
    """Every row quotes its source's row. DeepGEMM's quote and its 'Memory bandwidth' column
    (the source's byte count over its time) agree with m, n, k, the bytes and the rate within
    1%; XLA's quote gives the shape and the FLOP/s the rate is; so no cell is mistyped."""
    from simulator.catalog.efficiency import gemm_shapes, shape_bytes, shape_seconds

    shapes = {s.key: s for s in gemm_shapes()}
    assert len(shapes) == len(SHAPE_ROWS) == 18 + 2 * 125
    for row in SHAPE_ROWS:
        assert row["source"] and row["verification"] and row["source_row"], row["key"]
        shape = shapes[row["key"]]
        if row["library"] == "deepgemm":
            assert shape_bytes(shape) / shape_seconds(shape) / 1e9 == pytest.approx(float(row["stated_gb_s"]), rel=0.01)
            assert row["source_row"].startswith(f"'| {row['m']} | {row['n']} | {row['k']} | {row['achieved_tflops']} TFLOPS")
        else:
            quoted = re.search(r"b: 1 m: (\d+) n: (\d+) k: (\d+) flops \{ key: \"bf16xbf16->bf16\" value: (\d+) \}",
                               row["source_row"])
            assert quoted and tuple(map(int, quoted.groups()[:3])) == (shape.m, shape.n, shape.k), row["key"]
            assert int(quoted.group(4)) / 1e12 == pytest.approx(shape.tflops, rel=1e-5)


@pytest.mark.parametrize("change, message", [
    (("achieved_tflops", "1500"), "column 'stated_gb_s': '527' is not the row's bytes over its time"),
    (("achieved_tflops", "2500"), "column 'achieved_tflops': above NVIDIA H800 SXM5's fp8 peak"),
    (("m", "4096.5"), "column 'm': not an integer: '4096.5'"),
    (("device", "h800"), "column 'device': not an accelerator key: 'h800'"),
    (("output_bytes", "0"), "column 'output_bytes': must be positive"),
])
def test_a_bad_shape_row_names_the_file_key_column_and_value(change, message):
    from simulator.catalog.efficiency import parse_gemm_shapes

    row = dict(next(r for r in SHAPE_ROWS if r["key"] == "h800-sxm.fp8.deepgemm.4096x2112x7168"))
    row[change[0]] = change[1]
    with pytest.raises(ValueError, match="gemm_shapes.csv: key='h800-sxm.fp8.deepgemm.4096x2112x7168'") as e:
        parse_gemm_shapes(_one_row_csv(row))
    assert message in str(e.value)


@pytest.mark.parametrize("e, t0", [(0.6, 0.0), (0.83, 3e-6)])
def test_the_shape_fit_recovers_the_constants_that_made_its_rows(e, t0):
    """Rows made by the roofline itself (DeepGEMM's shapes, at e and t0 per call) give back e
    and t0 and no error; one constant rate cannot follow them (their rates differ several-fold)."""
    from simulator.catalog.efficiency import gemm_shapes
    from simulator.costs.compute import Rates
    from simulator.measure.kernels import shape_fits

    acc = find_accelerator("h800-sxm")
    rate = Rates(acc.peak(Precision.FP8) * e, acc.memory_bandwidth_bytes_per_s * EFF.memory)
    made = tuple(dataclasses.replace(s, tflops=2 * s.m * s.n * s.k / (t0 + rate.gemm(s.m, s.n, s.k, s.input_bytes,
                                                                                out_bytes=s.output_bytes)) / 1e12)
                 for s in gemm_shapes() if s.library == "deepgemm")
    (fit,) = shape_fits(EFF, made)
    assert fit.efficiency == pytest.approx(e, abs=1e-3)
    assert fit.fixed_s == pytest.approx(t0, abs=0.02e-6)
    assert max(map(abs, fit.errors)) < 0.01
    assert fit.summary()["constant_median_abs_error"] > 0.3


def test_the_roofline_follows_the_published_shapes_far_better_than_one_rate():
    """Each published sweep (DeepGEMM's FP8 on H800: 206 to 1,358 TFLOP/s over 18 shapes; XLA's
    BF16 on H100 and B200: 7 to 1,417 over 125): the roofline with its two fitted constants
    follows it, its median |error| under a fifth of one constant rate's. The fixed time per
    call is microseconds (it decides XLA's smallest multiplies, 256^3 in about 5 us)."""
    from simulator.measure.kernels import shape_fits

    fits = {f.library + "/" + f.precision + "/" + f.device: f for f in shape_fits(EFF)}
    assert len(fits) == 3
    for f in fits.values():
        s = f.summary()
        assert s["median_abs_error"] < s["constant_median_abs_error"] / 5
        assert 0 < f.efficiency <= 1 and 0 <= f.fixed_s < 10e-6
    xla = [f for f in fits.values() if f.library == "xla"]
    assert all(1e-6 < f.fixed_s for f in xla)


def test_validate_kernels_prints_the_fit_and_refuses_a_measurement_file(capsys, tmp_path):
    from cli_helpers import one_line, run

    code, out, _ = run(capsys, "validate", "--kernels", "-q")
    assert code == 0
    assert "deepgemm fp8 on NVIDIA H800 SXM5: 18 shapes, fitted" in out.splitlines()[0]
    assert len(out.strip().splitlines()) == 3
    code, out, _ = run(capsys, "validate", "--kernels", "--json")
    import json

    fits = json.loads(out)["gemm_shapes"]
    assert sorted(len(f["rows"]) for f in fits) == [18, 125, 125]
    assert all(f["median_abs_error"] < f["constant_median_abs_error"] for f in fits)
    code, _, err = run(capsys, "validate", "--kernels", "--measurements", str(tmp_path / "x.csv"))
    assert code == 2 and "--kernels" in one_line(err)
