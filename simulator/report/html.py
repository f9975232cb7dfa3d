"""One self-contained HTML page from a run folder: its figures, tables and metadata.

Figures (PNG) are embedded as base64 data URIs and tables (CSV, first rows) as HTML
tables, so the page needs no other file and no network.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

MAX_ROWS = 60
STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;font-size:12px;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 6px}
th{background:#f0f0f0}img{max-width:100%;border:1px solid #ddd}figure{margin:1em 0 2em}
figcaption{font-size:13px;color:#555}code{background:#f4f4f4;padding:1px 4px}"""


def _table(data: dict) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v, default=str) if isinstance(v, (dict, list)) else str(v))}</td></tr>"
                   for k, v in data.items())
    return f"<table>{rows}</table>"


def build_report(run_dir: Path) -> str:
    """The HTML text for `run_dir` (figures, CSV tables, summary and meta)."""
    run_dir = Path(run_dir)
    title = f"Run {run_dir.name} ({run_dir.parent.name})"
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    for name in ("summary.json", "meta.json"):
        path = run_dir / name
        if path.exists():
            data = json.loads(path.read_text())
            data = {k: v for k, v in data.items() if k not in ("rows", "table")}
            parts.append(f"<h2>{name}</h2>{_table(data)}")
    for png in sorted(run_dir.glob("*.png")):
        b64 = base64.b64encode(png.read_bytes()).decode("ascii")
        parts.append(f"<figure><img alt='{html.escape(png.stem)}' src='data:image/png;base64,{b64}'>"
                     f"<figcaption>{html.escape(png.name)}</figcaption></figure>")
    for csv_path in sorted(run_dir.glob("*.csv")):
        frame = pd.read_csv(csv_path)
        note = f" (first {MAX_ROWS} of {len(frame)} rows)" if len(frame) > MAX_ROWS else ""
        parts.append(f"<h2>{html.escape(csv_path.name)}{note}</h2>"
                     + frame.head(MAX_ROWS).to_html(index=False, na_rep="", float_format=lambda x: f"{x:.4g}"))
    scenario = run_dir / "scenario.toml"
    if scenario.exists():
        parts.append(f"<h2>scenario.toml</h2><pre>{html.escape(scenario.read_text())}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)
