"""Fit the compute-side efficiency parameters on the calibration set, and only there.

    python scripts/fit_efficiency.py [--measurements CSV]

Minimises the mean absolute relative error of `simulator validate` over the
usable rows of catalog/calibration.csv by Nelder-Mead over (gemm, memory,
elementwise_passes); the link efficiencies stay at their sourced values. Prints
the fitted values to copy into simulator/catalog/efficiency.toml, and a
leave-one-source-table-out check of how well the fit carries to rows it did not see.
Needs scipy (the `dev` extra).
"""

from __future__ import annotations

import argparse
import dataclasses
from multiprocessing import Pool

import numpy as np
from scipy.optimize import minimize

from simulator.catalog import calibration_csv_path
from simulator.catalog.efficiency import default_efficiency
from simulator.engine.step import simulate_step
from simulator.validation import parse_row, read_rows

SPECS: list = []


def _init(specs):
    global SPECS
    SPECS = specs


def _one(args):
    i, params = args
    row, spec = SPECS[i]
    eff = dataclasses.replace(default_efficiency(), gemm=params[0], memory=params[1], elementwise_passes=params[2])
    r = simulate_step(*spec, eff)
    if not r.feasible:
        return 1.0
    pred = {"iteration_time_s": r.step_time_s, "mfu": r.mfu, "hfu": r.hfu}[row.metric]
    return (pred - row.measured) / row.measured


POOL = None


def _errors(params, idx=None):
    idx = range(len(SPECS)) if idx is None else idx
    return np.array(POOL.map(_one, [(i, tuple(params)) for i in idx]))


def _objective(params, idx=None):
    if min(params) <= 0 or params[0] > 1 or params[1] > 1:
        return 10.0
    return float(np.mean(np.abs(_errors(params, idx))))


def fit(idx=None, x0=(0.75, 0.8, 2.0)):
    res = minimize(_objective, x0, args=(idx,), method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-4})
    return res.x


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--measurements", default=str(calibration_csv_path()))
    ap.add_argument("--loo", action="store_true", help="also refit leaving each source table out")
    args = ap.parse_args()
    specs = []
    for raw in read_rows(args.measurements):
        row, spec = parse_row(raw)
        if spec is not None:
            specs.append((row, spec))
    _init(specs)
    global POOL
    POOL = Pool(2, initializer=_init, initargs=(specs,))
    x = fit()
    errs = _errors(x)
    print(f"rows: {len(specs)}")
    print(f"gemm = {x[0]:.4f}\nmemory = {x[1]:.4f}\nelementwise_passes = {x[2]:.4f}")
    print(f"in-sample mean |error| {100 * np.mean(np.abs(errs)):.2f}%, max {100 * np.max(np.abs(errs)):.2f}%")
    if not args.loo:
        return
    # out of sample: refit without each source table, predict its rows
    groups: dict[str, list[int]] = {}
    for i, (row, _) in enumerate(specs):
        groups.setdefault(row.row_id.rsplit("-", 1)[0].split("-T")[0] + row.row_id.split("-")[1][:2], []).append(i)
    held = []
    for name, rows in sorted(groups.items()):
        train = [i for i in range(len(specs)) if i not in rows]
        xg = fit(train, x0=tuple(x))
        e = _errors(xg, rows)
        held.extend(np.abs(e))
        print(f"held out {name:8s} ({len(rows)} rows): mean |error| {100 * np.mean(np.abs(e)):.2f}%")
    print(f"leave-one-table-out mean |error| {100 * np.mean(held):.2f}%, max {100 * np.max(held):.2f}%")


if __name__ == "__main__":
    main()
