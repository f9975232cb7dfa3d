"""Regenerate every number the docs quote about the reproduction, and the scenario answers.

    python scripts/docs.py            # rewrite the generated blocks (README.md, docs/, scenarios/)
    python scripts/docs.py --check    # exit 1, naming the file, when a committed number differs
                                      # (beyond the last digit's rounding: REL_TOLERANCE)
    python scripts/docs.py --only scenarios   # or: reproduce, frontier-scenarios, tour, project, validation,
                                              # pages, loo

The generated blocks sit between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`
in Markdown, and in a scenario file between its `# Answer (...)` line and the `#` line
that ends the answer. Nothing between the markers is typed by hand: the reproduction
(200 joint draws, seed 0, on the built-in baseline), the frontier at the published
runs' dates, and each what-if scenario's run against the baseline come from the
program. The reproduction figures are copied to docs/.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import sys
import tempfile
from datetime import date
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from simulator.report.html import fmt
from simulator.trend.reproduce import FIGURES

ROOT = Path(__file__).resolve().parents[1]
SAMPLES, SEED = 200, 0


# ------------------------------------------------------------------ the reproduction
def reproduction():
    from simulator.frontier.config import load_frontier
    from simulator.trend.reproduce import DATA_END, reproduce

    return reproduce(load_frontier(), date(1959, 1, 1), DATA_END, "quarter", samples=SAMPLES, seed=SEED, workers=2)


ERAS = {"first_era": "first era (1959-2012)", "modern": "modern era (2012-2018)", "post_2018": "era after 2018 (2018-2026)"}


def _oom(x: float) -> str:
    s = f"{x:+.1f}"
    return "0.0" if s in ("+0.0", "-0.0") else s


def headline_table(s: dict) -> str:
    out = ["| figure | simulated: median [5th-95th percentile] | published | its percentile in the draws | "
           "at the median inputs, reading every fact |", "|---|---|---|---|---|"]
    for f in FIGURES:
        med, band = s[f"{f.key}_median"], s[f"{f.key}_band"]
        sim = "-" if med is None else f"{fmt(med)} [{fmt(band[0])}, {fmt(band[1])}]{f.unit}"
        pct = s[f"{f.key}_published_percentile"]
        facts = s[f"{f.key}_with_facts"]
        out.append(f"| {f.label} | {sim} | {f.published} | {'' if not f.published or pct is None else f'{pct:.0f}'} | "
                   f"{'-' if facts is None or not math.isfinite(facts) else fmt(facts) + f.unit} |")
    return "\n".join(out)


def findings(rep) -> str:
    s = rep.summary()
    cl = s["ceiling"]
    above = [c for c in cl if not c["under"]]
    lv = s["era_levels"]
    lines = [
        f"- **Ceiling:** {sum(c['under'] for c in cl)} of {len(cl)} published runs lie at or under the frontier's "
        f"95th percentile at their date, each solved without its own facts (within 0.3 orders of magnitude for the "
        f"run's own uncertainty). Above it: "
        + ("; ".join(f"{c['system']} ({c['date'][:7]}, {c['file'].split('_')[0]}: "
                     f"{c['published_flop'] / c['frontier_p95']:.2g}x the p95)" for c in above) or "none")
        + ". Each names its missing input in `catalog/ceiling_gaps.csv` (docs/reproduction.md).",
        "- **Level:** the frontier's median sits "
        + "; ".join(f"{_oom(v['median_oom'])} orders of magnitude from the largest published run so far in the "
                    f"{ERAS.get(era, era)} (median over {v['points']} runs)" for era, v in lv.items()
                    if v["median_oom"] is not None) + ".",
    ]
    for f in FIGURES[:4]:
        top = [w for w in s["sensitivity"][f.key] if w["effect_oom"] is not None][:3]
        lines.append(f"- **What moves the {f.label.split(' (')[0]}** (orders of magnitude over each input's 90% "
                     f"range): " + ", ".join(f"`{w['input']}` {w['effect_oom']:.2f}" for w in top) + ".")
    return "\n".join(lines)


def ceiling_table(rep) -> str:
    out = ["| run | date | file | published FLOP | frontier median | frontier p95 | p95 / published | missing |",
           "|---|---|---|---|---|---|---|---|"]
    for c in rep.ceiling():
        out.append(f"| {c['system']} | {c['date']} | {c['file']} | {fmt(c['published_flop'])} | "
                   f"{fmt(c['frontier_median'])} | {fmt(c['frontier_p95'])} | {fmt(c['ratio'])} | "
                   f"{c['missing'] if not c['under'] else ''} |")
    return "\n".join(out)


def sensitivity_tables(rep) -> str:
    out = []
    s = rep.summary()
    for f in FIGURES[:4]:
        key = f.key
        out += [f"**{f.label}** (at the median inputs {fmt(rep.figures.get(key))})", "",
                "| input | its 5th percentile | its 95th | the figure at the 5th | at the 95th | effect (OOM) |",
                "|---|---|---|---|---|---|"]
        for w in s["sensitivity"][key]:
            out.append(f"| `{w['input']}` | {fmt(w['low_value'])} | {fmt(w['high_value'])} | "
                       f"{fmt(w['figure_at_low'])} | {fmt(w['figure_at_high'])} | "
                       f"{'-' if w['effect_oom'] is None else format(w['effect_oom'], '.2f')} |")
        out.append("")
    return "\n".join(out).rstrip()


def level_and_binding(rep) -> str:
    s = rep.summary()
    out = ["| era | published runs | frontier median against the largest run so far (median, OOM) | "
           "binding at the median inputs (share of dates) |", "|---|---|---|---|"]
    for era, v in s["era_levels"].items():
        bind = ", ".join(f"{k} {x:.0%}" for k, x in sorted(s["binding_by_era"][era].items(), key=lambda kv: -kv[1]))
        out.append(f"| {ERAS.get(era, era)} | {v['points']} | "
                   f"{'-' if v['median_oom'] is None else format(v['median_oom'], '+.2f')} | {bind} |")
    return "\n".join(out)


def landmarks(rep) -> str:
    """The frontier at the landmark dates at the median inputs: withheld, and reading every fact."""
    from simulator.catalog.efficiency import default_efficiency
    from simulator.catalog.runfacts import scored_runs
    from simulator.frontier.config import load_frontier
    from simulator.frontier.series import published
    from simulator.frontier.solver import solve
    from simulator.frontier.utilization import Utilization

    util, base = Utilization(default_efficiency()), load_frontier()
    pts = {p.run_id: p for p in published()}
    out = ["| run | published | frontier, its facts withheld | the run | frontier, every scored run withheld |",
           "|---|---|---|---|---|"]
    for rid in ("alexnet", "gnmt", "alphago_zero"):
        p = pts[rid]
        loo = solve(p.at, base.withholding({rid}), util, relax=False)
        alw = solve(p.at, base.withholding(scored_runs()), util, relax=False)
        out.append(f"| {p.system}, {p.at} | {fmt(p.flop)} | {fmt(loo.flop)} ({loo.flop / p.flop:.2g}x) | "
                   f"{loo.n_devices:,} {loo.device} of {loo.actor} ({loo.family}), {loo.days:.0f} days from "
                   f"{loo.start}, MFU {loo.mfu:.2f}, limited by {loo.devices_limited_by} | {fmt(alw.flop)} |")
    return "\n".join(out)


# ------------------------------------------------------------------ scenario answers
ANSWER = re.compile(r"^# Answer \((simulator (frontier|project|step|search) (scenarios/[\w.-]+\.toml)([^)]*))\):\n"
                    r"((?:#.*\n)*?)#\n", re.MULTILINE)


def _flags(text: str) -> dict:
    out = {}
    for m in re.finditer(r"--(\w+)\s+([\w.-]+)", text):
        out[m.group(1)] = m.group(2)
    return out


@lru_cache(maxsize=1)
def _shared_util():
    """One layout-search cache for every frontier answer: its keys hold everything a search
    depends on (model, device, links, techniques, batches, precision, ...), so sharing it is exact."""
    from simulator.catalog.efficiency import default_efficiency
    from simulator.frontier.utilization import Utilization

    return Utilization(default_efficiency())


@lru_cache(maxsize=None)
def _baseline_series(dates: tuple) -> list:
    """The baseline's frontier at these dates (unrelaxed), solved once for every scenario that asks."""
    from simulator.frontier.config import load_frontier
    from simulator.frontier.series import frontier_series

    return frontier_series(load_frontier(), list(dates), relax=False, util=_shared_util())


