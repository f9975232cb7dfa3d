"""The numbers the reference pages quote (docs/search.md, step-model.md, validation.md,
projection.md), computed by the program: `scripts/docs.py --only pages` writes them, and
`tests/test_docs.py` fails when a committed one differs. Each function returns one block's
body; nothing here is typed from an earlier run.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PUBLISHED_RUNS = ROOT / "simulator" / "catalog" / "published_runs.csv"


@cache
def validated(path: str) -> tuple[list[dict], list]:
    """(the rows of a measurement CSV, their predictions): `simulator validate` on it, run once
    per process for every block that reads it (here and in docs.py)."""
    from simulator.catalog.efficiency import default_efficiency
    from simulator.measure.validation import read_rows, validate

    raw = read_rows(Path(path))
    return raw, validate(raw, default_efficiency())


# ------------------------------------------------------------------ docs/search.md
SEARCH_EXAMPLE = "scenarios/search-gpt3-175b-4096.toml"
#: The search's speed in its first line: machine-dependent, so the check reads it as a placeholder.
SPEED = re.compile(r"scored in [\d.]+ \w+ \([\d,]+/s\)")
SPEED_TEXT = "scored in T s (R/s)"


def search_example() -> str:
    """`simulator search` on the GPT-3 175B scenario with its top 3, as printed 160 columns wide."""
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1", "TERM": "dumb"}
    res = subprocess.run([sys.executable, "-m", "simulator", "search", SEARCH_EXAMPLE, "--top", "3"], cwd=ROOT,
                         env=env, capture_output=True, text=True, check=True)
    lines = [line.rstrip() for line in res.stdout.strip().splitlines()]
    return "\n".join(["```console", f"$ simulator search {SEARCH_EXAMPLE} --top 3", *lines, "```"])


def without_speed(text: str) -> str:
    """A generated text with the search's machine-dependent speed replaced (for the check)."""
    return SPEED.sub(SPEED_TEXT, text)


#: Narayanan et al. 2021 Table 2's PTD-P rows: GPT-3 175B on 384, 768, 1536 and 530B on 560, 1120, 2240 A100.
MEGATRON_ROWS = tuple(f"N21-T2-{i}" for i in range(7, 13))


def _megatron_searches():
    """Per row: (row id, model, devices, the published layout and its step, and per space (the full
    space, the 2021 techniques): the published layout's closed-form rank, the feasible count, the
    best layout and its engine step)."""
    from simulator.catalog import calibration_csv_path
    from simulator.catalog.efficiency import default_efficiency
    from simulator.core.specs import Recompute, Schedule, SearchSpace, Zero
    from simulator.engine.step import simulate_step
    from simulator.measure.measurement import parse_row
    from simulator.measure.validation import read_rows
    from simulator.search import search_layouts

    eff = default_efficiency()
    rows = {r["id"]: r for r in read_rows(calibration_csv_path())}
    out = []
    for rid in MEGATRON_ROWS:
        parsed, spec = parse_row(rows[rid])
        if spec is None:
            raise SystemExit(f"docs_pages.py: calibration row {rid} is skipped: {parsed.skipped}")
        model, cluster, published = spec
        full = SearchSpace(global_batches=(published.global_batch,), top_k=3)
        y2021 = SearchSpace(global_batches=(published.global_batch,), top_k=3, schedules=(Schedule.ONE_F_ONE_B,),
                            recompute=(Recompute.FULL,), sequence_parallel=(False,), zero=(Zero.STAGE_0,))
        found = []
        for space in (full, y2021):
            res = search_layouts(model, cluster, published, space, eff)
            lay, best = res.best
            found.append((res.rank_of(published), res.n_feasible, lay, best))
        out.append((rid, model, cluster.n_devices, published, simulate_step(model, cluster, published, eff), found))
    return out


