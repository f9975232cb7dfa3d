"""The step model's matmul time against published matmul rates by shape.

The step model times every matrix multiply by an additive roofline (costs/compute.py,
`Rates.gemm`): its FLOPs at a fraction e of the device's peak plus its operand and output
bytes at the fitted fraction of memory bandwidth. The fraction e of a whole run is fitted on
measured runs (catalog/calibration.csv); it cannot say whether the *shape* dependence is
right, because a run mixes many shapes. A published sweep of one kernel over shapes can: fit
the kernel's own constants on its rows, one set per device, precision and library, and
compare each row's predicted rate with the published one. The constants are e and a fixed
time t0 per call (the ramp, prologue and tail every kernel pays, which decides multiplies of
a few microseconds); the memory fraction is held at the step model's. The same rows against
one constant rate (the geometric mean of the table, no shape at all) say how much of the
spread the model explains.

The step model itself has no t0: at the shapes of training runs a call takes tens of
microseconds to milliseconds (docs/step-model.md gives what t0 would change).

Rows: catalog/gemm_shapes.csv (DeepGEMM's FP8 table on H800; OpenXLA's BF16 tables on H100
and B200). Used by `simulator validate --kernels` and docs/step-model.md; the step model's
fitted values are not changed by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.catalog.efficiency import GemmShape, gemm_shapes
from simulator.catalog.hardware import find_accelerator
from simulator.core.specs import Efficiency
from simulator.core.units import TERA
from simulator.costs.compute import Rates

#: The fit's coarse grid: compute fractions of the peak and fixed times per call (seconds);
#: a finer grid around the coarse best follows (steps of 0.0005 and 0.01 us).
_E, _T0 = np.arange(0.05, 1.0 + 1e-9, 0.005), np.arange(0.0, 20e-6 + 1e-12, 0.25e-6)


@dataclass(frozen=True)
class ShapeFit:
    """One kernel's published rows against the additive roofline with its fitted fraction."""

    device: str
    precision: str
    library: str
    efficiency: float  # fitted fraction of the dense peak (the compute term's e)
    fixed_s: float  # fitted fixed time of one call, seconds
    rows: tuple[GemmShape, ...]
    predicted_tflops: tuple[float, ...]  # the roofline's rate of each row
    constant_tflops: float  # the best single rate (no shape): geometric mean of the rows

    @property
    def errors(self) -> list[float]:
        """Predicted over published rate, minus 1, per row (positive: the model is too fast)."""
        return [p / r.tflops - 1 for p, r in zip(self.predicted_tflops, self.rows, strict=True)]

    @property
    def constant_errors(self) -> list[float]:
        """The same for one constant rate."""
        return [self.constant_tflops / r.tflops - 1 for r in self.rows]

    def summary(self) -> dict:
        """Median and max |error| of the roofline and of the constant rate, and the fit."""
        e, c = np.abs(self.errors), np.abs(self.constant_errors)
        return {"device": self.device, "precision": self.precision, "library": self.library, "rows": len(self.rows),
                "efficiency": self.efficiency, "fixed_us": self.fixed_s * 1e6, "median_abs_error": float(np.median(e)),
                "max_abs_error": float(e.max()), "constant_tflops": self.constant_tflops, "constant_median_abs_error": float(np.median(c)),
                "constant_max_abs_error": float(c.max())}


def shape_fits(eff: Efficiency, rows: tuple[GemmShape, ...] | None = None) -> list[ShapeFit]:
    """The roofline fitted to each (device, precision, library) group of `rows` (default: the
    catalog's): e and t0 minimising the squared log error of the times, the memory term at
    `eff.memory`.

    >>> from simulator.catalog.efficiency import default_efficiency
    >>> fit = shape_fits(default_efficiency())[0]
    >>> fit.library, 0.5 < fit.efficiency < 1, fit.summary()["median_abs_error"] < fit.summary()["constant_median_abs_error"]
    ('deepgemm', True, True)
    """
    rows = gemm_shapes() if rows is None else rows
    groups: dict[tuple, list[GemmShape]] = {}
    for r in rows:
        groups.setdefault((r.device, r.precision, r.library), []).append(r)
    return [_fit(eff, *key, tuple(group)) for key, group in groups.items()]


def _fit(eff: Efficiency, device: str, precision, library: str, rows: tuple[GemmShape, ...]) -> ShapeFit:
    acc = find_accelerator(device)
    peak, bw = acc.peak(precision), (acc.memory_bandwidth_bytes_per_s or 0.0) * eff.memory
    m, n, k = (np.array([getattr(r, a) for r in rows], dtype=float) for a in "mnk")
    flops = 2 * m * n * k
    measured = flops / (np.array([r.tflops for r in rows]) * TERA)
    # time = t0 + flops / (peak e) + memory time: the memory time depends on neither
    memory = np.array([Rates(math.inf, bw).gemm(r.m, r.n, r.k, r.input_bytes, out_bytes=r.output_bytes)
                       for r in rows])
    log_measured = np.log(measured)

    def best(es, t0s):
        times = t0s[None, :, None] + flops / (peak * es[:, None, None]) + memory
        loss = ((np.log(times) - log_measured) ** 2).sum(axis=2)
        i, j = np.unravel_index(np.argmin(loss), loss.shape)
        return float(es[i]), float(t0s[j])

    e, t0 = best(_E, _T0)  # coarse, then fine around it (the loss is smooth in both)
    e, t0 = best(np.clip(e + np.arange(-0.005, 0.0051, 0.0005), 0.01, 1.0),
                 np.clip(t0 + np.arange(-0.25e-6, 0.2501e-6, 0.01e-6), 0.0, None))
    predicted = tuple(float(x) for x in flops / (t0 + flops / (peak * e) + memory) / TERA)
    constant = float(np.exp(np.mean(np.log([r.tflops for r in rows]))))
    return ShapeFit(device, precision.value, library, e, t0, rows, predicted, constant)
