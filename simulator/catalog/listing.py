"""The packaged catalog as plain rows, for `simulator catalog KIND` and for notebooks.

One function, `catalog_listing(kind)`: every row of one table (accelerators, links,
models, techniques, stacks, kernels) as a dict of JSON-ready values in the units of the
catalog files (TFLOP/s, GB, GB/s, W, USD, us; dates as ISO strings), with its full
source. Rows are read through the validating loaders of each table, so a row listed
here is a row the simulator can use. Nothing is read at import time.
"""

from __future__ import annotations

from simulator.core.specs import GenericNetwork

#: The tables `catalog_listing` knows, in the order the CLI lists them.
KINDS = ("accelerators", "links", "models", "techniques", "stacks", "kernels")

# stack behaviours: field -> (flag letter in the CLI's compact table, meaning)
STACK_FLAGS = {
    "interleaved": ("i", "interleaved 1F1B"),
    "uneven_stages": ("u", "uneven pipeline stages"),
    "sequence_parallel": ("s", "sequence parallelism"),
    "sequence_parallel_default": ("S", "sequence parallelism by default"),
    "tp_overlap": ("t", "tp collectives overlapped"),
    "dp_overlap": ("d", "dp gradient reduction overlapped"),
    "param_gather_overlap": ("g", "ZeRO weight gather overlapped"),
    "context_parallel": ("c", "context parallelism"),
    "cp_ring": ("r", "cp ring under attention"),
    "expert_parallel": ("e", "expert parallelism"),
    "offload": ("o", "optimizer offload"),
}


def catalog_kind(text: str) -> str:
    """The table named by `text` (case-insensitive; singular accepted: 'model');
    ValueError (one line, listing the kinds) otherwise."""
    wanted = str(text).strip().lower()
    for kind in KINDS:
        if wanted in (kind, kind.removesuffix("s")):
            return kind
    raise ValueError(f"unknown catalog {text!r}; one of: {', '.join(KINDS)}")


def catalog_listing(kind: str) -> list[dict]:
    """Every row of the catalog table `kind` (see KINDS; singular accepted), with its source.

    ValueError when `kind` names no table.

    >>> rows = catalog_listing("link")  # singular accepted
    >>> rows[0]["key"], "source" in rows[0]
    ('pcie1', True)
    """
    return _LISTERS[catalog_kind(kind)]()


def _iso(d) -> str | None:
    return None if d is None else d.isoformat()


def _accelerators() -> list[dict]:
    from simulator.catalog import hardware as hw

    hw.accelerators()  # validates the whole file first
    links = hw.links()
    rows = []
    for key, r in hw._accelerator_rows().items():
        def num(col: str, kind=float, r=r):
            """A number of the accelerator row, checked as the catalog reads it."""
            return hw._num(r, col, hw.ACCELERATORS_CSV, kind)

        for col in ("default_intra_link", "default_inter_link"):
            if r[col] and r[col] not in links:
                raise ValueError(f"{hw.ACCELERATORS_CSV}: key={key!r}: column {col!r}: link {r[col]!r} "
                                 f"not in {hw.LINKS_CSV}")
        rows.append({
            "key": key, "name": r["name"], "vendor": r["vendor"], "kind": r["kind"],
            "release_date": r["release_date"] or None,
            "fp32_tflops": num("fp32_tflops"), "tf32_tflops": num("tf32_tflops"),
            "bf16_tflops": num("bf16_tflops"), "fp8_tflops": num("fp8_tflops"),
            "memory_gb": num("memory_gb"), "memory_bw_gb_s": num("memory_bw_gb_s"),
            "scale_up_gb_s_per_direction": num("scale_up_gb_s_per_direction"),
            "scale_up_domain": num("scale_up_domain", int), "tdp_w": num("tdp_w"),
            "purchase_price_usd": num("purchase_price_usd"), "cloud_usd_per_hour": num("cloud_usd_per_hour"),
            "default_intra_link": r["default_intra_link"] or None,
            "default_inter_link": r["default_inter_link"] or None,
            "default_devices_per_node": num("default_devices_per_node", int),
            "source": r["source"], "verification": r.get("verification", ""), "notes": r.get("notes", ""),
        })  # fmt: skip
    return rows