def megatron_table() -> str:
    """docs/search.md's table of the published Megatron layouts searched, and what it says."""
    rows, gaps, speedups, ranks = ["| row | model, GPUs | published layout (our step time) | rank, full space | "
                                   "best, full space | rank, 2021 techniques | best, 2021 techniques |",
                                   "|---|---|---|---:|---|---:|---|"], [], [], []
    for rid, model, n, published, pub, found in _megatron_searches():
        cells = []
        for rank, feasible, lay, best in found:
            cells += [f"{rank} of {feasible}", f"{lay.text()} ({best.step_time_s:.1f} s)"]
        rows.append(f"| {rid} | {model.name}, {n} | {published.text()} ({pub.step_time_s:.1f} s) | "
                    + " | ".join(cells) + " |")
        (_, _, _, full), (rank, _, _, old) = found
        ranks.append(rank)
        gaps.append(pub.step_time_s / old.step_time_s - 1)
        speedups.append(pub.step_time_s / full.step_time_s)
    rows += ["", f"Within the 2021 technique set the published layouts are at or near our optimum (ranks "
                 f"{min(ranks)} to {max(ranks)}, within {100 * min(gaps):.0f}-{100 * max(gaps):.0f}% of the best step "
                 f"time); the full space is {min(speedups):.2f}x to {max(speedups):.2f}x faster (median "
                 f"{statistics.median(speedups):.2f}x)."]
    return "\n".join(rows)


# ------------------------------------------------------------------ docs/step-model.md
SITES_EXAMPLE = "scenarios/two-sites-1000km.toml"
#: The narrower link between the sites the page compares with (a tenth of the scenario's).
NARROW_LINK_GB_S = 320


def _sites_steps() -> tuple[dict, dict]:
    """(the two-site scenario's step under each split, link and schedule the page compares; the
    closed form at the narrow link and the pipeline's transfer across the boundary)."""
    from dataclasses import replace

    from simulator.catalog.efficiency import default_efficiency
    from simulator.catalog.scenario import load_scenario
    from simulator.core.specs import Schedule
    from simulator.costs.closed_form import step_time
    from simulator.costs.collectives import pp_message_bytes
    from simulator.costs.step import unit_costs
    from simulator.engine.step import simulate_step

    eff = default_efficiency()
    sc = load_scenario(ROOT / SITES_EXAMPLE)
    model, cluster, layout, stack = sc.model, sc.cluster, sc.layout, sc.stack
    narrow = replace(cluster, site_link=replace(cluster.site_link, bandwidth_bytes_per_s=NARROW_LINK_GB_S * 1e9))
    one_site = replace(cluster, sites=1, site_link=None)
    pp, f1b = replace(layout, site_split="pp"), {"schedule": Schedule.ONE_F_ONE_B, "virtual_stages": 1}

    def step(c, lay):
        return simulate_step(model, c, lay, eff, stack)

    steps = {
        "pp": step(cluster, pp), "dp": step(cluster, layout), "one": step(one_site, layout),
        "narrow_pp": step(narrow, pp), "narrow_dp": step(narrow, layout),
        "narrow_pp_1f1b": step(narrow, replace(pp, **f1b)), "narrow_dp_1f1b": step(narrow, replace(layout, **f1b)),
    }
    wide_u = unit_costs(model, cluster, pp, eff, stack)
    figures = {
        "narrow_pp_closed": float(step_time(unit_costs(model, narrow, pp, eff, stack), pp, eff.comm_processor_usage)),
        "message_mb": pp_message_bytes(model.seq_len, layout.micro_batch, model.hidden, layout.precision.bytes, layout.tp) / 1e6,
        "transfer_ms": float(wide_u.p2p_site_s) * 1e3, "fibre_ms": float(wide_u.p2p_site_delay_s) * 1e3,
    }
    return steps, figures


def sites_paragraph() -> str:
    """docs/step-model.md's figures for a pipeline across two sites."""
    steps, s = _sites_steps()
    t = {k: v.step_time_s for k, v in steps.items()}
    return (f"On `{SITES_EXAMPLE}` (Llama 3 405B on 2 x 8,192 H100, 1,000 km apart) a transfer across the "
            f"boundary is {s['message_mb']:.1f} MB in {s['transfer_ms']:.1f} ms, {s['fibre_ms']:.1f} ms of it "
            f"fibre. With `site_split = \"pp\"` the step takes {t['pp']:.2f} s (MFU {steps['pp'].mfu:.3f}) against "
            f"{t['dp']:.2f} s with data parallelism across the sites and {t['one']:.2f} s on one site; at "
            f"{NARROW_LINK_GB_S} GB/s between the sites it takes {t['narrow_pp']:.3g} s against {t['narrow_dp']:.3g} s "
            f"with data parallelism across them, and with 1F1B {t['narrow_pp_1f1b']:.3g} s against "
            f"{t['narrow_dp_1f1b']:.3g} s. The closed form gives {s['narrow_pp_closed']:.3g} s for the interleaved "
            f"pipeline across the sites at {NARROW_LINK_GB_S} GB/s, where the engine gives {t['narrow_pp']:.3g} s.")


