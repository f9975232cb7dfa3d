"""Loader of the efficiency parameters (catalog/efficiency.toml)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files

from simulator.catalog.hardware import find_accelerator
from simulator.specs import Efficiency
from simulator.units import US

FIELDS = ("gemm", "memory", "elementwise_passes", "intra_link", "inter_link")


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
    return Efficiency(
        **{k: float(values[k]) for k in FIELDS}, hop_latency_s=hop, comm_processor_usage=usage, source=src,
        gemm_by_device=tuple(by_device),
    )
