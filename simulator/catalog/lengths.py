"""Published pre-training sequence lengths of frontier-scale models (catalog/pretraining_lengths.csv).

The projection draws a sample's sequence length among them with equal weights (structural
uncertainty: which length the next frontier runs train their main stage at); the history
reads the dated series of its workload families (workloads.toml) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from simulator.catalog.eras import catalog_date, catalog_rows

LENGTHS_CSV = "pretraining_lengths.csv"


@dataclass(frozen=True)
class Length:
    key: str
    model: str
    published: date
    seq_len: int
    source: str


def parse_lengths(rows: list[dict[str, str]], name: str = LENGTHS_CSV) -> dict[str, Length]:
    """key -> Length; a length that is not a whole number >= 1 raises ValueError naming the file,
    the key and the value."""
    out = {}
    for r in rows:
        value = r.get("seq_len", "")
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"{name}: key={r['key']!r}: column 'seq_len': not a whole number >= 1: {value!r}")
        out[r["key"]] = Length(r["key"], r.get("model", ""), catalog_date(r, "published", name, required=True), n,
                               r["source"])
    return out


@cache
def pretraining_lengths() -> dict[str, Length]:
    """The packaged lengths (catalog/pretraining_lengths.csv)."""
    return parse_lengths(catalog_rows(LENGTHS_CSV))