# ------------------------------------------------------------------ docs/projection.md
def efficiency_sentence() -> str:
    """docs/projection.md's "AI and Efficiency" figures: `simulator efficiency`'s fit and its
    AlexNet-level runs of 2012 and 2019."""
    from simulator.trend.efficiency import efficiency_report

    rep = efficiency_report(years=(2012, 2019))
    fit, pub = rep["fit"], rep["published"]
    runs = {r["year"]: r for r in rep["runs"]}

    def run(r):
        if not r.get("device_key"):
            return f"no priced device in {r['year']}"
        return f"${r['cost_usd']:.3g} and {r['hours']:.3g} hours on one {r['device_name']} in {r['year']}"

    return (f"`simulator efficiency` fits Hernandez & Brown's AlexNet-level series: {fit['total_reduction']:.1f}x less "
            f"compute from {fit['first_date'][:7]} to {fit['last_date'][:7]} (published {pub['reduction']}x), halving "
            f"every {fit['halving_months']:.1f} months (90% CI {fit['ci'][0]:.1f}-{fit['ci'][1]:.1f}; published "
            f"{pub['halving_months']}), against {fit['moore_reduction']:.1f}x from Moore's law (published "
            f"{pub['moore']}x). The cheapest AlexNet-level run costs {run(runs[2012])}, and "
            f"{run(runs[2019])} (amortised prices; the fitted efficiency trend is extrapolated after 2019).")


# ------------------------------------------------------------------ docs/validation.md
#: The in-sample rows the page discusses: those over the A100 sources' 12% maximum.
MISS = 0.12


def calibration_misses() -> str:
    """docs/validation.md's table of the calibration rows predicted more than 12% off, with the
    fields completed by search and, for those, the memory of the layout as the row and its
    stack state it (why the search was needed)."""
    from simulator.catalog import calibration_csv_path
    from simulator.catalog.efficiency import default_efficiency
    from simulator.core.units import GB
    from simulator.costs.step import step_costs
    from simulator.measure.measurement import parse_row

    eff = default_efficiency()
    raw, rows = validated(str(calibration_csv_path()))
    out = ["| row | model, devices | layout predicted | error | completed by search (memory as stated) |",
           "|---|---|---|---:|---|"]
    for r, w in zip(rows, raw, strict=True):
        if r.skipped or abs(r.rel_error) <= MISS:
            continue
        searched = sorted(k for k, v in r.origin.items() if v == "searched")
        how = "-"
        if searched:
            row, spec = parse_row(w)
            costs = step_costs(*spec, eff, row.stack)
            mem = getattr(costs, "memory", None)
            how = ", ".join(searched) + (f" ({mem.total / GB:.1f} of {mem.capacity / GB:.0f} GB)" if mem else "")
        ratio = 1 + r.rel_error
        err = f"{100 * r.rel_error:+.1f}%" + (f" ({ratio:.2g}x)" if ratio >= 1.5 or ratio <= 1 / 1.5 else "")
        out.append(f"| {r.row_id} | {r.model}, {r.n_devices} | {r.layout} | {err} | {how} |")
    return "\n".join(out)


def _span(values: list[float]) -> str:
    if not values:
        return "-"
    lo, mid, hi = min(values), statistics.median(values), max(values)
    return f"{100 * lo:+.0f}%, {100 * mid:+.0f}%, {100 * hi:+.0f}%"


def published_by_source() -> str:
    """docs/validation.md's out-of-sample errors per source (the row id's prefix): signed errors
    (lowest, median, highest), and where unstated fields were searched (the prediction is the
    fastest completion), the median completion against the measurement."""
    groups: dict[str, list] = {}
    for r in validated(str(PUBLISHED_RUNS))[1]:
        groups.setdefault(r.row_id.split("-")[0], []).append(r)
    out = ["| source (row id prefix) | predicted | skipped | error: lowest, median, highest | rows with fields "
           "searched | their median completion against the measurement: lowest, median, highest |",
           "|---|---:|---:|---|---:|---|"]
    for key, rows in sorted(groups.items()):
        done = [r for r in rows if not r.skipped]
        spread = [r for r in done if r.spread]  # predicted with the fastest completion; the median one beside it
        mid = [r.spread["median"] / r.measured - 1 for r in spread]
        out.append(f"| {key} | {len(done)} | {len(rows) - len(done)} | {_span([r.rel_error for r in done])} | "
                   f"{len(spread)} | {_span(mid)} |")
    return "\n".join(out)