def _frontier_answer(path: Path, flags: dict) -> list[str]:
    from simulator.core.units import partial_date
    from simulator.frontier.config import load_frontier
    from simulator.frontier.series import date_grid, frontier_series

    util = _shared_util()
    first, last = partial_date(flags["start"]), partial_date(flags["end"])
    dates = date_grid(first, last, flags.get("step", "quarter")) or [first]
    if flags.get("step", "quarter") != "year" and len(dates) > 4:
        dates = [d for d in dates if d.month == 1] or dates[:1]
    if len(dates) > 5:  # the first, the last and three between, evenly
        dates = [dates[round(i * (len(dates) - 1) / 4)] for i in range(5)]
    config = load_frontier(path)
    runs = frontier_series(config, dates, relax=True, util=util)
    base = None if path.stem == "frontier-baseline" else _baseline_series(tuple(dates))
    lines = []
    for i, r in enumerate(runs):
        if not r.feasible:
            why = r.reason if len(r.reason) <= 120 else r.reason[:120].rsplit(" ", 1)[0] + " ..."
            lines.append(f"{r.at}: no feasible run ({why})")
            continue
        ratio = "" if base is None or not base[i].feasible else f"{fmt(r.flop / base[i].flop)}x the baseline, "
        lines.append(f"{r.at}: {ratio}{fmt(r.flop)} FLOP on {r.n_devices:,} {r.device} ({r.actor}, {r.family}, "
                     f"{r.days:.0f} days, MFU {r.mfu:.2f}); binds: {', '.join(r.binding) or 'none'}")
    return lines


