"""`simulator catalog KIND`: the packaged catalog, every row with its key numbers and its source.

The rows come from `simulator.catalog.listing` (the units of the catalog files). The
table fits the terminal (80 columns without one, or $COLUMNS): numbers and keys are
never cut; names and sources are cut with an ellipsis, and printed in full by --wide
and --json.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from simulator.catalog.listing import KINDS, STACK_FLAGS, catalog_kind, catalog_listing
from simulator.cli.common import BadInput, _json, app, out


@dataclass(frozen=True)
class _Col:
    header: str
    cell: Callable[[dict], str]
    text: bool = False  # cut with an ellipsis to fit (names, sources); numbers and keys never are
    share: float = 1.0  # of the width left for text columns


def _num(x) -> str:
    """A catalog number as written: up to 4 significant digits, integers whole, '-' when unknown."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if float(x) == int(x) or abs(x) >= 1000:
        return f"{x:.0f}"
    return f"{x:.4g}"


def _count(x) -> str:
    """A parameter count: 175B, 61M."""
    for scale, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.0f}"


def _get(field: str, fmt: Callable = _num) -> Callable[[dict], str]:
    return lambda r: fmt(r[field])


def _text(field: str) -> Callable[[dict], str]:
    return lambda r: " ".join(str(r[field] or "").split()) or "-"


def _flags(r: dict) -> str:
    return "".join(letter if r[f] else "-" for f, (letter, _) in STACK_FLAGS.items())


def _attention(r: dict) -> str:
    """The fused attention kernel and the devices it runs on: 'cudnn-attention: h100-sxm, h200-sxm'."""
    by_kernel: dict[str, list[str]] = {}
    for device, kernel in r["attention_kernel"].items():
        by_kernel.setdefault(kernel, []).append(device)
    return "; ".join(f"{k}: {', '.join(d)}" for k, d in by_kernel.items()) or "-"


def _experts(r: dict) -> str:
    return f"{r['experts']}/{r['top_k']}" if r["experts"] else "-"


def _date(field: str) -> Callable[[dict], str]:
    return lambda r: r[field] or "-"


def _available(r: dict) -> str:
    return r["available"] + ("*" if r["first_use_run"] else "")


_KEY = _Col("key", _text("key"))
_SOURCE = _Col("source", _text("source"), text=True)
_SOURCE_MIN = 40  # the source joins the last table when it gets this much room there, else a table of its own

#: Per kind, the tables of the compact view, each fitting the width by itself (each repeats the key);
#: the source column is added by `render_catalog`.
TABLES: dict[str, list[tuple[str, list[_Col]]]] = {
    "accelerators": [
        ("dense peak TFLOP/s, memory (GB, GB/s), power (W), price (USD, USD per hour)", [
            _KEY, _Col("released", _date("release_date")),
            _Col("fp32", _get("fp32_tflops")), _Col("tf32", _get("tf32_tflops")),
            _Col("bf16", _get("bf16_tflops")), _Col("fp8", _get("fp8_tflops")),
            _Col("GB", _get("memory_gb")), _Col("GB/s", _get("memory_bw_gb_s")), _Col("W", _get("tdp_w")),
            _Col("USD", _get("purchase_price_usd")), _Col("USD/h", _get("cloud_usd_per_hour")),
        ]),
        ("default system (links by key: simulator catalog links) and name", [
            _KEY, _Col("scale-up", _text("default_intra_link")), _Col("scale-out", _text("default_inter_link")),
            _Col("/node", _get("default_devices_per_node")), _Col("name", _text("name"), text=True),
        ]),
    ],
    "links": [
        ("bandwidth per device and direction (GB/s), latency (us)", [
            _KEY, _Col("year", _get("year")), _Col("GB/s", _get("gb_s_per_direction")),
            _Col("us", _get("latency_us")), _Col("torus", _text("torus")), _Col("name", _text("name"), text=True),
        ]),
    ],
    "models": [
        ("built-in models (experts: routed / active per token)", [
            _KEY, _Col("kind", _text("kind")), _Col("params", _get("params", _count)),
            _Col("layers", _get("layers")), _Col("hidden", _get("hidden")), _Col("heads", _get("heads")),
            _Col("seq", _get("seq_len")), _Col("experts", _experts),
        ]),
    ],
    "techniques": [
        ("parallel techniques and the date of their earliest evidence", [
            _KEY, _Col("available", _available), _Col("name", _text("name"), text=True),
        ]),
    ],
    "run-facts": [
        ("input rows that are facts of a training run (withheld when that run is scored; * a scored run)", [
            _Col("file", _text("file")), _Col("key", _text("key")),
            _Col("runs", lambda r: " ".join(x + ("*" if x in r["scored"] else "") for x in r["runs"])),
            _Col("what", _text("what"), text=True),
        ]),
    ],
    "actors": [
        ("actors: who trained, from when, on which devices, how they paid", [
            _KEY, _Col("kind", _text("kind")), _Col("since", _date("since")), _Col("until", _date("until")),
            _Col("flagship", _date("flagship_from")), _Col("pools", _text("pools"), text=True),
        ]),
    ],
    "stacks": [
        ("software stacks (ZeRO: most / most with pipeline / default; flags below)", [
            _KEY, _Col("since", _date("since")),
            _Col("ZeRO", lambda r: f"{r['max_zero']}/{r['max_zero_with_pipeline']}/{r['zero_default']}"),
            _Col("flags", _flags), _Col("attention kernel", _attention, text=True), _Col("name", _text("name"), text=True),
        ]),
    ],
    "kernels": [
        ("published kernel rates (TFLOP/s): device.precision.matmul at its best shape, or the fused attention "
         "kernel.direction.sequence length", [
            _KEY, _Col("TFLOP/s", _get("achieved_tflops")), _Col("peak", _get("peak_tflops")),
            _Col("of peak", _get("fraction_of_peak")),
        ]),
    ],
}


