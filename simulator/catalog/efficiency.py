"""Loader of the efficiency parameters (catalog/efficiency.toml) and of the published
matmul benchmarks that carry the fitted GEMM efficiency to other devices
(catalog/kernel_benchmarks.csv)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files

from simulator.catalog.hardware import _num, _rows, accelerators, find_accelerator
from simulator.core.specs import Efficiency, Precision
from simulator.core.units import TERA, US

FIELDS = ("gemm", "memory", "elementwise_passes", "intra_link", "inter_link")
KERNELS_CSV = "kernel_benchmarks.csv"


def parse_kernel_benchmarks(text: str, filename: str = KERNELS_CSV) -> tuple[tuple[str, str, float], ...]:
    """((accelerator name, precision value, achieved / the catalog's peak), ...) from CSV
    text in the format of kernel_benchmarks.csv (`matmul` rows; a device is named by its
    catalog key; `peak_tflops` is the benchmark's own stated peak, kept for the record).
    ValueError naming the file, the key, the column and the value on a bad cell."""
    table = accelerators()
    precisions = {p.value for p in Precision}
    out = []
    for r in _rows(text, filename):
        where = f"{filename}: key={r['key']!r}"
        if r.get("device") not in table:
            raise ValueError(f"{where}: column 'device': not an accelerator key: {r.get('device')!r}")
        if r.get("precision") not in precisions:
            raise ValueError(f"{where}: column 'precision': not one of {', '.join(sorted(precisions))}: "
                             f"{r.get('precision')!r}")
        achieved, peak = _num(r, "achieved_tflops", filename), _num(r, "peak_tflops", filename)
        if not (achieved and peak and 0 < achieved <= peak):
            raise ValueError(f"{where}: achieved_tflops {achieved!r} and peak_tflops {peak!r} must be "
                             "positive with achieved <= peak")
        if r.get("kernel") == "matmul":  # the fraction of the peak the step model uses (the catalog's)
            acc = table[r["device"]]
            catalog_peak = acc.peak(Precision(r["precision"]))
            if not catalog_peak:
                raise ValueError(f"{where}: column 'precision': {acc.name} has no peak at {r['precision']}")
            out.append((acc.name, r["precision"], min(1.0, achieved * TERA / catalog_peak)))
    return tuple(out)


@cache
def default_efficiency() -> Efficiency:
    """The packaged, sourced efficiency parameters."""
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
    ceilings = parse_kernel_benchmarks(files("simulator.catalog").joinpath(KERNELS_CSV).read_text("utf-8"))
    return Efficiency(
        **{k: float(values[k]) for k in FIELDS}, hop_latency_s=hop, comm_processor_usage=usage, source=src,
        gemm_by_device=tuple(by_device), matmul_ceiling=ceilings,
        gemm_reference=(find_accelerator(device).name, precision),
    )