def _project_answer(path: Path, flags: dict) -> list[str]:
    from simulator.catalog.efficiency import default_efficiency
    from simulator.frontier.config import load_frontier
    from simulator.frontier.utilization import Utilization
    from simulator.trend.project import project

    util = Utilization(default_efficiency())
    to = int(flags.get("to", 2040))
    n = int(flags.get("samples", 100))
    mine = project(load_frontier(path), 2026, to, n, seed=0, util=util, workers=2)  # as the command: BIND_SAMPLES
    base = project(load_frontier(), 2026, to, n, seed=0, util=util, workers=2)
    t, b = mine.table(), base.table()
    lines = []
    for year in sorted({min(2030, to), to}):
        row, brow = t[t.year == year].iloc[0], b[b.year == year].iloc[0]
        lines.append(f"{year}: median {fmt(row.flop_median)} FLOP (10-90%: {fmt(row.flop_p10)} to "
                     f"{fmt(row.flop_p90)}) against {fmt(brow.flop_median)} for the baseline; "
                     f"MFU {row.mfu_median:.2f} (baseline "
                     f"{brow.mfu_median:.2f}); lowest ceiling in most samples: {row.primary_binding or 'none'}")
    first = {k: v for k, v in mine.first_year_binding().items() if v is not None}
    lines.append("first year each constraint has the lowest ceiling in most samples: "
                 + (", ".join(f"{k} {v}" for k, v in sorted(first.items(), key=lambda kv: kv[1])) or "none"))
    return lines


def _step_lines(r) -> list[str]:
    """One simulated step, as the answer of a step scenario states it."""
    from simulator.core.units import GB, fmt_seconds

    if not r.feasible:
        return [f"infeasible: {r.reason.value}: {r.detail}"]
    parts = ", ".join(f"{k.removesuffix('_s').replace('_', ' ')} {100 * v / r.step_time_s:.1f}%"
                      for k, v in r.breakdown_s.items() if v >= 0.0005 * r.step_time_s)
    out = [f"step {fmt_seconds(r.step_time_s)}, MFU {r.mfu:.3f}, HFU {r.hfu:.3f} "
           f"({r.hardware_flops / r.step_time_s / r.n_devices / 1e12:.0f} TFLOP/s per device with recompute "
           f"counted), {r.tokens_per_s:,.0f} tokens/s", f"time: {parts}"]
    if r.memory is not None:
        out.append(f"memory {r.memory.total / GB:.1f} of {r.memory.capacity / GB:.0f} GB per device")
    return out


def _step_answer(path: Path, flags: dict) -> list[str]:
    from simulator.catalog.efficiency import default_efficiency
    from simulator.catalog.scenario import load_scenario
    from simulator.engine.step import simulate_step

    sc = load_scenario(path)
    return _step_lines(simulate_step(sc.model, sc.cluster, sc.layout, default_efficiency(), sc.stack))


def _search_answer(path: Path, flags: dict) -> list[str]:
    from simulator.catalog.efficiency import default_efficiency
    from simulator.catalog.scenario import load_scenario
    from simulator.core.specs import SearchSpace
    from simulator.search import search_layouts

    sc = load_scenario(path)
    space = sc.search or SearchSpace(global_batches=(sc.layout.global_batch,))
    res = search_layouts(sc.model, sc.cluster, sc.layout, space, default_efficiency())
    reasons = sorted(res.reason_counts.items(), key=lambda kv: -kv[1])[:2]
    head = (f"{res.evaluated:,} candidates, {res.n_feasible:,} feasible; ruled out most often: "
            + "; ".join(f"{why} ({n:,})" for why, n in reasons))
    if res.best is None:
        return [head, "no feasible layout"]
    lay, best = res.best
    return [head, f"the fastest (the event engine's answer): {lay.text()} on {lay.n_devices:,} of "
            f"{sc.cluster.n_devices:,} devices"] + _step_lines(best)