def carry_over_example() -> str:
    """docs/validation.md's worked carry-over of the GEMM efficiency: H100 at BF16 from the fitted
    reference by the two devices' published matmul benchmarks (`Efficiency.gemm_for`)."""
    from simulator.catalog.efficiency import default_efficiency
    from simulator.catalog.hardware import find_accelerator
    from simulator.core.specs import Precision

    eff = default_efficiency()
    h100 = find_accelerator("h100-sxm").name
    own, ref = eff.ceiling(h100, Precision.BF16), eff.ceiling(*eff.gemm_reference)
    return (f"H100 BF16 {100 * own:.1f}% of peak against {eff.gemm_reference[0]}'s {100 * ref:.1f}%, so "
            f"{eff.gemm:.3f} x {own:.3f} / {ref:.3f} = {eff.gemm_for(h100, Precision.BF16):.3f}")


def gemm_shapes_table() -> str:
    """docs/step-model.md's check of the matmul time by shape: `simulator validate --kernels`
    (simulator/measure/kernels.py) on catalog/gemm_shapes.csv, and the step model's own H100
    BF16 rate (its fitted e, no t0) at XLA's shapes of small models' size."""
    from simulator.catalog.efficiency import default_efficiency
    from simulator.catalog.hardware import find_accelerator
    from simulator.core.specs import Precision
    from simulator.costs.compute import rates
    from simulator.measure.kernels import shape_fits

    eff, h100 = default_efficiency(), find_accelerator("h100-sxm")
    out = ["| kernel, device | shapes | published TFLOP/s | fitted e, t0 | roofline: median, max abs. error | "
           "one constant rate: median, max |", "|---|---:|---|---|---|---|"]
    xla = {}
    for f in shape_fits(eff):
        s, published = f.summary(), [r.tflops for r in f.rows]
        out.append(f"| {f.library} {f.precision.upper()}, {f.device} | {s['rows']} | "
                   f"{min(published):.0f}-{max(published):.0f} | {f.efficiency:.3f}, {s['fixed_us']:.2f} us | "
                   f"{100 * s['median_abs_error']:.1f}%, {100 * s['max_abs_error']:.1f}% | "
                   f"{100 * s['constant_median_abs_error']:.0f}%, {100 * s['constant_max_abs_error']:.0f}% |")
        if f.library == "xla" and f.device == h100.name:
            xla = {(r.m, r.n, r.k): r.tflops for r in f.rows}
    r = rates(h100, Precision.BF16, eff)
    pairs = [(n, 2 * n**3 / r.gemm(n, n, n, 2) / 1e12, xla[(n, n, n)]) for n in (2048, 4096)]
    out += ["", f"The step model's own H100 BF16 rate (e = {eff.gemm_for(h100.name, Precision.BF16):.3f}, no t0): "
            + "; ".join(f"{p:.0f} TFLOP/s at {n}^3 against XLA's {x:.0f}" for n, p, x in pairs) + "."]
    return "\n".join(out)


def fitted_values() -> str:
    """docs/step-model.md's fitted efficiency values (catalog/efficiency.toml, written by
    scripts/fit_efficiency.py)."""
    from simulator.catalog.efficiency import default_efficiency
    from simulator.catalog.hardware import accelerators

    eff = default_efficiency()
    short = {a.name: key for key, a in accelerators().items()}
    own = ", ".join(f"{short.get(name, name)} {prec.upper()} {value:.3f}" for name, prec, value in eff.gemm_by_device)
    return (f"`gemm` {eff.gemm:.3f} of dense peak, `memory` {eff.memory:.3f} of HBM bandwidth, "
            f"`elementwise_passes` {eff.elementwise_passes:.2f} on the A100 rows; per device and precision "
            f"(`[gemm_by_device]`, on NeMo's tables): {own}.")
