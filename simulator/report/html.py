"""One self-contained HTML page from a run folder, made for a reader.

Figures (PNG) are embedded as base64 data URIs and tables as HTML tables, so the page
needs no other file and no network. What a reader sees, in order:

1. the run's key results, the ones the command prints (a reproduction's doubling times
   and binding constraints, a frontier's jumps, a search's best layout and reason
   counts, a step's breakdown, a projection's start run, a comparison's ratios);
2. the figures, the main one first (reproduce.png, frontier.png, projection.png,
   compare.png, then the teaching views in the order they explain a step);
3. the tables: only the rows that matter (all of a short table; of a long frontier the
   first and last rows and the jumps; of a search the best candidates), and the main
   columns of a wide one;
4. summary.json as a readable key/value table (nested values flattened), the run's
   metadata and its scenario.

Numbers are formatted for people: 3 significant figures, thousands separators, never a
15-digit float. Wide tables scroll inside the page rather than widen it. A large CSV is
never read whole: only its first rows are (pandas nrows), so a 76 MB search result
costs milliseconds.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import pandas as pd

from simulator.core.specs import DIMENSION_KEYS, OPTIONAL_DIMENSIONS
from simulator.report.figures import text_column

#: Rows of a table shown at most.
MAX_ROWS = 60
#: Rows read from a CSV at most (a search writes millions).
READ_ROWS = 2000
#: Above this size a CSV's rows are not counted (that would read it whole).
COUNT_LIMIT_BYTES = 5_000_000

#: Figures in the order a reader needs them: the main figure first.
FIGURE_ORDER = ("reproduce", "frontier", "projection", "compare", "gantt", "breakdown", "memory", "scaling",
                "frontier_binding")
#: Tables in order (others follow alphabetically).
TABLE_ORDER = ("compare", "projection", "frontier", "candidates", "sweep", "scaling")

#: The columns of a frontier CSV shown (all are in the file).
FRONTIER_COLUMNS = ("date", "flop", "n_devices", "device_name", "model", "days", "mfu", "cost_usd",
                    "primary_binding", "reason")
COMPARE_COLUMNS = ("date", "a_flop", "b_flop", "ratio_flop", "ratio_devices", "ratio_mfu", "a_primary_binding",
                   "b_primary_binding", "a_value", "b_value", "ratio_value", "metric")
CANDIDATE_COLUMNS = ("devices", *DIMENSION_KEYS, "micro_batch", "schedule", "virtual_stages",
                     "recompute", "sequence_parallel", "zero", "global_batch", "memory_gb", "step_time_s", "mfu",
                     "tokens_per_s", "reason")
#: A frontier's jump: at least this growth from the previous feasible date.
JUMP = 2.0

STYLE = """*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;padding:1.5em 1em;max-width:1100px;
color:#222;line-height:1.4;overflow-wrap:break-word}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.2em;margin:1.8em 0 .4em;border-bottom:1px solid #ddd}
h3{font-size:1em;margin:1.2em 0 .3em}p.sub{color:#555;margin:0 0 1em}
.scroll{overflow-x:auto;max-width:100%;margin:.4em 0 1.2em}
table{border-collapse:collapse;font-size:12.5px}td,th{border:1px solid #ccc;padding:2px 7px;vertical-align:top}
th{background:#f3f3f3;text-align:left}td{white-space:nowrap}td.w{white-space:normal;min-width:14em}
td.n{text-align:right;font-variant-numeric:tabular-nums}
table.kv th{font-weight:normal;color:#333;max-width:28em}table.kv td{max-width:60em}
tr.gap td{background:#fafafa;color:#888;text-align:center}
img{max-width:100%;height:auto;border:1px solid #ddd}figure{margin:1em 0 2em}
figcaption{font-size:13px;color:#555}code{background:#f4f4f4;padding:1px 4px}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;max-width:100%;white-space:pre-wrap;font-size:12px}
details{margin:.6em 0}summary{cursor:pointer;color:#245}p.note{color:#555;font-size:13px;margin:.2em 0}"""


# ------------------------------------------------------------------ numbers
def fmt(v) -> str:
    """A value for people: 3 significant figures, thousands separators, no 15-digit float."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        if v == 0:
            return "0"
        a = abs(v)
        if a >= 1e6 or a < 1e-3:  # 1.23e25, 6e-5
            mantissa, exp = f"{v:.2e}".split("e")
            return f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"
        if a >= 1000:  # 12,346
            return f"{v:,.0f}"
        text = f"{v:.{2 - math.floor(math.log10(a))}f}"  # 3 significant figures: 0.361, 29.3, 512
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(v, (list, tuple)):
        if all(not isinstance(x, (dict, list, tuple)) for x in v):
            return "[" + ", ".join(fmt(x) for x in v) + "]" if len(v) == 2 else ", ".join(fmt(x) for x in v)
        return json.dumps(v, default=str)
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # a numpy scalar
        return fmt(v.item())
    return str(v)


def _plain(key: str) -> bool:
    """Columns and keys whose integers are labels, not quantities: no thousands separator (2026, not 2,026)."""
    key = key.lower()
    return "year" in key or "seed" in key or key in ("date", "id")


def _cell(v, key: str = "") -> str:
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # a numpy scalar
        v = v.item()
    numeric = isinstance(v, int | float) and not isinstance(v, bool)
    if numeric and key and _plain(key) and float(v).is_integer():
        return f"<td class='n'>{int(v)}</td>"
    text = fmt(v)
    if numeric:
        return f"<td class='n'>{html.escape(text)}</td>"
    return f"<td class='w'>{html.escape(text)}</td>" if len(text) > 24 else f"<td>{html.escape(text)}</td>"


def _scroll(inner: str) -> str:
    return f"<div class='scroll'>{inner}</div>"


def frame_html(frame: pd.DataFrame, gaps: set[int] | None = None) -> str:
    """An HTML table of `frame` with formatted numbers; a '…' row before each position in `gaps`."""
    head = "".join(f"<th>{html.escape(str(c).replace('_', ' '))}</th>" for c in frame.columns)
    rows = []
    for pos, row in enumerate(frame.itertuples(index=False)):
        if gaps and pos in gaps:
            rows.append(f"<tr class='gap'><td colspan='{len(frame.columns)}'>…</td></tr>")
        values = [None if (isinstance(x, float) and math.isnan(x)) else x for x in row]
        rows.append("<tr>" + "".join(_cell(x, str(c)) for x, c in zip(values, frame.columns, strict=True)) + "</tr>")
    return _scroll(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def flatten(data: dict, prefix: str = "") -> tuple[list[tuple[str, object]], list[tuple[str, list]]]:
    """(key, value) pairs with nested dicts flattened to dotted keys; lists of records set apart as tables."""
    pairs, tables = [], []
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            if not v:
                pairs.append((key, "–"))
                continue
            p, t = flatten(v, key + ".")
            pairs += p
            tables += t
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            tables.append((key, v))
        else:
            pairs.append((key, v))
    return pairs, tables


def kv_html(data: dict, skip: tuple[str, ...] = ()) -> str:
    """A readable key/value table of a JSON object (nested values flattened), then its lists of records."""
    pairs, tables = flatten({k: v for k, v in data.items() if k not in skip})
    rows = "".join(f"<tr><th>{html.escape(k.replace('_', ' '))}</th>{_cell(v, k)}</tr>" for k, v in pairs)
    out = _scroll(f"<table class='kv'>{rows}</table>") if rows else ""
    for key, records in tables:
        frame = pd.DataFrame(records)
        out += f"<h3>{html.escape(key.replace('_', ' '))}</h3>" + _capped(frame)
    return out


def _capped(frame: pd.DataFrame, limit: int = MAX_ROWS) -> str:
    if len(frame) <= limit:
        return frame_html(frame)
    return (f"<p class='note'>first {limit} of {len(frame):,} rows</p>" + frame_html(frame.head(limit)))


# ------------------------------------------------------------------ reading
def _json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_head(path: Path, nrows: int = READ_ROWS) -> tuple[pd.DataFrame, int | None]:
    """The first `nrows` rows of a CSV and its row count (None when the file is too large to count cheaply)."""
    frame = pd.read_csv(path, nrows=nrows)
    if len(frame) < nrows:
        return frame, len(frame)
    if path.stat().st_size > COUNT_LIMIT_BYTES:
        return frame, None
    with path.open("rb") as f:
        return frame, max(sum(1 for _ in f) - 1, 0)


def _kind(run_dir: Path) -> str:
    """The command that wrote the folder (its parent's name), else guessed from its files."""
    parent = run_dir.parent.name
    if parent in ("reproduce", "frontier", "project", "search", "explain", "sweep", "compare"):
        return parent
    for name, kind in (("reproduce.png", "reproduce"), ("compare.csv", "compare"), ("projection.csv", "project"),
                       ("candidates.csv", "search"), ("step.json", "explain"), ("sweep.csv", "sweep"),
                       ("frontier.csv", "frontier")):
        if (run_dir / name).exists():
            return kind
    return "run"


# ------------------------------------------------------------------ frontier rows
def frontier_rows(frame: pd.DataFrame, head: int = 3, tail: int = 10) -> tuple[pd.DataFrame, set[int], str]:
    """The rows of a frontier that matter, the positions of gaps, and a note saying which.

    All rows when there are few; else the first `head` and last `tail` dates and every jump (growth of
    at least JUMP x from the previous feasible date, with that date), at most MAX_ROWS.
    """
    t = frame.copy()
    feasible = t["feasible"].astype(str).str.lower().isin(("true", "1")) if "feasible" in t else True
    flop = pd.to_numeric(t.get("flop"), errors="coerce").where(feasible)
    prev = flop.ffill().shift()
    t.insert(1, "growth", flop / prev)
    changed = []
    for i in range(len(t)):
        if i == 0:
            changed.append("")
            continue
        parts = [c.replace("_name", "") for c in ("device_name", "model", "primary_binding")
                 if c in t and str(t[c].iloc[i]) != str(t[c].iloc[i - 1])]
        changed.append(", ".join(parts).replace("primary_binding", "binding"))
    t.insert(2, "changed", changed)
    cols = ["date", "growth", "changed", *[c for c in FRONTIER_COLUMNS[1:] if c in t]]
    if "reason" in t and not text_column(t["reason"]).str.strip().any():
        cols.remove("reason")
    t = t[cols]
    if len(t) <= 40:
        return t, set(), f"all {len(t)} dates"
    ok = [i for i in range(len(t)) if pd.notna(flop.iloc[i])]
    first = ok[:head] if ok else list(range(head))  # the first feasible dates (the earlier ones have no run)
    keep = set(first) | set(range(len(t) - tail, len(t)))
    jumps = [i for i in range(len(t)) if t["growth"].iloc[i] >= JUMP]
    for i in sorted(jumps, key=lambda i: -t["growth"].iloc[i]):
        if len(keep) >= MAX_ROWS:
            break
        keep.update({i - 1, i})
    idx = sorted(k for k in keep if 0 <= k < len(t))
    gaps = {pos for pos, (a, b) in enumerate(zip([idx[0] - 1, *idx[:-1]], idx, strict=True)) if pos and b != a + 1}
    before = f" (the {first[0]} dates before them have no feasible run)" if first and first[0] else ""
    note = (f"{len(idx)} of {len(t)} dates: the first {len(first)} feasible{before}, the last {tail} and the jumps "
            f"(growth: FLOP over the previous date's, at least {JUMP:g}x, shown with the date before); '…' marks "
            "dates left out; all rows and columns are in the CSV")
    return t.iloc[idx], gaps, note


# ------------------------------------------------------------------ key results per command
def _key_reproduce(s: dict) -> str:
    """The CLI's headline table: median [5-95%] over the draws, the published figure and its
    percentile, the figure at the median inputs reading every fact; then the ceiling, the
    levels, what binds and what moves each figure."""
    from simulator.trend.reproduce import FIGURES

    rows = []
    for f in FIGURES:
        med, band = s.get(f"{f.key}_median"), s.get(f"{f.key}_band")
        if med is None:
            continue
        pct = s.get(f"{f.key}_published_percentile")
        facts = s.get(f"{f.key}_with_facts")
        rows.append((f.label, fmt(med) + (f" [{fmt(band[0])}, {fmt(band[1])}]" if band else "") + f.unit, f.published,
                     "" if pct is None or not f.published else f"{pct:.0f}",
                     fmt(facts) + (f.unit if facts is not None and math.isfinite(facts) else "")))
    body = "".join("<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(str(c))}</{'th' if i == 0 else 'td'}>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    out = _scroll("<table><thead><tr><th>figure</th><th>simulated: median [5-95%] of "
                  f"{html.escape(str(s.get('samples', '')))} draws, facts withheld</th><th>published</th>"
                  "<th>its percentile</th><th>at the median inputs, every fact read</th></tr></thead>"
                  f"<tbody>{body}</tbody></table>")
    ceiling = s.get("ceiling") or []
    if ceiling:
        above = [c for c in ceiling if not c.get("under")]
        out += (f"<p>Ceiling: {len(ceiling) - len(above)} of {len(ceiling)} published runs at or under the "
                "frontier's 95th percentile, each solved without its own facts"
                + (": above it " + html.escape(", ".join(f"{c.get('run')} ({str(c.get('date'))[:7]})" for c in above))
                   if above else "") + ".</p>")
    levels = {era: v for era, v in (s.get("era_levels") or {}).items() if v.get("median_oom") is not None}
    if levels:
        out += "<h3>level: the frontier's median against the largest published run so far</h3>" + frame_html(
            pd.DataFrame([{"era": era, "orders of magnitude": v["median_oom"], "points": v.get("points")}
                          for era, v in levels.items()]))
    eras = s.get("binding_by_era") or {}
    if eras:
        out += "<h3>binding constraint by era (share of dates)</h3>" + frame_html(pd.DataFrame(
            [{"era": era, **{k: f"{v:.0%}" for k, v in sorted(sh.items(), key=lambda kv: -kv[1])}}
             for era, sh in eras.items()]).fillna(""))
    sens = s.get("sensitivity") or {}
    if sens:
        out += "<h3>what moves each figure (orders of magnitude over each input's 90% range)</h3>" + frame_html(
            pd.DataFrame([{"figure": key, **{f"#{i + 1}": f"{w['input']} {w['effect_oom']:.2f}"
                                             for i, w in enumerate(x for x in swings if x.get("effect_oom") is not None)
                                             if i < 5}} for key, swings in sens.items()]).fillna(""))
    return out


def _key_frontier(frame: pd.DataFrame) -> str:
    feasible = frame["feasible"].astype(str).str.lower().isin(("true", "1"))
    ok = frame[feasible]
    if not len(ok):
        return f"<p>No feasible run at any of the {len(frame)} dates.</p>"
    first, last = ok.iloc[0], ok.iloc[-1]
    out = (f"<p>{len(ok)} of {len(frame)} dates feasible; from {fmt(float(first['flop']))} FLOP ({first['date']}) "
           f"to {fmt(float(last['flop']))} FLOP ({last['date']}), "
           f"{fmt(float(last['flop']) / float(first['flop']))}x.</p>")
    if "primary_binding" in ok:
        counts = text_column(ok["primary_binding"]).replace("", "none").value_counts()
        out += "<p>binding constraint (share of feasible dates): " + html.escape(
            ", ".join(f"{k} {v / len(ok):.0%}" for k, v in counts.items())) + "</p>"
    flop = pd.to_numeric(ok["flop"], errors="coerce")
    growth = flop / flop.shift()
    jumps = ok[growth >= JUMP]
    if len(jumps):
        rows = [{"from": ok["date"].iloc[ok.index.get_loc(i) - 1], "to": ok.loc[i, "date"], "growth": growth[i],
                 "device": ok.loc[i].get("device_name", ""), "binding": ok.loc[i].get("primary_binding", "")}
                for i in jumps.index]
        out += f"<h3>jumps (at least {JUMP:g}x from one date to the next)</h3>" + _capped(pd.DataFrame(rows), 20)
    return out


def _key_search(run_dir: Path, head: pd.DataFrame, total: int | None, summary: dict | None, meta: dict | None) -> str:
    out = ""
    evaluated = (summary or {}).get("evaluated") or (meta or {}).get("evaluated") or total
    ok = head[text_column(head["reason"]) == ""] if "reason" in head else head
    if len(ok):
        best = ok.iloc[0]
        layout = ", ".join(f"{c} {fmt(best[c])}" for c in (*DIMENSION_KEYS, "micro_batch", "schedule", "recompute",
                                                          "zero", "global_batch") if c in best)
        out += (f"<p><b>best layout</b> (closed form; the event engine re-simulates the top ones in the CLI): "
                f"{html.escape(layout)} on {fmt(best.get('devices'))} devices: step "
                f"{fmt(best.get('step_time_s'))} s, MFU {fmt(best.get('mfu'))}.</p>")
    else:
        out += "<p>No feasible layout among the first rows of the candidates.</p>"
    if evaluated:
        out += f"<p>{fmt(int(evaluated))} candidates scored.</p>"
    counts = (summary or {}).get("reason_counts")
    if counts is None and total is not None and "reason" in head:
        reasons = pd.read_csv(run_dir / "candidates.csv", usecols=["reason"])["reason"]  # a small file (counted)
        counts = text_column(reasons).replace("", "feasible").value_counts().to_dict()
    if counts:
        out += "<h3>candidates by reason</h3>" + frame_html(pd.DataFrame(
            [{"reason": k, "candidates": int(v)} for k, v in counts.items()]))
    elif total is None:
        out += ("<p class='note'>Candidates by reason: not counted here (the CSV is large and only its first rows "
                "are read); `simulator search` prints them.</p>")
    return out


def _key_step(step: dict) -> str:
    if not step.get("feasible", True):
        return f"<p>The layout is infeasible: {html.escape(str(step.get('detail') or step.get('reason')))}.</p>"
    t = step.get("step_time_s") or 0.0
    rows = [("step time (s)", step.get("step_time_s"), ""), ("MFU", step.get("mfu"), ""), ("HFU", step.get("hfu"), ""),
            ("tokens/s", step.get("tokens_per_s"), ""), ("model FLOP per step", step.get("model_flops"), "")]
    for k, v in (step.get("breakdown_s") or {}).items():
        rows.append(("  " + k.removesuffix("_s").replace("_", " ") + " (s)", v, f"{v / t:.1%}" if t else ""))
    mem = step.get("memory_bytes") or {}
    if mem.get("total") is not None:
        rows.append(("memory per device (GB)", mem["total"] / 1e9, f"of {fmt(mem.get('capacity', 0) / 1e9)} GB"))
        for k in ("weights", "gradients", "optimizer", "activations"):
            if k in mem:
                rows.append((f"  {k} (GB)", mem[k] / 1e9, ""))
    body = "".join(f"<tr><th>{html.escape(a)}</th>{_cell(b)}<td class='n'>{html.escape(c)}</td></tr>"
                   for a, b, c in rows)
    return _scroll(f"<table class='kv'><tbody>{body}</tbody></table>")


def _key_project(s: dict) -> str:
    start = s.get("start_run") or {}
    out = (f"<p>Start: the simulated frontier at {html.escape(str(s.get('start')))}: {fmt(start.get('n_devices'))} x "
           f"{html.escape(str(start.get('device')))}, {fmt(start.get('flop'))} FLOP, budget "
           f"${fmt(start.get('budget_usd'))}; {fmt(s.get('samples'))} samples, seed {fmt(s.get('seed'))}.</p>")
    firsts = s.get("first_year_binding") or {}
    if firsts:
        out += "<p>First year each limit binds in most samples: " + html.escape(", ".join(
            f"{k} {v if v is not None else 'never'}" for k, v in firsts.items())) + "</p>"
    return out


def _key_compare(s: dict) -> str:
    out = (f"<p>A (baseline): {html.escape(str(s.get('a_scenario') or s.get('a_label')))} "
           f"(<code>{html.escape(str(s.get('a')))}</code>)<br>B (what-if): "
           f"{html.escape(str(s.get('b_scenario') or s.get('b_label')))} (<code>{html.escape(str(s.get('b')))}</code>)"
           f"<br>{fmt(s.get('shared'))} shared; {fmt(s.get('only_a'))} only in A, {fmt(s.get('only_b'))} only in B."
           "</p>")
    ratios = s.get("ratios") or {}
    rows = [{"metric": m, **{k: v for k, v in (r or {}).items()}} for m, r in ratios.items()]
    if rows:
        out += "<h3>ratio B/A</h3>" + frame_html(pd.DataFrame(rows))
    return out


# ------------------------------------------------------------------ the page
def _ordered(paths: list[Path], order: tuple[str, ...]) -> list[Path]:
    rank = {name: i for i, name in enumerate(order)}
    return sorted(paths, key=lambda p: (rank.get(p.stem, len(order)), p.name))


def _table_section(run_dir: Path, csv_path: Path, kind: str, meta: dict | None) -> str:
    title = f"<h2 id='{html.escape(csv_path.stem)}'>{html.escape(csv_path.name)}</h2>"
    try:
        frame, total = read_head(csv_path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        return title + f"<p class='note'>cannot read: {html.escape(str(exc))}</p>"
    if csv_path.stem == "frontier" and "date" in frame:
        rows, gaps, note = frontier_rows(frame if total is not None else frame.head(READ_ROWS))
        hidden = len(frame.columns) - len([c for c in FRONTIER_COLUMNS if c in frame])
        more = f"; {hidden} more columns in the CSV" if hidden > 0 else ""
        return title + f"<p class='note'>{html.escape(note + more)}</p>" + frame_html(rows, gaps)
    if csv_path.stem == "candidates":
        n = total if total is not None else (meta or {}).get("evaluated")
        cols = [c for c in CANDIDATE_COLUMNS if c in frame and (c not in OPTIONAL_DIMENSIONS or (frame[c] > 1).any())]
        shown = frame[cols].head(20)
        count = f" of {fmt(int(n))}" if n else ""
        return (title + f"<p class='note'>the best {len(shown)} candidates{count} (by tokens/s; only the first "
                f"{fmt(len(frame))} rows of the CSV are read)</p>" + frame_html(shown))
    if csv_path.stem == "compare":
        cols = [c for c in ("metric", *COMPARE_COLUMNS) if c in frame]
        cols = list(dict.fromkeys(cols))
        if len(cols) < len(frame.columns):
            frame = frame[cols]
            title += "<p class='note'>the main columns; all are in the CSV</p>"
    note = "" if total is not None and total <= MAX_ROWS else (
        f"<p class='note'>first {MAX_ROWS} of {fmt(total) if total is not None else 'many'} rows</p>")
    return title + note + frame_html(frame.head(MAX_ROWS))


def _key_results(run_dir: Path, kind: str, summary, meta, step) -> str:
    """The "Key results" section of a run of `kind` ("" when its files give none)."""
    frontier_csv = run_dir / "frontier.csv"
    if kind == "reproduce" and summary:
        return _key_reproduce(summary)
    if kind == "frontier" and frontier_csv.exists():
        return _key_frontier(read_head(frontier_csv)[0])
    if kind == "search" and (run_dir / "candidates.csv").exists():
        head, total = read_head(run_dir / "candidates.csv")
        return _key_search(run_dir, head, total, summary, meta)
    if kind == "explain" and step:
        return _key_step(step)
    if kind == "project" and summary:
        return _key_project(summary)
    if kind == "compare" and summary:
        return _key_compare(summary)
    return ""


def build_report(run_dir: Path) -> str:
    """The HTML text for `run_dir` (key results, figures, tables, summary, metadata and scenario)."""
    run_dir = Path(run_dir)
    kind = _kind(run_dir)
    summary = _json(run_dir / "summary.json")
    meta = _json(run_dir / "meta.json")
    step = _json(run_dir / "step.json")
    scenario_name = (summary or {}).get("scenario") or (step or {}).get("scenario")
    title = f"{kind} run {run_dir.name}" + (f": {scenario_name}" if isinstance(scenario_name, str) else "")
    sub = []
    if meta:
        if meta.get("time_utc"):
            sub.append(f"run at {meta['time_utc']}")
        if meta.get("argv"):
            argv = meta["argv"]
            sub.append("command: <code>" + html.escape(" ".join(["simulator", *[str(a) for a in argv[1:]]])) + "</code>")
        if meta.get("version"):
            sub.append(f"simulator {html.escape(str(meta['version']))}")
    parts = [("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
              f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>"),
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p class='sub'>{' · '.join(s if s.startswith('command') else html.escape(s) for s in sub)}</p>"]

    key = _key_results(run_dir, kind, summary, meta, step)
    if key:
        parts.append(f"<h2 id='key'>Key results</h2>{key}")

    pngs = _ordered(list(run_dir.glob("*.png")), FIGURE_ORDER)
    if pngs:
        parts.append("<h2 id='figures'>Figures</h2>")
    for png in pngs:
        b64 = base64.b64encode(png.read_bytes()).decode("ascii")
        parts.append(f"<figure><img alt='{html.escape(png.stem)}' src='data:image/png;base64,{b64}'>"
                     f"<figcaption>{html.escape(png.name)}</figcaption></figure>")

    order = ("scaling", *TABLE_ORDER) if kind == "explain" else TABLE_ORDER
    for csv_path in _ordered(list(run_dir.glob("*.csv")), order):
        parts.append(_table_section(run_dir, csv_path, kind, meta))

    if summary:
        tables = {p.stem for p in run_dir.glob("*.csv")}
        skip = ("rows", *(("table",) if "projection" in tables else ()))  # the same rows as a CSV shown above
        parts.append("<h2 id='summary'>summary.json</h2>" + kv_html(summary, skip=skip))
    if step and kind != "explain":
        parts.append("<h2 id='step'>step.json</h2>" + kv_html(step))
    if meta:
        shown = {**meta, "argv": " ".join(str(a) for a in meta["argv"])} if isinstance(meta.get("argv"), list) else meta
        parts.append("<details><summary>run metadata (meta.json)</summary>" + kv_html(shown) + "</details>")
    scenario = run_dir / "scenario.toml"
    if scenario.exists():
        parts.append(f"<details><summary>scenario.toml</summary><pre>{html.escape(scenario.read_text())}</pre>"
                     "</details>")
    parts.append("</body></html>")
    return "\n".join(parts)