ANSWERS = {"frontier": _frontier_answer, "project": _project_answer, "step": _step_answer, "search": _search_answer}
#: The answers checked by the tests (the projections' take minutes each: regenerated by hand).
QUICK_KINDS = ("frontier", "step", "search")

def projection():
    from simulator.frontier.config import load_frontier
    from simulator.trend.project import project

    return project(load_frontier(), 2026, 2040, 1000, seed=SEED, workers=2, bind_samples=200)


def projection_block(proj=None) -> str:
    """The README's projection: the years, each constraint's 2030 ceiling beside Epoch AI's, and
    the projection under each batch law (1000 samples, the first 200 with ceilings, seed 0)."""
    from simulator.frontier.ceilings import CEILING_CONSTRAINTS
    from simulator.trend.project import epoch_2030

    proj = proj or projection()
    t = proj.table().set_index("year")
    out = ["| year | FLOP p10 | median | p90 | MFU | devices | lowest ceiling (share of samples) | "
           "next ceiling / lowest (median) |", "|---|---|---|---|---|---|---|---|"]
    for y in (2026, 2027, 2028, 2030, 2035, 2040):
        r = t.loc[y]
        shares = sorted(((c, r[f"binding_share_{c}"]) for c in CEILING_CONSTRAINTS), key=lambda kv: -kv[1])
        low = ", ".join(f"{c} {v:.0%}" for c, v in shares if v == v and v >= 0.05) or "- (the history's run)"
        margin = "-" if r.binding_margin_median != r.binding_margin_median else f"{r.binding_margin_median:.2g}x"
        out.append(f"| {y} | {fmt(r.flop_p10)} | {fmt(r.flop_median)} | {fmt(r.flop_p90)} | {r.mfu_median:.2f} | "
                   f"{r.devices_median:,.0f} | {low} | {margin} |")
    epoch = epoch_2030()
    out += ["", "Each constraint's own ceiling in 2030 (the others relaxed 100-fold; the batch law held with the "
            "latency), beside Epoch AI's (`catalog/epoch_2030_ceilings.csv`):", "",
            "| constraint | simulated ceiling, median [10-90%] | lowest in | Epoch AI 2030 |", "|---|---|---|---|"]
    j = list(proj.years).index(2030)
    for c in CEILING_CONSTRAINTS:
        v = proj.ceiling(c)[:, j]
        lo, med, hi = np.nanpercentile(v, [10, 50, 90])
        e = epoch.get(c)
        theirs = "-" if e is None else " / ".join(fmt(x) for x in (e["low_flop"], e["central_flop"], e["high_flop"])
                                                   if x is not None)
        rng = "" if e is None or e["low_flop"] is None else " (range)"
        out.append(f"| {c} | {fmt(med)} [{fmt(lo)}, {fmt(hi)}] | {t.loc[2030, f'binding_share_{c}']:.0%} | "
                   f"{theirs}{rng} |")
    out.append(f"| all together | {fmt(t.loc[2030, 'flop_median'])} (the run) | | "
               f"{fmt(epoch['all']['central_flop'])} |")
    law = proj.by_law().pivot(index="law", columns="year", values="flop_median")
    n = proj.by_law().groupby("law").samples.first()
    out += ["", "The projection under each batch law (`catalog/batch_laws.csv`, one drawn per sample with equal "
            "weights):", "", "| batch law | samples | 2030 median | 2040 median |", "|---|---|---|---|"]
    for k in law.index:
        out.append(f"| {k} | {n[k]} | {fmt(law.loc[k, 2030])} | {fmt(law.loc[k, 2040])} |")
    by_family = proj.by_family()
    fam = by_family.pivot(index="family", columns="year", values="flop_median")
    n = by_family.groupby("family").samples.first()
    if len(fam.index) > 1:
        out += ["", "The projection under each model family (one drawn per sample with equal weights among the sized "
                "families the scenario lists):", "", "| model family | samples | 2030 median | 2040 median |",
                "|---|---|---|---|"]
        out += [f"| {k} | {n[k]} | {fmt(fam.loc[k, 2030])} | {fmt(fam.loc[k, 2040])} |" for k in fam.index]
    else:
        out += ["", f"Every sample trains `{fam.index[0]}`, the start run's family (the scenario lists no families "
                "to draw among)."]
    out += ["", "What widens the 2030 band most (`Projection.sensitivity`: the FLOP median of the samples in an "
            "input's top third over its bottom third; for the batch law and the model family, the largest median "
            "over the smallest):", "",
            "| input | orders of magnitude | bottom third | top third |", "|---|---|---|---|"]
    for r in proj.sensitivity(2030)[:8]:
        note = f" ({r['note']})" if r.get("note") else ""
        out.append(f"| {r['input']}{note} | {r['effect_oom']:.2f} | {fmt(r['low_third_flop'])} | "
                   f"{fmt(r['high_third_flop'])} |")
    return "\n".join(out)


