"""Two runs side by side: a what-if (B) against its baseline (A), as a table and a figure.

What can be compared (the same kind on both sides):

- frontier runs: the run folders of `simulator frontier`, `simulator reproduce` (and
  `explain`), or their frontier.csv: per date both share, the ratio B/A of the training
  compute (FLOP), of the device count and of the MFU, and each side's binding constraint;
- projections: the run folders of `simulator project` or their projection.csv: per year,
  the ratio of the median FLOP (and of the 10th and 90th percentiles);
- steps: the JSON that `simulator step --json` prints (saved to a file): per metric (step
  time, MFU, HFU, tokens/s, memory, each part of the step time), the ratio B/A.

The figure shows both curves (log scale) over the ratio B/A per date (log scale, 1 = no
change); a step comparison draws one bar per metric. Anything else, runs of different
kinds, or runs with no date in common: CompareError, one line naming the path.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.report.figures import nothing_to_draw, pyplot, save, text_column

FRONTIER, PROJECTION, STEP = "frontier", "projection", "step"

#: Frontier columns compared (CSV column -> name in the comparison).
FRONTIER_METRICS = {"flop": "flop", "n_devices": "devices", "mfu": "mfu"}
PROJECTION_METRICS = {"flop_median": "flop", "flop_p10": "flop_p10", "flop_p90": "flop_p90"}
#: Step metrics compared, in order (key in the JSON -> name); the breakdown's parts follow.
STEP_METRICS = {"step_time_s": "step time (s)", "mfu": "MFU", "hfu": "HFU", "tokens_per_s": "tokens/s",
                "model_flops": "model FLOP per step", "n_devices": "devices"}


class CompareError(ValueError):
    """The runs cannot be compared: one line naming the path and the problem."""


@dataclass
class RunData:
    """One side of a comparison: its kind, a label and its values."""

    path: Path
    kind: str
    label: str
    frame: pd.DataFrame  # frontier/projection: one row per date (column "key"); step: one row per metric
    scenario: str | None = None
    extra: dict = field(default_factory=dict)


def _scenario_name(folder: Path) -> str | None:
    for name in ("summary.json", "step.json"):
        path = folder / name
        if path.is_file():
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and isinstance(data.get("scenario"), str):
                return data["scenario"]
    toml = folder / "scenario.toml"
    if toml.is_file():
        import tomllib

        try:
            name = tomllib.loads(toml.read_text()).get("name")
        except (OSError, ValueError):
            return None
        return name if isinstance(name, str) else None
    return None


def _read_csv(path: Path, needed: tuple[str, ...], what: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise CompareError(f"{path}: cannot read as CSV: {exc}") from None
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise CompareError(f"{path}: not a {what} (column {', '.join(missing)} missing)")
    return frame


def _frontier(path: Path) -> pd.DataFrame:
    frame = _read_csv(path, ("date", "feasible", "flop"), "frontier CSV")
    try:
        key = pd.to_datetime(frame["date"], format="%Y-%m-%d").dt.date
    except (ValueError, TypeError):
        raise CompareError(f"{path}: column date: not dates (YYYY-MM-DD)") from None
    feasible = frame["feasible"].astype(str).str.lower().isin(("true", "1"))
    out = pd.DataFrame({"key": key, "feasible": feasible})
    for col, name in FRONTIER_METRICS.items():
        values = pd.to_numeric(frame[col], errors="coerce") if col in frame else np.nan
        out[name] = np.where(feasible, values, np.nan)
    for col in ("primary_binding", "device_name", "reason"):
        out[col] = text_column(frame[col]) if col in frame else ""
    return out.drop_duplicates("key").reset_index(drop=True)


def _projection(path: Path) -> pd.DataFrame:
    frame = _read_csv(path, ("year", "flop_median"), "projection CSV")
    out = pd.DataFrame({"key": pd.to_numeric(frame["year"], errors="coerce")})
    if out["key"].isna().any():
        raise CompareError(f"{path}: column year: not years")
    out["key"] = out["key"].astype(int)
    out["feasible"] = True
    for col, name in PROJECTION_METRICS.items():
        out[name] = pd.to_numeric(frame[col], errors="coerce") if col in frame else np.nan
    return out.drop_duplicates("key").reset_index(drop=True)


def _step(path: Path, data: dict) -> pd.DataFrame:
    rows = []
    for key, name in STEP_METRICS.items():
        if isinstance(data.get(key), (int, float)) and not isinstance(data.get(key), bool):
            rows.append((name, float(data[key])))
    for key, value in (data.get("breakdown_s") or {}).items():
        if isinstance(value, (int, float)):
            rows.append(("  " + key.removesuffix("_s").replace("_", " ") + " (s)", float(value)))
    mem = data.get("memory_bytes") or {}
    if isinstance(mem.get("total"), (int, float)):
        rows.append(("memory per device (GB)", float(mem["total"]) / 1e9))
    return pd.DataFrame(rows, columns=["key", "value"])


def read_run(path: Path) -> RunData:
    """One side: a run folder (frontier.csv or projection.csv in it), one of those CSVs, or a step JSON."""
    path = Path(path)
    if not path.exists():
        raise CompareError(f"{path}: no such file or folder")
    if path.is_dir():
        folder = path
        label = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
        if (path / "frontier.csv").is_file():
            kind, frame = FRONTIER, _frontier(path / "frontier.csv")
        elif (path / "projection.csv").is_file():
            kind, frame = PROJECTION, _projection(path / "projection.csv")
        elif (path / "step.json").is_file():
            return read_run(path / "step.json")
        else:
            raise CompareError(f"{path}: not a run folder of frontier, reproduce or project (no frontier.csv or "
                               "projection.csv in it)")
    else:
        folder = path.parent
        label = f"{folder.name}/{path.name}"
        if path.suffix.lower() == ".json":
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise CompareError(f"{path}: cannot read as JSON: {exc}") from None
            if not isinstance(data, dict) or "step_time_s" not in data:
                raise CompareError(f"{path}: not the output of `simulator step --json` (no step_time_s)")
            if not data.get("feasible", True):
                raise CompareError(f"{path}: the step is infeasible ({data.get('detail') or data.get('reason')}): "
                                   "nothing to compare")
            name = data.get("scenario") if isinstance(data.get("scenario"), str) else None
            return RunData(path, STEP, label, _step(path, data), name)
        if path.suffix.lower() != ".csv":
            raise CompareError(f"{path}: not a run folder, a frontier or projection CSV, or a step JSON")
        header = _read_csv(path, (), "CSV").columns
        if "date" in header and "flop" in header:
            kind, frame = FRONTIER, _frontier(path)
        elif "year" in header and "flop_median" in header:
            kind, frame = PROJECTION, _projection(path)
        else:
            raise CompareError(f"{path}: neither a frontier CSV (date, flop) nor a projection CSV (year, flop_median)")
    return RunData(path, kind, label, frame, _scenario_name(folder))


def _ratio(b, a):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.asarray(b, dtype=float) / np.asarray(a, dtype=float)
    return np.where(np.isfinite(r), r, np.nan)


@dataclass
class Comparison:
    """B against A: `table` has one row per shared date (or metric) with A, B and B/A of each metric."""

    a: RunData
    b: RunData
    kind: str
    table: pd.DataFrame
    only_a: int
    only_b: int

    @property
    def metrics(self) -> list[str]:
        """The metrics compared, in the order of the table."""
        if self.kind == FRONTIER:
            return list(FRONTIER_METRICS.values())
        if self.kind == PROJECTION:
            return list(PROJECTION_METRICS.values())
        return ["value"]

    def summary(self) -> dict:
        """Counts, and per metric the geometric mean, smallest and largest ratio with their dates."""
        t = self.table
        out = {"kind": self.kind, "a": str(self.a.path), "b": str(self.b.path), "a_label": self.a.label,
               "b_label": self.b.label, "a_scenario": self.a.scenario, "b_scenario": self.b.scenario,
               "shared": len(t), "only_a": self.only_a, "only_b": self.only_b}
        key = {STEP: "metric", PROJECTION: "year"}.get(self.kind, "date")
        if self.kind != STEP:
            out["feasible_in_both"] = int((t["a_feasible"] & t["b_feasible"]).sum())
            out["infeasible_in_a_only"] = int((~t["a_feasible"] & t["b_feasible"]).sum())
            out["infeasible_in_b_only"] = int((t["a_feasible"] & ~t["b_feasible"]).sum())
        column = "metric" if self.kind == STEP else "date"
        ratios = {}
        for m in self.metrics:
            r = t[f"ratio_{m}"]
            ok = r[r > 0]
            if not len(ok):
                ratios[m] = None
                continue
            ratios[m] = {"geometric_mean": float(np.exp(np.log(ok).mean())),
                         "min": float(ok.min()), f"min_{key}": str(t.loc[ok.idxmin(), column]),
                         "max": float(ok.max()), f"max_{key}": str(t.loc[ok.idxmax(), column]),
                         "unchanged": int((abs(ok - 1) <= 1e-3).sum())}
        out["ratios"] = ratios
        return out


def compare(a: RunData, b: RunData) -> Comparison:
    """B/A per shared date (frontier, projection) or metric (step). CompareError when there is nothing shared."""
    if a.kind != b.kind:
        raise CompareError(f"{b.path}: a {b.kind} run, but {a.path} is a {a.kind} run: compare runs of one kind")
    if a.kind == STEP:
        merged = a.frame.merge(b.frame, on="key", suffixes=("_a", "_b"), sort=False)
        if not len(merged):
            raise CompareError(f"{a.path} and {b.path}: no metric in common")
        table = pd.DataFrame({"metric": merged["key"], "a_value": merged["value_a"], "b_value": merged["value_b"],
                              "ratio_value": _ratio(merged["value_b"], merged["value_a"])})
        return Comparison(a, b, STEP, table, len(a.frame) - len(merged), len(b.frame) - len(merged))
    merged = a.frame.merge(b.frame, on="key", suffixes=("_a", "_b")).sort_values("key").reset_index(drop=True)
    if not len(merged):
        span = _span(a.frame["key"]), _span(b.frame["key"])
        raise CompareError(f"{a.path} ({span[0]}) and {b.path} ({span[1]}): no date in common")
    key = "date" if a.kind == FRONTIER else "year"
    table = pd.DataFrame({"date": merged["key"].astype(str) if key == "date" else merged["key"]})
    table["a_feasible"] = merged["feasible_a"].astype(bool)
    table["b_feasible"] = merged["feasible_b"].astype(bool)
    metrics = FRONTIER_METRICS.values() if a.kind == FRONTIER else PROJECTION_METRICS.values()
    for m in metrics:
        table[f"a_{m}"] = merged[f"{m}_a"]
        table[f"b_{m}"] = merged[f"{m}_b"]
        table[f"ratio_{m}"] = _ratio(merged[f"{m}_b"], merged[f"{m}_a"])
    if a.kind == FRONTIER:
        for col in ("primary_binding", "device_name", "reason"):
            table[f"a_{col}"] = merged[f"{col}_a"]
            table[f"b_{col}"] = merged[f"{col}_b"]
    return Comparison(a, b, a.kind, table, len(a.frame) - len(merged), len(b.frame) - len(merged))


def _span(keys: pd.Series) -> str:
    if not len(keys):
        return "no dates"
    lo, hi = keys.min(), keys.max()
    return str(lo) if lo == hi else f"{lo} to {hi}"


def _x(comp: Comparison):
    return pd.to_datetime(comp.table["date"]) if comp.kind == FRONTIER else comp.table["date"]


def _step_bars(t, title: str, a_name: str, b_name: str):
    """Two step results: one bar per metric from 1x to its ratio B/A."""
    ok = t[t["ratio_value"] > 0]
    if not len(ok):
        return nothing_to_draw(title, "No metric with a ratio B/A (zero or missing in A or B).")
    fig, ax = pyplot().subplots(figsize=(10, 1.4 + 0.38 * len(ok)), dpi=110)
    r = ok["ratio_value"].to_numpy()
    ax.barh(range(len(ok)), r - 1, left=1, color=np.where(r >= 1, "tab:blue", "tab:red"))  # from 1x to the ratio
    ax.set_yticks(range(len(ok)))
    ax.set_yticklabels([m.strip() for m in ok["metric"]], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(1, color="black", lw=0.8)
    ratio_axis(ax, np.concatenate([r, 1 / r]) ** 1.25, which="x")  # room for the value labels
    for i, ratio in enumerate(r):
        ax.annotate(f"{ratio:.3g}x", (ratio, i), xytext=(4 if ratio >= 1 else -4, 0), textcoords="offset points",
                    ha="left" if ratio >= 1 else "right", va="center", fontsize=7)
    ax.set_xlabel(f"B / A (log scale; 1x = no change)   {b_name}   {a_name}")
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def comparison_figure(comp: Comparison, title: str | None = None):
    """The figure (not saved): both curves over the ratio B/A (frontier, projection), or bars (step)."""
    plt = pyplot()
    a_name = f"A: {comp.a.scenario or comp.a.label}"
    b_name = f"B: {comp.b.scenario or comp.b.label}"
    title = title or f"{b_name[3:]} against {a_name[3:]}"
    t = comp.table
    if comp.kind == STEP:
        return _step_bars(t, title, a_name, b_name)
    x = _x(comp)
    flop = "flop"
    if not (t[f"a_{flop}"] > 0).any() and not (t[f"b_{flop}"] > 0).any():
        return nothing_to_draw(title, f"No feasible run in A or B at any of the {len(t)} shared dates.")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11.5, 7), dpi=120, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    top.plot(x, t[f"a_{flop}"], color="0.35", lw=1.4, marker="o", ms=3, label=a_name)
    top.plot(x, t[f"b_{flop}"], color="tab:blue", lw=1.4, marker="o", ms=3, label=b_name)
    if comp.kind == PROJECTION:
        for side, colour in (("a", "0.35"), ("b", "tab:blue")):
            top.fill_between(x, t[f"{side}_flop_p10"], t[f"{side}_flop_p90"], color=colour, alpha=0.12, lw=0)
    top.set_yscale("log")
    top.set_ylabel("training compute (FLOP)" + (", median" if comp.kind == PROJECTION else ""))
    top.grid(True, which="major", alpha=0.3)
    top.set_title(title)
    top.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    rows = [(flop, "FLOP", "tab:blue")]
    if comp.kind == FRONTIER:
        rows += [("devices", "devices", "tab:orange"), ("mfu", "MFU", "tab:green")]
    for m, name, colour in rows:
        r = t[f"ratio_{m}"].where(t[f"ratio_{m}"] > 0)
        if r.notna().any():
            bottom.plot(x, r, color=colour, lw=1.6 if m == flop else 1.0, marker="o", ms=3 if m == flop else 2,
                        label=f"{name} B/A")
    bottom.axhline(1.0, color="black", lw=0.8)
    ratio_axis(bottom, np.concatenate([t[f"ratio_{m}"].to_numpy(dtype=float) for m, _, _ in rows]))
    bottom.set_ylabel("B / A (log scale)")
    bottom.grid(True, which="both", alpha=0.3)
    bottom.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    gone = t[~t["a_feasible"] | ~t["b_feasible"]] if comp.kind == FRONTIER else t.iloc[0:0]
    if len(gone):
        bottom.annotate(f"{len(gone)} shared date(s) infeasible in A or B: no ratio", (0.0, -0.28),
                        xycoords="axes fraction", fontsize=7, color="0.35")
    if comp.kind == FRONTIER:
        from simulator.report.frontier_plot import date_axis

        date_axis(bottom)
    else:
        from matplotlib.ticker import MaxNLocator

        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.set_xlabel("year")
    return fig


#: Ticks of a ratio axis, finest first: 1-2-5 with the small steps near 1, 1-2-5, decades.
_DECADES = [10.0 ** e for e in range(-12, 13)]
_TICK_LEVELS = (sorted({m * d for d in _DECADES for m in (1, 2, 5)} | {1.25, 1.5, 0.8, 1 / 1.5}),
                sorted({m * d for d in _DECADES for m in (1, 2, 5)}), _DECADES)


def ratio_axis(ax, ratios, which: str = "y") -> None:
    """A log axis of ratios, symmetric about 1x, its ticks written as '0.5x', '1x', '2x' (never 2x10^0)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    r = np.asarray(ratios, dtype=float)
    r = r[np.isfinite(r) & (r > 0)]
    span = max(float(np.abs(np.log10(r)).max()) if len(r) else 0.0, math.log10(1.3)) * 1.15
    axis = ax.yaxis if which == "y" else ax.xaxis
    (ax.set_yscale if which == "y" else ax.set_xscale)("log")
    (ax.set_ylim if which == "y" else ax.set_xlim)(10 ** -span, 10 ** span)
    for level in _TICK_LEVELS:  # the finest ticks that are few and not crowded
        chosen = [v for v in level if abs(math.log10(v)) <= span]
        gaps = np.diff(np.log10(chosen)) if len(chosen) > 1 else [np.inf]
        if len(chosen) <= 7 and min(gaps) >= span / 6:
            break
    else:  # a very wide range: every k-th decade
        k = math.ceil(len(chosen) / 7)
        chosen = [v for v in chosen if round(math.log10(v)) % k == 0]
    axis.set_major_locator(FixedLocator(chosen))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.3g}x"))


