"""Typed loaders for the packaged hardware catalog (accelerators, links, calibration).

The CSV files next to this module hold human units (TFLOP/s, GB, GB/s, us); they are
converted to SI exactly once, here, with the constants of `simulator.core.units`. Nothing is
read at import time: each table is parsed on first use and cached.

Conventions of the files (see their `source`, `verification` and `notes` columns):
- an empty cell means "unknown"; it becomes None (or math.nan for memory, below);
- link bandwidths are per device and per direction;
- `bf16_tflops` is the dense 16-bit tensor peak and fills both BF16 and FP16.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
from datetime import date
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from simulator.core.specs import Accelerator, Link, Precision
from simulator.core.units import GB, MEGA, TERA, name_list

ACCELERATORS_CSV = "accelerators.csv"
LINKS_CSV = "links.csv"
CALIBRATION_CSV = "calibration.csv"

_PEAK_COLUMNS = {"fp32_tflops": (Precision.FP32,), "tf32_tflops": (Precision.TF32,),
                 "bf16_tflops": (Precision.BF16, Precision.FP16), "fp8_tflops": (Precision.FP8,)}


# ------------------------------------------------------------------ parsing helpers
def _rows(text: str, filename: str) -> list[dict[str, str]]:
    """CSV rows with stripped cells; duplicate or empty keys raise ValueError."""
    rows = [{k: (v or "").strip() for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]
    seen: set[str] = set()
    for r in rows:
        if not r.get("key") or r["key"] in seen:
            raise ValueError(f"{filename}: key={r.get('key')!r}: empty or duplicate key")
        seen.add(r["key"])
    return rows


def _num(row: dict[str, str], col: str, filename: str, kind=float):
    """The cell as float (or int); None when empty; ValueError naming file/key/column/value."""
    value = row.get(col, "")
    if value == "":
        return None
    try:
        number = kind(value)
    except ValueError:
        raise ValueError(f"{filename}: key={row['key']!r}: column {col!r}: "
                         f"not {'an integer' if kind is int else 'a number'}: {value!r}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"{filename}: key={row['key']!r}: column {col!r}: not finite: {value!r}")
    return number


def _scaled(row, col, filename, scale):
    value = _num(row, col, filename)
    return None if value is None else value * scale


def _date(row: dict[str, str], filename: str) -> date | None:
    value = row.get("release_date", "")
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise ValueError(f"{filename}: key={row['key']!r}: column 'release_date': "
                         f"not an ISO date: {value!r}") from None


def _text(name: str) -> str:
    return files("simulator.catalog").joinpath(name).read_text(encoding="utf-8")


def _parse_accelerators(text: str, filename: str = ACCELERATORS_CSV) -> dict[str, Accelerator]:
    """Accelerators from CSV text (the format of accelerators.csv), keyed by `key`.

    Missing memory becomes `math.nan` (unknown: any memory check then fails, never
    passes silently); other missing quantities become None.
    """
    out = {}
    for r in _rows(text, filename):
        peaks = {}
        for col, precisions in _PEAK_COLUMNS.items():
            value = _scaled(r, col, filename, TERA)
            peaks.update({p: value for p in precisions if value is not None})
        memory = _scaled(r, "memory_gb", filename, GB)
        out[r["key"]] = Accelerator(
            name=r["name"], vendor=r["vendor"], kind=r["kind"], release_date=_date(r, filename),
            peak_flops_per_s=peaks, memory_bytes=math.nan if memory is None else memory,
            memory_bandwidth_bytes_per_s=_scaled(r, "memory_bw_gb_s", filename, GB),
            scale_up_bandwidth_bytes_per_s=_scaled(r, "scale_up_gb_s_per_direction", filename, GB),
            scale_up_domain=_num(r, "scale_up_domain", filename, int),
            tdp_w=_num(r, "tdp_w", filename),
            purchase_price_usd=_num(r, "purchase_price_usd", filename),
            cloud_price_usd_per_hour=_num(r, "cloud_usd_per_hour", filename),
            source=r["source"])
    return out


def _parse_links(text: str, filename: str = LINKS_CSV) -> dict[str, Link]:
    """Links from CSV text (the format of links.csv); bandwidth and latency are required."""
    out = {}
    for r in _rows(text, filename):
        bw, lat = _num(r, "gb_s_per_direction", filename), _num(r, "latency_us", filename)
        if bw is None or lat is None:
            raise ValueError(f"{filename}: key={r['key']!r}: gb_s_per_direction and latency_us "
                             "are required")
        shape = (r.get("torus") or "").strip()
        try:
            torus = tuple(int(d) for d in shape.split("x")) if shape else ()
        except ValueError:
            raise ValueError(f"{filename}: key={r['key']!r}: torus={shape!r}: must be sizes joined by x (16x16x16)") from None
        out[r["key"]] = Link(name=r["name"], bandwidth_bytes_per_s=bw * GB, latency_s=lat / MEGA,
                             source=r["source"], torus=torus)
    return out


# ------------------------------------------------------------------ cached tables
@cache
def _accelerators() -> dict[str, Accelerator]:
    return _parse_accelerators(_text(ACCELERATORS_CSV))


@cache
def _accelerator_rows() -> dict[str, dict[str, str]]:
    return {r["key"]: r for r in _rows(_text(ACCELERATORS_CSV), ACCELERATORS_CSV)}


@cache
def _links() -> dict[str, Link]:
    return _parse_links(_text(LINKS_CSV))


def accelerators() -> dict[str, Accelerator]:
    """All catalog accelerators by key (a fresh dict of shared frozen objects).

    >>> "h100-sxm" in accelerators()
    True
    """
    return dict(_accelerators())


def links() -> dict[str, Link]:
    """All catalog link tiers by key (a fresh dict of shared frozen objects)."""
    return dict(_links())


def calibration_csv_path() -> Traversable:
    """The packaged copy of the measured-throughput table (mfu_calibration.csv)."""
    return files("simulator.catalog").joinpath(CALIBRATION_CSV)


def find_link(key_or_name: str) -> Link:
    """A link by key or exact name (case-insensitive); KeyError lists the allowed keys.

    >>> find_link("nvlink4").bandwidth_bytes_per_s / 1e9  # GB/s per device and direction
    450.0
    """
    wanted = str(key_or_name).strip().lower()
    for key, link in _links().items():
        if wanted in (key, link.name.lower()):
            return link
    raise KeyError(f"unknown link {key_or_name!r}; allowed: {name_list(_links(), listed_in='simulator catalog links')}")


# ------------------------------------------------------------------ matching by meaning
_RATE = re.compile(r"\d+(?:\.\d+)?\s*[gmt]b(?:ps|it/s|/s)", re.IGNORECASE)
_MEMORY = re.compile(r"^\d+gb$")
# brand and form-factor words: they add to a score but never identify an accelerator
_GENERIC = {"nvidia", "amd", "google", "intel", "amazon", "aws", "habana", "tesla", "geforce",
            "gtx", "instinct", "tpu", "gpu", "sxm", "sxm2", "sxm4", "sxm5", "pcie"}


def _tokens(text: str) -> list[str]:
    """Lower-case words of `text`, with rates ('200Gb/s', '400 Gbps') removed.

    '80 GB' -> '80gb' and 'GTX 580' -> 'gtx580' (a letters word followed by a number word
    is joined), so spaced and unspaced spellings give the same token.
    """
    text = re.sub(r"(\d+)\s*gb\b", r"\1gb", _RATE.sub(" ", text.lower()))
    out: list[str] = []
    for w in re.findall(r"[a-z0-9]+", text):
        if out and w.isdigit() and out[-1].isalpha() and len(out[-1]) > 1:
            out[-1] += w
        else:
            out.append(w)
    return out


@cache
def _catalog_tokens() -> dict[str, dict[str, float]]:
    """Per key: token -> weight. Key tokens weigh 2, name/vendor/memory tokens 1; every
    weight is divided by the number of accelerators carrying the token (rarer = stronger)."""
    raw = {}
    for key, acc in _accelerators().items():
        name = re.sub(r"\(.*?\)", " ", acc.name)  # asides like '(HGX, 1000 W)' do not name
        mem = "" if math.isnan(acc.memory_bytes) else f"{round(acc.memory_bytes / GB)}gb"
        tokens = {t: 1.0 for t in _tokens(f"{name} {acc.vendor} {mem}")}
        tokens.update({t: 2.0 for t in _tokens(key.replace("-", " "))})
        raw[key] = tokens
    df: dict[str, int] = {}
    for tokens in raw.values():
        for t in tokens:
            df[t] = df.get(t, 0) + 1
    return {key: {t: w / df[t] for t, w in tokens.items()} for key, tokens in raw.items()}


def _match_key(text: str) -> str:
    """Catalog key named by `text` (see find_accelerator); KeyError if none."""
    wanted = str(text).strip()
    rows = _accelerator_rows()
    for key, row in rows.items():
        if wanted.lower() in (key, row["name"].lower()):
            return key
    words = set(_tokens(wanted))
    best = []
    for key, weights in _catalog_tokens().items():
        shared = words & weights.keys()
        if any(t not in _GENERIC and not _MEMORY.match(t) and len(t) > 1 for t in shared):
            best.append((sum(sorted(weights[t] for t in shared)), key))
    if not best:
        weights = _catalog_tokens()
        close = sorted(rows, key=lambda k: (-sum(weights[k].get(t, 0.0) for t in words),
                                            -difflib.SequenceMatcher(None, wanted.lower(), k).ratio(), k))
        raise KeyError(f"no catalog accelerator named in {wanted!r}; close keys: {', '.join(close[:3])} "
                       "(simulator catalog accelerators)")
    top = max(score for score, _ in best)
    tied = sorted(key for score, key in best if math.isclose(score, top, rel_tol=1e-9))
    if len(tied) > 1:
        gb = [_accelerators()[k].memory_bytes / GB for k in tied]
        by_memory = all(math.isfinite(m) and m == round(m) for m in gb) and len(set(gb)) == len(gb)
        hint = f" (its key, or its memory: {' or '.join(f'{m:.0f}GB' for m in gb)})" if by_memory else " by its key"
        raise KeyError(f"{wanted!r} is ambiguous: {', '.join(tied)}; name one{hint}")
    return tied[0]


def find_accelerator(text: str) -> Accelerator:
    """The accelerator named by a key, an exact name, or free text.

    Free text (e.g. "NVIDIA A100 80GB SXM (DGX A100, Selene; 8x HDR 200Gb/s IB per node)")
    is matched by tokens: the text must share at least one identifying token (a model
    token such as 'a100', 'v4', 'mi300x', 'gtx580'; not a brand, form factor or memory
    size) with an accelerator. Candidates are ranked by the summed weight of shared tokens
    (key tokens x2, each divided by how many accelerators carry it), so a memory size in
    the text ('32GB') picks that variant, and rates like '200Gb/s' are ignored.
    KeyError (one line) when nothing is named (listing close keys), or when several
    accelerators match equally, i.e. a family named without a distinguishing token
    ("A100", "V100", "GTX 580"): "'A100' is ambiguous: a100-40gb, a100-80gb; name one ...".
    A free text that names the variant ("NVIDIA A100 80GB SXM (Selene)") is not ambiguous.

    >>> find_accelerator("h100-sxm").name
    'NVIDIA H100 SXM5 80GB'
    >>> find_accelerator("NVIDIA H100 SXM5 80GB").name  # an exact name works too
    'NVIDIA H100 SXM5 80GB'
    """
    return _accelerators()[_match_key(text)]


HOSTS_CSV = "hosts.csv"


@cache
def _hosts() -> dict[str, tuple[Link, float]]:
    out = {}
    for r in _rows(_text(HOSTS_CSV), HOSTS_CSV):
        bw = _num(r, "host_memory_gb_s", HOSTS_CSV)
        if bw is None or r["host_link"] not in _links():
            raise ValueError(f"{HOSTS_CSV}: key={r['key']!r}: host_link {r['host_link']!r} and host_memory_gb_s "
                             "must name a link and give a number")
        out[_accelerators()[r["key"]].name] = (_links()[r["host_link"]], bw * GB)
    return out


def host_of(accelerator_name: str) -> tuple[Link, float] | None:
    """(link to the host, host memory bandwidth per node in bytes/s) of the system an
    accelerator shipped in (catalog/hosts.csv), or None when not documented."""
    return _hosts().get(accelerator_name)


def cluster_host(cluster) -> tuple[Link, float] | None:
    """The host of a cluster's devices: the one it names (`Cluster.host`), else the
    documented system of its accelerator (`host_of`), else None. The one lookup the cost
    model, the structural rules and the search use."""
    return cluster.host if cluster.host is not None else host_of(cluster.accelerator.name)


def default_links(acc_key: str) -> tuple[Link | None, Link | None, int | None]:
    """(intra link, inter link, devices per node) of the system the accelerator shipped in.

    `acc_key` is a key (or any text find_accelerator accepts). None marks an unknown
    default (see the row's notes): the caller must then ask the user for it.

    >>> intra, inter, per_node = default_links("h100-sxm")
    >>> intra.name, per_node
    ('NVLink 4.0 (18 links) + NVSwitch', 8)
    """
    key = _match_key(acc_key)
    row, table = _accelerator_rows()[key], _links()
    out = []
    for col in ("default_intra_link", "default_inter_link"):
        if row[col] and row[col] not in table:
            raise KeyError(f"{ACCELERATORS_CSV}: key={key!r}: column {col!r}: link {row[col]!r} "
                           f"not in {LINKS_CSV}")
        out.append(table[row[col]] if row[col] else None)
    return out[0], out[1], _num(row, "default_devices_per_node", ACCELERATORS_CSV, int)