def doc_files() -> list[Path]:
    """The Markdown files that may hold generated blocks: README.md and docs/*.md."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def write_blocks(named: dict[str, str], check: bool, normalize=None) -> list[str]:
    """Write (or check) generated blocks by name wherever they appear in README.md and docs/;
    the names of the files that differ. Each block must appear somewhere. The bodies are
    computed by the caller first, so a file is read after any long work and edits made
    meanwhile are kept. `normalize(text)` masks what may differ between machines (a speed)
    before comparing."""
    changed, found = [], set()
    norm = normalize or (lambda s: s)
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        new = text
        for name, body in named.items():
            if f"<!-- generated:{name} -->" in new:
                new, _ = replace_block(new, name, body), found.add(name)
        if norm(new) != norm(text) and not (check and same_up_to_rounding(norm(text), norm(new))):
            changed.append(str(path.relative_to(ROOT)))
            if not check:
                path.write_text(new, encoding="utf-8")
    missing = sorted(set(named) - found)
    if missing:
        raise SystemExit(f"docs.py: no block {missing[0]!r} in README.md or docs/*.md")
    return changed


def projection_blocks(check: bool) -> list[str]:
    return write_blocks({"project": projection_block()}, check)


def published_runs_block() -> str:
    """The README's out-of-sample table: `simulator validate` on catalog/published_runs.csv (rows
    never fitted on), per accelerator, and A100 with H100 80GB together."""
    import statistics

    from simulator.catalog.hardware import find_accelerator

    pages = _pages()
    raw, rows = pages.validated(str(pages.PUBLISHED_RUNS))
    groups: dict[str, list] = {}
    for r, w in zip(rows, raw, strict=True):
        try:
            name = find_accelerator(w.get("hardware", "")).name
        except KeyError:
            name = f"not resolved ({w.get('hardware', '')[:30]})"
        groups.setdefault(name, []).append(r)

    def line(name, rs, bold=False):
        e = [abs(r.rel_error) for r in rs if not r.skipped]
        stats = ", ".join(f"{100 * v:.1f}%" for v in (statistics.median(e), sum(e) / len(e), max(e))) if e else "-"
        b = "**" if bold else ""
        return f"| {b}{name}{b} | {b}{len(e)}{b} | {len(rs) - len(e)} | {b}{stats}{b} |"

    out = [f"`catalog/published_runs.csv`: {len(rows)} rows, {sum(not r.skipped for r in rows)} predicted.", "",
           "| accelerator | predicted | skipped | median, mean, max abs. error |", "|---|---:|---:|---|"]
    out += [line(k, v) for k, v in sorted(groups.items())]
    main = [r for k, v in groups.items() if "80GB" in k and ("A100" in k or "H100" in k) for r in v]
    out.append(line("A100 and H100 80GB", main, bold=True))
    searched = [r for r in rows if r.spread and not r.skipped]
    if searched:  # how much the fields the rows leave unstated matter: the median completion against the best
        gap = statistics.median(abs(r.spread["median"] / r.spread["best"] - 1) for r in searched)
        split = sum(r.origin.get("tp") == "searched" for r in searched)
        out += ["", f"Unstated fields searched in {len(searched)} predicted rows ({split} of them for tp and pp); "
                f"over each row's feasible completions the median differs from the fastest by {100 * gap:.0f}% "
                f"(median over the rows)."]
    return "\n".join(out)


def calibration_a100_block() -> str:
    """The README's in-sample table: `simulator validate` on the calibration set's A100 sources
    (Narayanan et al. 2021, Korthikanti et al. 2022), row by row, and their summary."""
    from simulator.catalog import calibration_csv_path

    rows = [r for r in _pages().validated(str(calibration_csv_path()))[1] if r.row_id.startswith(("N21", "K22"))]
    out = ["| row | model | GPUs | layout | metric | measured | predicted | error |",
           "|---|---|---:|---|---|---:|---:|---:|"]
    done = [r for r in rows if not r.skipped]
    out += [f"| {r.row_id} | {r.model} | {r.n_devices} | {r.layout} | {r.metric} | {r.measured:.4g} | "
            f"{r.predicted:.4g} | {100 * r.rel_error:+.1f}% |" for r in done]
    e = [abs(r.rel_error) for r in done]
    skipped = [r for r in rows if r.skipped]
    out += ["", f"**{len(e)} A100 rows: mean |error| {100 * sum(e) / len(e):.2f}%, max {100 * max(e):.2f}%** "
            "(targets 5% and 12%, asserted by `tests/test_cli.py::test_validate_acceptance_on_a100`). "
            f"{len(skipped)} rows are skipped with their reason: "
            + "; ".join(f"{r.row_id} ({r.skipped})" for r in skipped) + "."]
    return "\n".join(out)


def calibration_loo_block() -> str:
    """The README's per-device table of the calibration set: in sample with the fitted values and
    leave-one-source-out (simulator/measure/calibrate.py: refit without each source, predict its rows).
    Minutes on two cores; needs scipy (the `dev` extra). `simulator validate --loo` prints the same."""
    from simulator.catalog import calibration_csv_path
    from simulator.measure.calibrate import fit

    res = fit(str(calibration_csv_path()), loo=True, say=lambda *_: None)
    base = res["base"][0]

    def pct(a, b):
        return f"{100 * a:.1f}%, {100 * b:.1f}%"

    out = ["| device, precision | rows | in sample: mean, max | leave-one-source-out: mean, max | GEMM efficiency |",
           "|---|---:|---|---|---|"]
    for g in res["groups"]:
        how = ("fitted on its rows" if g["own"] else "the fitted base" if abs(g["gemm"] - base) < 1e-9
               else "the base x its kernel benchmark / A100's")
        out.append(f"| {g['device']}, {g['precision'].upper()} | {g['rows']} | {pct(g['in_mean'], g['in_max'])} | "
                   f"{pct(g['loo_mean'], g['loo_max'])} | {g['gemm']:.3f} ({how}) |")
    a = res["all"]
    out.append(f"| **all** | **{a['rows']}** | **{pct(a['in_mean'], a['in_max'])}** | "
               f"**{pct(a['loo_mean'], a['loo_max'])}** | |")
    out += ["", "Per source, held out: " + ", ".join(f"{k} {100 * m:.1f}% ({n} rows)"
                                                     for k, (n, m) in sorted(res["sources"].items())) + "."]
    return "\n".join(out)


def pages_blocks(check: bool) -> list[str]:
    """The reference pages' figures (docs/search.md, step-model.md, validation.md, projection.md):
    scripts/docs_pages.py computes each block."""
    pages = _pages()
    return write_blocks({"search-example": pages.search_example(), "megatron-searched": pages.megatron_table(),
                         "sites-example": pages.sites_paragraph(), "efficiency": pages.efficiency_sentence(),
                         "calibration-misses": pages.calibration_misses(),
                         "published-by-source": pages.published_by_source(),
                         "carry-over": pages.carry_over_example(), "fitted-values": pages.fitted_values(),
                         "gemm-shapes": pages.gemm_shapes_table()},
                        check, normalize=pages.without_speed)


@cache
def _pages():
    """scripts/docs_pages.py, beside this script (imported by path, once: the tests load this file so)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_pages", Path(__file__).with_name("docs_pages.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def validation_blocks(check: bool) -> list[str]:
    return write_blocks({"published-runs": published_runs_block(), "calibration-a100": calibration_a100_block()},
                        check)