def _footnotes(kind: str, rows: list[dict]) -> list[str]:
    if kind == "techniques":
        return [f"* {r['key']}: first shown by a run ({r['first_use_run']}); withheld when that run is scored"
                for r in rows if r["first_use_run"]]
    if kind == "stacks":
        return ["flags: " + ", ".join(f"{letter}={meaning}" for letter, meaning in STACK_FLAGS.values())
                + "; -=not offered"]
    return []


def _widths(cols: list[_Col], cells: list[list[str]], width: int | None) -> list[int]:
    """Column widths: numbers and keys at their full width, text columns sharing what is left
    (at least 8 characters each, never more than they need). `width` None: every column in full."""
    full = [max([len(c.header)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    if width is None:
        return full
    fixed = sum(w for w, c in zip(full, cols, strict=True) if not c.text) + (len(cols) - 1)  # one space between
    texts = [i for i, c in enumerate(cols) if c.text]
    left = max(width - fixed, 8 * len(texts))
    widths = list(full)
    # give each text column its share; a column that needs less gives the rest to the others
    pending = sorted(texts, key=lambda i: full[i] / cols[i].share)
    for n, i in enumerate(pending):
        shares = sum(cols[j].share for j in pending[n:])
        widths[i] = max(min(full[i], math.floor(left * cols[i].share / shares)), min(8, full[i]))
        left -= widths[i]
    return widths


def _table(cols: list[_Col], rows: list[dict], width: int | None) -> tuple[Table, int]:
    cells = [[c.cell(r) for c in cols] for r in rows]
    widths = _widths(cols, cells, width)
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0), pad_edge=False, header_style="bold")
    for c, w in zip(cols, widths, strict=True):
        numeric = not c.text and c is not _KEY and all(_is_number(row[cols.index(c)]) for row in cells)
        t.add_column(c.header, width=w, no_wrap=True, overflow="ellipsis", justify="right" if numeric else "left")
    for row in cells:
        t.add_row(*(Text(cell) for cell in row))
    return t, sum(widths) + len(cols) - 1


def _is_number(cell: str) -> bool:
    """A number, a count (175B), a ratio (256/8), a shape (16x16x16) or '-': right-aligned."""
    return bool(re.fullmatch(r"-|[\d.]+[kMBT]?|\d+(?:[/x]\d+)+", cell))


def _terminal_width() -> int:
    """The width to fit: the terminal's, else $COLUMNS, else 80 (at most the console's width)."""
    if out.is_terminal:
        return out.width
    columns = os.environ.get("COLUMNS", "")
    return min(int(columns) if columns.isdigit() and int(columns) > 0 else 80, out.width)


def _full_width(cols: list[_Col], rows: list[dict]) -> int:
    return sum(max([len(c.header)] + [len(c.cell(r)) for r in rows]) for c in cols) + len(cols) - 1


def render_catalog(kind: str, rows: list[dict], width: int | None) -> list[tuple[str, Table, int]]:
    """(title, table, its width) of each table of `kind` to fit `width` (None: nothing cut, --wide).

    The source joins the last table when it gets at least 40 characters there (its other text
    columns in full), else it gets a table of its own (key and source).
    """
    layout = [(title, list(cols)) for title, cols in TABLES[kind]]
    title, last = layout[-1]
    if width is None or _full_width(last, rows) + 1 + _SOURCE_MIN <= width:
        layout[-1] = (f"{title}, source", [*last, _SOURCE])
    else:
        layout.append(("source", [_KEY, _SOURCE]))
    return [(title, *_table(cols, rows, width)) for title, cols in layout]


#: Tables of the frontier's own catalog (listed through the frontier's loaders).
FRONTIER_KINDS = ("run-facts", "actors")


def _frontier_listing(kind: str) -> list[dict]:
    if kind == "run-facts":
        from simulator.frontier.ledger import run_facts

        return [dict(r) for r in run_facts()]
    from simulator.frontier.actors import all_actors

    return [{"key": a.key, "name": a.name, "kind": a.kind, "since": a.since.isoformat(),
             "until": a.until.isoformat() if a.until else None,
             "flagship_from": a.flagship_from.isoformat() if a.flagship_from else None,
             "pools": ";".join(p + (f"@{d.isoformat()}" if d else "") for p, d in a.pools),
             "price_basis": a.price_basis, "budget_basis": a.budget_basis, "sites_from": a.sites_from,
             "source": a.source} for a in all_actors()]


@app.command("catalog")
def catalog(
    kind: str = typer.Argument(..., metavar="KIND", help=f"What to list: {', '.join(KINDS + FRONTIER_KINDS)}, or unverified (the rows flagged 'verify', "
                        "'from memory' or 'assumption', by file)."),
    as_json: bool = typer.Option(False, "--json", help="Print every row as JSON, every field in full."),
    wide: bool = typer.Option(False, "--wide", help="Names and sources in full (lines longer than the terminal)."),
) -> None:
    """List the packaged catalog: every row with its key numbers and its source."""
    wanted = str(kind).strip().lower().replace("_", "-")
    if wanted == "unverified":
        _unverified(as_json)
        return
    try:
        if wanted in FRONTIER_KINDS or wanted in ("run-fact", "actor"):
            kind = wanted if wanted in FRONTIER_KINDS else f"{wanted}s"
            rows = _frontier_listing(kind)
        else:
            kind = catalog_kind(kind)
            rows = catalog_listing(kind)
    except ValueError as exc:  # an unknown kind, or a damaged package file: one line naming file, key and column
        message = str(exc)
        if message.startswith("unknown catalog"):
            message = f"unknown catalog {kind!r}; one of: {', '.join(KINDS + FRONTIER_KINDS)}"
        raise BadInput(message) from None
    if as_json:
        out.print_json(_json({"kind": kind, "rows": rows}))
        return
    width = None if wide else _terminal_width()
    tables = render_catalog(kind, rows, width)
    console = Console(file=out.file, width=max([width or 0] + [w for _, _, w in tables]), highlight=False,
                      markup=False, force_terminal=out.is_terminal or None, no_color=out.no_color)
    console.print(f"{kind}: {len(rows)} rows (--json or --wide for every field in full)")
    for title, table, _ in tables:
        console.print()
        console.print(title)
        console.print(table)
    notes = _footnotes(kind, rows)
    if notes:
        console.print()
    for line in notes:
        console.print(line)


def _unverified(as_json: bool) -> None:
    """The catalog rows flagged as not yet checked against a source, by file."""
    from collections import Counter

    from simulator.catalog.unverified import catalog_rows_flagged

    rows, total = catalog_rows_flagged()
    if as_json:
        out.print_json(_json({"kind": "unverified", "flagged": len(rows), "rows_in_catalog": total, "rows": list(rows)}))
        return
    for r in rows:
        out.print(f"{r['file']}:{r['row']} {r['key']} [{r['flag']}] {r['text']}", soft_wrap=True)
    by_file = Counter(r["file"] for r in rows)
    out.print(", ".join(f"{f} {n}" for f, n in by_file.most_common()), soft_wrap=True)
    out.print(f"{len(rows)} of {total} catalog rows ({100 * len(rows) / total:.0f}%) are flagged 'verify', "
              "'from memory' or 'assumption'", soft_wrap=True)