def _links() -> list[dict]:
    from simulator.catalog import hardware as hw

    parsed = hw.links()  # validates bandwidth, latency and torus
    rows = []
    for r in hw._rows(hw._text(hw.LINKS_CSV), hw.LINKS_CSV):
        link = parsed[r["key"]]
        rows.append({
            "key": r["key"], "name": r["name"], "year": hw._num(r, "year", hw.LINKS_CSV, int),
            "gb_s_per_direction": hw._num(r, "gb_s_per_direction", hw.LINKS_CSV),
            "latency_us": hw._num(r, "latency_us", hw.LINKS_CSV),
            "torus": "x".join(str(d) for d in link.torus) or None,
            "source": r["source"], "verification": r.get("verification", ""), "notes": r.get("notes", ""),
        })  # fmt: skip
    return rows


def _models() -> list[dict]:
    from simulator.catalog.models import builtin_models, model_notes

    notes = model_notes()
    rows = []
    for key, m in builtin_models().items():
        if isinstance(m, GenericNetwork):
            row = {"key": key, "kind": "generic", "params": m.params, "layers": m.layers, "hidden": None,
                   "heads": None, "kv_heads": None, "seq_len": None, "vocab": None, "experts": 0, "top_k": None,
                   "flops_per_example": m.flops_per_example}
        else:
            row = {"key": key, "kind": "transformer", "params": m.params, "layers": m.layers, "hidden": m.hidden,
                   "heads": m.heads, "kv_heads": m.n_kv_heads, "seq_len": m.seq_len, "vocab": m.vocab,
                   "experts": m.experts, "top_k": m.top_k if m.experts else None, "flops_per_example": None}
        rows.append({**row, "source": m.source, "note": notes.get(key, "")})
    return rows


def _techniques() -> list[dict]:
    from simulator.catalog.eras import catalog_rows
    from simulator.catalog.techniques import TECHNIQUES_CSV, techniques

    parsed = techniques()  # validates the dates
    rows = []
    for r in catalog_rows(TECHNIQUES_CSV):
        t = parsed[r["key"]]
        first = t.first_use()
        rows.append({
            "key": t.key, "name": t.name, "published": _iso(t.published), "available": _iso(t.available()),
            "first_use": first.key, "first_use_kind": first.kind, "first_use_run": ";".join(sorted(first.run_fact_of)),
            "uses": [{"key": u.key, "date": _iso(u.at), "kind": u.kind, "run_fact_of": sorted(u.run_fact_of),
                      "source": u.source} for u in t.uses],
            "what_it_unlocks": t.what_it_unlocks, "max_devices_rule": t.max_devices_rule, "source": t.source,
            "verification": r.get("verification", ""), "notes": r.get("notes", ""),
        })  # fmt: skip
    return rows


def _stacks() -> list[dict]:
    import tomllib
    from importlib.resources import files

    from simulator.catalog.hardware import accelerators
    from simulator.catalog.stacks import STACKS_TOML, stacks

    keys = {a.name: k for k, a in accelerators().items()}  # the stack names a device by its catalog key

    evidence = {k: t["evidence"] for k, t in
                tomllib.loads(files("simulator.catalog").joinpath(STACKS_TOML).read_text(encoding="utf-8")).items()}
    rows = []
    for key, s in stacks().items():
        rows.append({
            "key": key, "name": s.name, "since": _iso(s.since), "max_zero": s.max_zero,
            "max_zero_with_pipeline": s.max_zero_with_pipeline, "zero_default": s.zero_default,
            **{f: getattr(s, f) for f in STACK_FLAGS}, "attention_kernel": {keys.get(n, n): k for n, k in s.attention_kernel},
            "evidence": list(evidence.get(key, ())), "source": s.source,
        })  # fmt: skip
    return rows


def _kernels() -> list[dict]:
    """kernel_benchmarks.csv: published matmul and fused-attention rates, per device."""
    import csv
    import io
    from importlib.resources import files

    from simulator.catalog.efficiency import KERNELS_CSV, default_efficiency

    default_efficiency()  # validates the file first
    text = files("simulator.catalog").joinpath(KERNELS_CSV).read_text(encoding="utf-8")
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        achieved, peak = float(r["achieved_tflops"]), float(r["peak_tflops"])
        rows.append({"key": r["key"], "device": r["device"], "precision": r["precision"], "kernel": r["kernel"],
                     "seq_len": int(float(r["seq_len"])) if r.get("seq_len") else None, "achieved_tflops": achieved,
                     "peak_tflops": peak, "fraction_of_peak": round(achieved / peak, 4),
                     "verification": r["verification"], "source": r["source"]})
    return rows


_LISTERS = {"accelerators": _accelerators, "links": _links, "models": _models, "techniques": _techniques,
            "stacks": _stacks, "kernels": _kernels}