def scenario_answers(check: bool, kinds=tuple(ANSWERS)) -> list[str]:
    """Rewrite (or check) the generated answer of every scenario of the `kinds` (frontier,
    project, step, search); the names of the files that differ."""
    import textwrap

    changed = []
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        m = ANSWER.search(text)
        if not m:
            continue
        kind, flags = m.group(2), _flags(m.group(4))
        if kind not in kinds or (kind == "project" and check):
            continue  # projections are regenerated by hand (minutes each), not checked in the tests
        lines = ANSWERS[kind](path, flags)
        body = "".join("#   " + w + "\n" for line in lines
                       for w in textwrap.wrap(line, 84, subsequent_indent="  ", break_on_hyphens=False))
        body += "#   (generated by scripts/docs.py from the program; do not edit)\n"
        new = text[:m.start(5)] + body + text[m.end(5):]
        if new != text and not (check and same_up_to_rounding(m.group(5), body)):
            changed.append(str(path.relative_to(ROOT)))
            if not check:
                path.write_text(new, encoding="utf-8")
                if path.name == "default.toml":  # the package's copy, which the commands run without a scenario
                    shutil.copy(path, ROOT / "simulator" / "catalog" / "default_scenario.toml")
    return changed


# ------------------------------------------------------------------ the tour and the scenario library
WORKED_EXAMPLE = "scenarios/megatron-1t-3072.toml"


