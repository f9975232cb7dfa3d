"""Catalog rows flagged as not yet checked against their source (issue 22: counted, shrinking).

A row is flagged when any of its cells says "verify", "from memory" or "assumption": the
words the catalog uses for a number read second-hand, recalled, or chosen without a
source. `simulator catalog unverified` lists them by file; a test keeps the count from
growing (resolve a row from its source, and the ratchet goes down).
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from functools import cache
from importlib.resources import files

FLAGS = re.compile(r"verify|from memory|assumption", re.IGNORECASE)


def _text(value) -> str:
    if isinstance(value, dict):
        return " ".join(_text(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    return str(value)


@cache
def catalog_rows_flagged() -> tuple[tuple[dict, ...], int]:
    """(the flagged rows: {file, row, key, flag, text}, the number of rows in all files).
    `row` is the CSV line (header = 1) or the TOML table; `text` the flagged cell, cut."""
    out, total = [], 0
    for path in sorted(files("simulator.catalog").iterdir(), key=lambda p: p.name):
        name = path.name
        if name.endswith(".csv"):
            rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
            entries = [(str(i), next(iter(r.values()), "") or "", r) for i, r in enumerate(rows, start=2)]
        elif name.endswith(".toml"):
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            entries = [(f"[{k}]", k, v) for k, v in data.items() if isinstance(v, dict)]
        else:
            continue
        total += len(entries)
        for row, key, entry in entries:
            cells = entry.values() if isinstance(entry, dict) else [entry]
            hit = next((_text(c) for c in cells if FLAGS.search(_text(c))), None)
            if hit is not None:
                m = FLAGS.search(hit)
                lo = max(0, m.start() - 60)
                out.append({"file": name, "row": row, "key": key, "flag": m.group(0).lower(),
                            "text": ("..." if lo else "") + " ".join(hit[lo:m.end() + 60].split())})
    return tuple(out), total
