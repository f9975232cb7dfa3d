"""Loader of the efficiency parameters (catalog/efficiency.toml) and of the published kernel
benchmarks (catalog/kernel_benchmarks.csv): matmuls, which carry the fitted GEMM efficiency
to other devices, and fused attention kernels, which time the attention core of the stacks
that run them; and of published matmul throughput by shape (catalog/gemm_shapes.csv), which
checks the step model's shape dependence (simulator/measure/kernels.py)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from simulator.catalog.hardware import _num, _rows, accelerators, find_accelerator
from simulator.core.specs import Efficiency, Precision
from simulator.core.units import TERA, US

FIELDS = ("gemm", "memory", "elementwise_passes", "intra_link", "inter_link")
KERNELS_CSV = "kernel_benchmarks.csv"
SHAPES_CSV = "gemm_shapes.csv"
#: The fused attention kernels the catalog has benchmarks of (kernel_benchmarks.csv rows
#: `<kernel>.forward`, `<kernel>.backward`, or `<kernel>.forward+backward` for one rate of both).
ATTENTION_KERNELS = ("flash-attention-2", "cudnn-attention")
_DIRECTIONS = ("forward", "backward", "forward+backward")


def parse_kernel_benchmarks(text: str, filename: str = KERNELS_CSV) -> tuple[tuple[str, str, float], ...]:
    """((accelerator name, precision value, achieved / the catalog's peak), ...) from CSV
    text in the format of kernel_benchmarks.csv (`matmul` rows; a device is named by its
    catalog key; `peak_tflops` is the benchmark's own stated peak, kept for the record).
    ValueError naming the file, the key, the column and the value on a bad cell."""
    return _parse_benchmarks(text, filename)[0]


def parse_attention_benchmarks(text: str, filename: str = KERNELS_CSV):
    """((accelerator name, kernel, ((sequence length, forward FLOP/s, backward FLOP/s), ...)),
    ...) from the attention rows of kernel_benchmarks.csv text: at each length a kernel needs
    both directions, or one `forward+backward` rate used for both. Every row is checked as
    `parse_kernel_benchmarks` checks it."""
    return _parse_benchmarks(text, filename)[1]


def _device_and_precision(r: dict, filename: str, table: dict, precisions: set[str]) -> str:
    """The row's place for messages ("file: key='...'"), once its device is a catalog key and its
    precision a known one; ValueError naming the column and the value otherwise."""
    where = f"{filename}: key={r['key']!r}"
    if r.get("device") not in table:
        raise ValueError(f"{where}: column 'device': not an accelerator key: {r.get('device')!r}")
    if r.get("precision") not in precisions:
        raise ValueError(f"{where}: column 'precision': not one of {', '.join(sorted(precisions))}: "
                         f"{r.get('precision')!r}")
    return where


def _parse_benchmarks(text: str, filename: str):
    """(matmul ceilings, attention rates) of kernel_benchmarks.csv text, read and checked once."""
    table = accelerators()
    precisions = {p.value for p in Precision}
    ceilings, found = [], {}
    for r in _rows(text, filename):
        where = _device_and_precision(r, filename, table, precisions)
        achieved, peak = _num(r, "achieved_tflops", filename), _num(r, "peak_tflops", filename)
        if not (achieved and peak and 0 < achieved <= peak):
            raise ValueError(f"{where}: achieved_tflops {achieved!r} and peak_tflops {peak!r} must be "
                             "positive with achieved <= peak")
        acc, (kernel, _, direction) = table[r["device"]], r.get("kernel", "").partition(".")
        if r.get("kernel") == "matmul":  # the fraction of the peak the step model uses (the catalog's)
            catalog_peak = acc.peak(Precision(r["precision"]))
            if not catalog_peak:
                raise ValueError(f"{where}: column 'precision': {acc.name} has no peak at {r['precision']}")
            ceilings.append((acc.name, r["precision"], min(1.0, achieved * TERA / catalog_peak)))
        elif kernel not in ATTENTION_KERNELS:
            raise ValueError(f"{where}: column 'kernel': not matmul or <kernel>.<direction> of "
                             f"{', '.join(ATTENTION_KERNELS)}: {r.get('kernel')!r}")
        elif direction not in _DIRECTIONS:
            raise ValueError(f"{where}: column 'kernel': an attention row is <kernel>."
                             f"{'|'.join(_DIRECTIONS)}: {r['kernel']!r}")
        else:
            seq = _num(r, "seq_len", filename)
            if not (seq and seq >= 1):
                raise ValueError(f"{where}: column 'seq_len': an attention row needs the sequence length it "
                                 f"was measured at: {r.get('seq_len')!r}")
            found.setdefault((acc.name, kernel), {}).setdefault(seq, {})[direction] = achieved * TERA
    attention = []
    for (name, kernel), by_seq in sorted(found.items()):
        points = []
        for seq, rate in sorted(by_seq.items()):
            both = rate.get("forward+backward")
            fwd, bwd = rate.get("forward", both), rate.get("backward", both)
            if fwd is None or bwd is None:
                raise ValueError(f"{filename}: {kernel} on {name} at sequence {seq:g}: needs a forward and a "
                                 "backward row (or one forward+backward row)")
            points.append((seq, fwd, bwd))
        attention.append((name, kernel, tuple(points)))
    return tuple(ceilings), tuple(attention)


@cache
def default_efficiency() -> Efficiency:
    """The packaged, sourced efficiency parameters.

    >>> eff = default_efficiency()
    >>> 0 < eff.gemm < 1, eff.attention_for("NVIDIA H100 SXM5 80GB", "cudnn-attention")[0]
    (True, (512.0, 315000000000000.0, 305000000000000.0))
    """
    data = tomllib.loads(files("simulator.catalog").joinpath("efficiency.toml").read_text("utf-8"))
    values = data["efficiency"]
    sources = data["source"]
    src = "; ".join(f"{k}: {sources[k]}" for k in FIELDS)
    hop = float(data["latency"]["hop_latency_us"]) * US
    usage = float(data["overlap"]["comm_processor_usage"])
    for k in ("hop_latency_us", "comm_processor_usage"):
        src += f"; {k}: {sources[k]}"
    by_device = []
    for key, value in sorted(data.get("gemm_by_device", {}).items()):
        device, _, precision = key.rpartition(".")
        by_device.append((find_accelerator(device).name, precision, float(value)))
        src += f"; gemm {key}: {sources['gemm_by_device']}"
    device, _, precision = data["transfer"]["gemm_reference"].rpartition(".")
    src += f"; carried to other devices by {sources['gemm_reference']}"
    ceilings, attention = _parse_benchmarks(files("simulator.catalog").joinpath(KERNELS_CSV).read_text("utf-8"),
                                            KERNELS_CSV)
    return Efficiency(
        **{k: float(values[k]) for k in FIELDS}, hop_latency_s=hop, comm_processor_usage=usage, source=src,
        gemm_by_device=tuple(by_device), matmul_ceiling=ceilings, attention_rates=attention,
        gemm_reference=(find_accelerator(device).name, precision),
    )


@dataclass(frozen=True)
class GemmShape:
    """One published matmul measurement: C[m, n] = A[m, k] B[k, n] at `tflops`, its operands
    `input_bytes` an element and its output `output_bytes`, on a catalog device."""

    key: str
    device: str  # the accelerator's name
    precision: Precision
    library: str
    m: int
    n: int
    k: int
    input_bytes: float
    output_bytes: float
    tflops: float


def parse_gemm_shapes(text: str, filename: str = SHAPES_CSV) -> tuple[GemmShape, ...]:
    """The rows of CSV text in the format of gemm_shapes.csv. ValueError naming the file, the
    key, the column and the value on a bad cell, or where the row's own stated bandwidth
    (`stated_gb_s`, where given) disagrees with its shape, bytes and rate by more than 1%
    (a mistyped cell)."""
    table, precisions, out = accelerators(), {p.value for p in Precision}, []
    for r in _rows(text, filename):
        where = _device_and_precision(r, filename, table, precisions)
        if not r.get("library"):
            raise ValueError(f"{where}: column 'library': empty")
        dims = [_num(r, c, filename, int) for c in ("m", "n", "k")]
        sizes = [_num(r, c, filename) for c in ("input_bytes", "output_bytes", "achieved_tflops")]
        for col, v in zip(("m", "n", "k", "input_bytes", "output_bytes", "achieved_tflops"), dims + sizes):
            if not (v and v > 0):
                raise ValueError(f"{where}: column {col!r}: must be positive: {r.get(col)!r}")
        acc, prec = table[r["device"]], Precision(r["precision"])
        peak = acc.peak(prec)
        if not peak or sizes[2] * TERA > peak:
            raise ValueError(f"{where}: column 'achieved_tflops': above {acc.name}'s {prec.value} peak "
                             f"({(peak or 0) / TERA:g}): {r['achieved_tflops']!r}")
        row = GemmShape(r["key"], acc.name, prec, r["library"], *dims, *sizes)
        stated, derived = _num(r, "stated_gb_s", filename), shape_bytes(row) / shape_seconds(row) / 1e9
        if stated is not None and abs(derived / stated - 1) > 0.01:
            raise ValueError(f"{where}: column 'stated_gb_s': {r['stated_gb_s']!r} is not the row's bytes over "
                             f"its time ({derived:.0f})")
        out.append(row)
    return tuple(out)


def shape_bytes(row: GemmShape) -> float:
    """Bytes one multiply of `row` reads and writes: both operands and the output, once."""
    return row.input_bytes * (row.m * row.k + row.k * row.n) + row.output_bytes * row.m * row.n


def shape_seconds(row: GemmShape) -> float:
    """Seconds of one multiply of `row` at its published rate."""
    return 2 * row.m * row.n * row.k / (row.tflops * TERA)


@cache
def gemm_shapes() -> tuple[GemmShape, ...]:
    """The packaged published matmul rates by shape (catalog/gemm_shapes.csv).

    >>> rows = gemm_shapes()
    >>> rows[0].library, rows[0].device, (rows[0].m, rows[0].n, rows[0].k), rows[0].tflops
    ('deepgemm', 'NVIDIA H800 SXM5', (64, 2112, 7168), 206.0)
    """
    return parse_gemm_shapes(files("simulator.catalog").joinpath(SHAPES_CSV).read_text("utf-8"), SHAPES_CSV)