def worked_example() -> str:
    """The README's worked example: `simulator step` on the Megatron 1T scenario, as printed
    on an 80-column terminal."""
    import os
    import subprocess

    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}
    res = subprocess.run([sys.executable, "-m", "simulator", "step", WORKED_EXAMPLE], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    lines = [line.rstrip() for line in res.stdout.strip().splitlines()]
    return "\n".join(["```console", f"$ simulator step {WORKED_EXAMPLE}", *lines, "```"])


def _comment_block(text: str, start: str) -> str:
    """The comment paragraph of a scenario file that begins with `start`, unwrapped."""
    out, on = [], False
    for line in text.splitlines():
        if line.startswith(start):
            on = True
        if on:
            if line.strip() == "#" or not line.startswith("#"):
                break
            out.append(line.lstrip("#").strip())
    return " ".join(out)


def _short_answer(kind: str, answer: str) -> str:
    """A scenario's generated answer in one table cell."""
    lines: list[str] = []
    for raw in answer.splitlines():  # "#   " opens a line of the answer, "#     " continues it
        body = raw.removeprefix("#")
        if body.startswith("     ") and lines:
            lines[-1] += " " + body.strip()
        elif body.strip():
            lines.append(body.strip())
    lines = [x for x in lines if "generated by scripts/docs.py" not in x]
    if kind == "frontier":
        cells = []
        for x in lines:
            d, rest = x.split(": ", 1)
            when = d[:4] if d.endswith("-01-01") else d[:7]
            m = re.match(r"([\d.e+-]+)x the baseline", rest)
            if m:
                cells.append(f"{when}: {m.group(1)}x")
            else:
                m = re.match(r"([\d.e+-]+) FLOP on ([\d,]+) ([\w.-]+) \((\w+), (\w+)", rest)
                cells.append(f"{when}: {m.group(1)} FLOP ({m.group(2)} {m.group(3)}, {m.group(5)})" if m
                             else f"{when}: {rest.split(';')[0]}")
        return "; ".join(cells)
    if kind == "project":
        cells = []
        for x in lines:
            m = re.match(r"(\d{4}): median ([\d.e+-]+) FLOP .* against ([\d.e+-]+) for the baseline; .*"
                         r"lowest ceiling in most samples: (\w+)", x)
            if m:
                cells.append(f"{m.group(1)}: {m.group(2)} FLOP against {m.group(3)} "
                             f"({float(m.group(2)) / float(m.group(3)):.2g}x), lowest ceiling {m.group(4)}")
        return "; ".join(cells)
    if kind == "search":
        best = next((x for x in lines if x.startswith("the fastest")), "no feasible layout")
        step = next((x for x in lines if x.startswith("step ")), "")
        return f"{best.split(': ', 1)[-1]}: {', '.join(step.split(', ')[:2])}"
    return ", ".join(lines[0].split(", ")[:2]) if lines else ""


def scenario_table() -> str:
    """The scenario library as a table: each file's question and its generated answer, read from
    the files (whose answers the tests check against the program)."""
    out = ["| file | command | question | answer (generated; the file has it in full) |", "|---|---|---|---|"]
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        q = re.sub(r"^Question(?: \([^)]*\))?:\s*", "", _comment_block(text, "# Question"))
        m = ANSWER.search(text)
        kind = m.group(2) if m else ""
        out.append(f"| `{path.name}` | {kind} | {q.replace('|', '/')} | "
                   f"{_short_answer(kind, m.group(5)) if m else '-'} |")
    return "\n".join(out)


def unverified_block() -> str:
    """docs/data.md's count of the catalog rows still flagged, by file."""
    from collections import Counter

    from simulator.catalog.unverified import catalog_rows_flagged

    rows, total = catalog_rows_flagged()
    by_file = Counter(r["file"] for r in rows)
    return (f"**{len(rows)} of {total:,} rows ({100 * len(rows) / total:.2f}%)**: "
            + ", ".join(f"{f} {n}" for f, n in by_file.most_common()) + ".")


def tour_blocks(check: bool) -> list[str]:
    return write_blocks({"worked-example": worked_example(), "scenario-table": scenario_table(),
                         "unverified": unverified_block()}, check)


# ------------------------------------------------------------------ comparing
_DATE = re.compile(r"\b\d{4}-\d{2}(?:-\d{2})?\b")
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
#: the check's tolerance: the last printed digit of a figure may move with the floating-point
#: arithmetic of another machine (numpy build, CPU); a change beyond it is a real change
REL_TOLERANCE = 0.05


def same_up_to_rounding(old: str, new: str, rel: float = REL_TOLERANCE) -> bool:
    """Whether two generated texts say the same: identical words and dates (whitespace and
    comment markers aside), every number within `rel` of the other (a small whole number,
    such as a percentile, within 1)."""
    def norm(s: str) -> str:
        return " ".join(re.sub(r"(?m)^#", " ", s).split())

    a, b = norm(old), norm(new)
    if _DATE.findall(a) != _DATE.findall(b):
        return False
    a, b = _DATE.sub("D", a), _DATE.sub("D", b)
    if _NUMBER.sub("N", a) != _NUMBER.sub("N", b):
        return False
    for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b), strict=True):
        fx, fy = float(x.replace(",", "")), float(y.replace(",", ""))
        if fx == fy:
            continue
        small = x.lstrip("+-").isdigit() and y.lstrip("+-").isdigit() and max(abs(fx), abs(fy)) <= 100
        if not (abs(fx - fy) <= rel * max(abs(fx), abs(fy)) or (small and abs(fx - fy) <= 1)):
            return False
    return True


