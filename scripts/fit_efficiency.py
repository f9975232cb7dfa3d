"""Fit the compute-side efficiency parameters on the calibration set, and only there.

    python scripts/fit_efficiency.py [--measurements CSV] [--loo]

Prints the values to copy into simulator/catalog/efficiency.toml (stage 1 on the A100
rows, stage 2 per device and precision with enough rows of its own: simulator/measure/calibrate.py),
the in-sample errors per device and, with --loo, the leave-one-source-out errors (also
`simulator validate --loo`). Needs scipy (the `dev` extra).
"""

from __future__ import annotations

import argparse

from simulator.catalog import calibration_csv_path
from simulator.measure.calibrate import fit


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--measurements", default=str(calibration_csv_path()))
    ap.add_argument("--loo", action="store_true", help="also refit leaving each source out, per device")
    args = ap.parse_args()
    res = fit(args.measurements, args.loo)
    g, m, p = res["base"]
    print(f"[efficiency]\ngemm = {g:.4f}\nmemory = {m:.4f}\nelementwise_passes = {p:.4f}")
    print("[gemm_by_device]")
    for name, prec, value in res["by_device"]:
        print(f'"{name}.{prec}" = {value:.4f}')
    a = res["all"]
    print(f"in-sample: mean |error| {100 * a['in_mean']:.2f}%, max {100 * a['in_max']:.2f}% ({a['rows']} rows)")
    for r in res["groups"]:
        loo = f"; held out: mean {100 * r['loo_mean']:.2f}%, max {100 * r['loo_max']:.2f}%" if "loo_mean" in r else ""
        print(f"  {r['device']} {r['precision']}: {r['rows']} rows, mean {100 * r['in_mean']:.2f}%, "
              f"max {100 * r['in_max']:.2f}%{loo}")
    for source, (n, mean) in sorted(res["sources"].items()):
        print(f"held out {source:24s} ({n} rows): mean |error| {100 * mean:.2f}%")
    if "loo_mean" in a:
        print(f"leave-one-source-out: mean |error| {100 * a['loo_mean']:.2f}%, max {100 * a['loo_max']:.2f}%")


if __name__ == "__main__":
    main()
