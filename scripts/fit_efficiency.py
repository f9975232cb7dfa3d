"""Fit the compute-side efficiency parameters on the calibration set, and only there.

    python scripts/fit_efficiency.py [--measurements CSV] [--loo]

Stage 1 fits (gemm, memory, elementwise_passes) by Nelder-Mead on the A100 rows of
catalog/calibration.csv (Narayanan et al. 2021, Korthikanti et al. 2022), minimising the
mean absolute relative error of `simulator validate`; the link efficiencies stay at their
sourced values. Stage 2 fits one GEMM efficiency per (device, precision) that has at least
MIN_ROWS predicted rows of its own (NeMo's performance tables on H100, B200, GB200 ...),
holding the stage-1 values. Prints the values to copy into
simulator/catalog/efficiency.toml, and with --loo a leave-one-source-out check per device:
refit without each source, predict its rows. Needs scipy (the `dev` extra).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections import defaultdict
from multiprocessing import Pool

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from simulator.catalog import calibration_csv_path
from simulator.catalog.efficiency import default_efficiency
from simulator.engine.step import simulate_step
from simulator.specs import Precision
from simulator.validation import complete, predicted, read_rows

#: Rows a (device, precision) needs for a GEMM efficiency of its own.
MIN_ROWS = 3
SPECS: list = []


def _init(specs):
    global SPECS
    SPECS = specs


def _eff(params, by_device=()):
    return dataclasses.replace(default_efficiency(), gemm=params[0], memory=params[1], elementwise_passes=params[2],
                               gemm_by_device=tuple(by_device))


def _one(args):
    i, params, by_device = args
    row, spec = SPECS[i]
    r = simulate_step(*spec, _eff(params, by_device), row.stack)
    if not r.feasible:
        return 1.0
    return (predicted(row.metric, r) - row.measured) / row.measured


POOL = None


def errors(params, idx, by_device=()):
    return np.array(POOL.map(_one, [(i, tuple(params), tuple(by_device)) for i in idx]))


def fit_base(idx, x0=(0.75, 0.99, 1.7)):
    def objective(p):
        if min(p) <= 0 or p[0] > 1 or p[1] > 1:
            return 10.0
        return float(np.mean(np.abs(errors(p, idx))))
    return minimize(objective, x0, method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-4}).x


def fit_device(base, idx, name, precision):
    """The GEMM efficiency of one (device, precision) on rows `idx`."""
    def objective(g):
        return float(np.mean(np.abs(errors(base, idx, ((name, precision, g),)))))
    return minimize_scalar(objective, bounds=(0.2, 1.0), method="bounded", options={"xatol": 1e-3}).x


def source_of(row) -> str:
    """The source a row comes from (its id before the table or model part)."""
    head = row.row_id.split("-")[0]
    return {"N21": "Narayanan et al. 2021", "K22": "Korthikanti et al. 2022"}.get(head, head)


def fit(measurements: str, loo: bool = False, say=print) -> dict:
    """Stage 1 and stage 2 fits, the in-sample errors per (device, precision) and, with
    `loo`, the leave-one-source-out errors (refit without each source, predict its rows).
    Returns {"base", "by_device", "groups": [{device, precision, rows, in_mean, in_max,
    loo_mean, loo_max, gemm, own}], "sources": {source: (rows, held-out mean)}, "all"}."""
    eff0 = default_efficiency()
    specs = []
    for raw in read_rows(measurements):
        row, spec = complete(raw, eff0)
        if spec is not None and simulate_step(*spec, eff0, row.stack).feasible:
            specs.append((row, spec))
    _init(specs)
    global POOL
    POOL = Pool(2, initializer=_init, initargs=(specs,))
    try:
        groups = defaultdict(list)  # (device name, precision) -> row indices
        for i, (row, (_, cluster, layout)) in enumerate(specs):
            groups[(cluster.accelerator.name, layout.precision.value)].append(i)
        a100 = [i for i, (_, (_, c, _)) in enumerate(specs) if "A100" in c.accelerator.name]
        base = fit_base(a100)
        say(f"rows: {len(specs)} ({len(a100)} on A100)")
        say(f"[efficiency]\ngemm = {base[0]:.4f}\nmemory = {base[1]:.4f}\nelementwise_passes = {base[2]:.4f}")
        own = {k: v for k, v in groups.items() if len(v) >= MIN_ROWS and "A100" not in k[0]}
        by_device = [(name, prec, fit_device(base, idx, name, prec)) for (name, prec), idx in sorted(own.items())]
        say("[gemm_by_device]")
        for name, prec, g in by_device:
            say(f'"{name}.{prec}" = {g:.4f}  # {len(own[(name, prec)])} rows')
        everything = list(range(len(specs)))
        e = np.abs(errors(base, everything, by_device))
        say(f"in-sample: mean |error| {100 * np.mean(e):.2f}%, max {100 * np.max(e):.2f}% ({len(e)} rows)")
        fitted = _eff(base, by_device)
        out = {"base": tuple(base), "by_device": by_device, "groups": [], "sources": {},
               "all": {"rows": len(e), "in_mean": float(e.mean()), "in_max": float(e.max())}}
        for (name, prec), idx in sorted(groups.items()):
            ee = e[idx]
            say(f"  {name} {prec}: {len(idx)} rows, mean {100 * ee.mean():.2f}%, max {100 * ee.max():.2f}%")
            out["groups"].append({"device": name, "precision": prec, "rows": len(idx), "in_mean": float(ee.mean()),
                                  "in_max": float(ee.max()), "own": (name, prec) in own,
                                  "gemm": fitted.gemm_for(name, Precision(prec))})
        if not loo:
            return out
        # out of sample: refit without each source, predict its rows (per device and precision)
        by_source = defaultdict(list)
        for i, (row, _) in enumerate(specs):
            by_source[source_of(row)].append(i)
        held = np.zeros(len(specs))
        for source, rows in sorted(by_source.items()):
            train = [i for i in everything if i not in rows]
            a100_train = [i for i in a100 if i in train]
            b = fit_base(a100_train, x0=tuple(base)) if len(a100_train) < len(a100) else base
            dev = []
            for (name, prec), idx in sorted(groups.items()):
                keep = [i for i in idx if i in train]
                if len(keep) >= MIN_ROWS and "A100" not in name:
                    dev.append((name, prec, fit_device(b, keep, name, prec)))
            held[rows] = np.abs(errors(b, rows, dev))
            out["sources"][source] = (len(rows), float(held[rows].mean()))
            say(f"held out {source:24s} ({len(rows)} rows): mean |error| {100 * held[rows].mean():.2f}%")
        say(f"leave-one-source-out: mean |error| {100 * held.mean():.2f}%, max {100 * held.max():.2f}%")
        out["all"].update(loo_mean=float(held.mean()), loo_max=float(held.max()))
        for g, ((name, prec), idx) in zip(out["groups"], sorted(groups.items()), strict=True):
            g.update(loo_mean=float(held[idx].mean()), loo_max=float(held[idx].max()))
            say(f"  {name} {prec}: {len(idx)} rows, mean {100 * held[idx].mean():.2f}%, max {100 * held[idx].max():.2f}%")
        return out
    finally:
        POOL.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--measurements", default=str(calibration_csv_path()))
    ap.add_argument("--loo", action="store_true", help="also refit leaving each source out, per device")
    args = ap.parse_args()
    fit(args.measurements, args.loo)


if __name__ == "__main__":
    main()