def plot_comparison(comp: Comparison, path: Path, title: str | None = None) -> Path:
    """Save the comparison figure to `path` (PNG) and return it."""
    return save(comparison_figure(comp, title), path)


def shown_rows(comp: Comparison, limit: int = 30) -> pd.DataFrame:
    """The rows to print: all when few; else the first and last dates, the dates where the FLOP ratio
    changes most (more than 1%; each with the date before it) and dates spread evenly, `limit` at most."""
    t = comp.table
    if comp.kind == STEP or len(t) <= limit:
        return t
    r = np.log(t["ratio_flop"].where(t["ratio_flop"] > 0).fillna(1e-300))
    jump = r.diff().abs().fillna(0.0)
    flips = (t["a_feasible"] != t["a_feasible"].shift()) | (t["b_feasible"] != t["b_feasible"].shift())
    jump[flips.to_numpy() & (np.arange(len(t)) > 0)] = np.inf
    keep = {0, len(t) - 1}
    for i in jump[jump > math.log(1.01)].sort_values(ascending=False, kind="stable").index:
        if len(keep) >= limit - 4:
            break
        keep.update((int(i) - 1, int(i)))
    for i in np.linspace(0, len(t) - 1, limit).round().astype(int):
        if len(keep) >= limit:
            break
        keep.add(int(i))
    return t.iloc[sorted(keep)]
