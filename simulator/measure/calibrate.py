"""Fit the compute-side efficiency parameters on a calibration set, and only there; and the
leave-one-source-out check of that fit.

Stage 1 fits (gemm, memory, elementwise_passes) by Nelder-Mead on the A100 rows,
minimising the mean absolute relative error of `simulator validate`; the link efficiencies
stay at their sourced values. Stage 2 fits one GEMM efficiency per (device, precision) with
at least MIN_ROWS predicted rows of its own, holding the stage-1 values; any other device
keeps the packaged rule (the base carried over by its kernel benchmark, else the base).
Leave-one-source-out refits both stages without each source and predicts its rows.

Used by `simulator validate --loo`, scripts/fit_efficiency.py (which prints the values to
copy into catalog/efficiency.toml) and scripts/docs.py (the README's per-device table).
Needs scipy (the `dev` extra), imported when a fit runs; minutes on two cores.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from simulator.catalog.efficiency import default_efficiency
from simulator.core.pool import process_pool
from simulator.core.specs import Precision
from simulator.engine.step import simulate_step
from simulator.measure.validation import complete, predicted, read_rows

#: Rows a (device, precision) needs for a GEMM efficiency of its own.
MIN_ROWS = 3
_SPECS: list = []


def _init(specs):
    global _SPECS
    _SPECS = specs


def _eff(params, by_device=()):
    return dataclasses.replace(default_efficiency(), gemm=params[0], memory=params[1], elementwise_passes=params[2],
                               gemm_by_device=tuple(by_device))


def _one(args):
    i, params, by_device = args
    row, spec = _SPECS[i]
    r = simulate_step(*spec, _eff(params, by_device), row.stack)
    if not r.feasible:
        return 1.0
    return (predicted(row.metric, r) - row.measured) / row.measured


def source_of(row) -> str:
    """The source a row comes from (its id before the table or model part)."""
    head = row.row_id.split("-")[0]
    return {"N21": "Narayanan et al. 2021", "K22": "Korthikanti et al. 2022"}.get(head, head)


class _Fitter:
    def __init__(self, pool):
        self.pool = pool

    def errors(self, params, idx, by_device=()) -> np.ndarray:
        """Relative errors of the rows `idx` with efficiency `params` (and per-device GEMM overrides), in parallel."""
        return np.array(list(self.pool.map(_one, [(i, tuple(params), tuple(by_device)) for i in idx])))

    def base(self, idx, x0=(0.75, 0.99, 1.7)):
        """The A100 base parameters fitted on the rows `idx` (Nelder-Mead on the mean absolute error)."""
        from scipy.optimize import minimize

        def objective(p):
            """Mean absolute relative error of the rows at these parameters (the fit's objective)."""
            if min(p) <= 0 or p[0] > 1 or p[1] > 1:
                return 10.0
            return float(np.mean(np.abs(self.errors(p, idx))))
        return minimize(objective, x0, method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-4}).x

    def device(self, base, idx, name, precision) -> float:
        """The GEMM efficiency of one (device, precision) on rows `idx`."""
        from scipy.optimize import minimize_scalar

        def objective(g):
            """Mean absolute relative error of the rows at these parameters (the fit's objective)."""
            return float(np.mean(np.abs(self.errors(base, idx, ((name, precision, g),)))))
        return minimize_scalar(objective, bounds=(0.2, 1.0), method="bounded", options={"xatol": 1e-3}).x


def fit(measurements, loo: bool = False, say: Callable[[str], None] = print, workers: int = 2) -> dict:
    """Stage 1 and stage 2 fits on the rows of `measurements`, the in-sample errors per
    (device, precision) and, with `loo`, the leave-one-source-out errors. Returns {"base",
    "by_device", "groups": [{device, precision, rows, in_mean, in_max, loo_mean, loo_max,
    gemm, own}], "sources": {source: (rows, held-out mean)}, "all"}. ImportError without scipy."""
    import scipy.optimize  # noqa: F401  (fail before any work)

    eff0 = default_efficiency()
    specs = []
    for raw in read_rows(measurements):
        row, spec = complete(raw, eff0)
        if spec is not None and simulate_step(*spec, eff0, row.stack).feasible:
            specs.append((row, spec))
    _init(specs)
    with process_pool(workers, initializer=_init, initargs=(specs,)) as pool:
        f = _Fitter(pool)
        groups = defaultdict(list)  # (device name, precision) -> row indices
        for i, (row, (_, cluster, layout)) in enumerate(specs):
            groups[(cluster.accelerator.name, layout.precision.value)].append(i)
        a100 = [i for i, (_, (_, c, _)) in enumerate(specs) if "A100" in c.accelerator.name]
        say(f"fitting on {len(specs)} rows ({len(a100)} on A100)")
        base = f.base(a100)
        own = {k: v for k, v in groups.items() if len(v) >= MIN_ROWS and "A100" not in k[0]}
        by_device = [(name, prec, f.device(base, idx, name, prec)) for (name, prec), idx in sorted(own.items())]
        everything = list(range(len(specs)))
        e = np.abs(f.errors(base, everything, by_device))
        fitted = _eff(base, by_device)
        out = {"base": tuple(float(x) for x in base), "by_device": [(n, p, float(g)) for n, p, g in by_device],
               "groups": [], "sources": {},
               "all": {"rows": len(e), "in_mean": float(e.mean()), "in_max": float(e.max())}}
        for (name, prec), idx in sorted(groups.items()):
            out["groups"].append({"device": name, "precision": prec, "rows": len(idx),
                                  "in_mean": float(e[idx].mean()), "in_max": float(e[idx].max()),
                                  "own": (name, prec) in own, "gemm": fitted.gemm_for(name, Precision(prec))})
        if not loo:
            return out
        by_source = defaultdict(list)
        for i, (row, _) in enumerate(specs):
            by_source[source_of(row)].append(i)
        held = np.zeros(len(specs))
        for source, rows in sorted(by_source.items()):
            say(f"refitting without {source} ({len(rows)} rows)")
            train = [i for i in everything if i not in rows]
            a100_train = [i for i in a100 if i in train]
            b = f.base(a100_train, x0=tuple(base)) if len(a100_train) < len(a100) else base
            dev = [(name, prec, f.device(b, keep, name, prec)) for (name, prec), idx in sorted(groups.items())
                   if len(keep := [i for i in idx if i in train]) >= MIN_ROWS and "A100" not in name]
            held[rows] = np.abs(f.errors(b, rows, dev))
            out["sources"][source] = (len(rows), float(held[rows].mean()))
        out["all"].update(loo_mean=float(held.mean()), loo_max=float(held.max()))
        for g, ((_, _), idx) in zip(out["groups"], sorted(groups.items()), strict=True):
            g.update(loo_mean=float(held[idx].mean()), loo_max=float(held[idx].max()))
        return out