# ------------------------------------------------------------------ blocks
def replace_block(text: str, name: str, body: str) -> str:
    start, end = f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"
    a, b = text.find(start), text.find(end)
    if a < 0 or b < 0:
        raise SystemExit(f"docs.py: no block {name!r} (markers {start} ... {end})")
    return text[:a + len(start)] + "\n" + body.strip() + "\n" + text[b:]


def reproduction_blocks(check: bool, rep=None) -> list[str]:
    rep = rep or reproduction()
    s = rep.summary()
    changed = write_blocks({"reproduce-table": headline_table(s), "reproduce-findings": findings(rep),
                            "levels": level_and_binding(rep), "landmarks": landmarks(rep),
                            "ceiling": ceiling_table(rep), "sensitivity": sensitivity_tables(rep)}, check)
    if not check:
        from simulator.report.trend_plot import plot_reproduction, plot_sensitivity

        with tempfile.TemporaryDirectory() as tmp:
            for name, plot in (("reproduce.png", plot_reproduction), ("sensitivity.png", plot_sensitivity)):
                out = Path(tmp) / name
                if name == "reproduce.png":
                    plot(rep, out, title="Largest feasible training run (baseline), every scored run's facts "
                         "withheld, against AI and Compute")
                else:
                    plot(rep, out)
                shutil.copy(out, ROOT / "docs" / name)
    return changed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare, do not write; exit 1 on a difference")
    ap.add_argument("--only", choices=("reproduce", "scenarios", "frontier-scenarios", "tour", "project", "validation",
                                       "pages", "loo"),
                    help="one part only (frontier-scenarios: every scenario's answer but the projections')")
    args = ap.parse_args(argv)
    changed = []
    if args.only in (None, "scenarios", "frontier-scenarios"):
        changed += scenario_answers(args.check, QUICK_KINDS if args.only == "frontier-scenarios" else tuple(ANSWERS))
    if args.only in (None, "scenarios", "frontier-scenarios", "tour"):
        changed += tour_blocks(args.check)
    if args.only in (None, "validation"):
        changed += validation_blocks(args.check)
    if args.only in (None, "pages"):
        changed += pages_blocks(args.check)
    if args.only in (None, "reproduce"):
        changed += reproduction_blocks(args.check)
    if args.only in (None, "project") and not args.check:  # minutes: regenerated, not checked in the tests
        changed += projection_blocks(args.check)
    if args.only in (None, "loo") and not args.check:  # minutes, and scipy: regenerated, not checked in the tests
        changed += write_blocks({"calibration-loo": calibration_loo_block()}, args.check)
    if args.check and changed:
        print("docs.py --check: generated numbers differ from the program in: " + ", ".join(changed)
              + " (run python scripts/docs.py)")
        return 1
    print(("checked: " if args.check else "written: ") + (", ".join(changed) or "nothing changed"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
