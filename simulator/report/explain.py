"""Teaching views of one training step: Gantt chart, time and memory breakdowns, scaling.

`gantt` draws the engine's records (forward, backward, sends, data-parallel and ZeRO
collectives per pipeline stage; white gaps are the bubble); `breakdown` the step time
by cause; `memory` the peak memory of the most loaded device against its capacity;
`scaling` re-runs the layout search at growing device counts for three families of
layouts (data parallel only, tensor + data, full 3D) and plots the best MFU and step
time of each, so one sees where each family stops scaling.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.core.specs import Cluster, SearchSpace
from simulator.core.units import GB
from simulator.engine.pipeline import BACKWARD, DP_GATHER, DP_REDUCE, FORWARD, OPTIMIZER, SEND, ZERO_GATHER, ZERO_REDUCE
from simulator.report.figures import pyplot, save
from simulator.search import search_layouts

OP_COLOURS = {FORWARD: "tab:blue", BACKWARD: "tab:green", SEND: "tab:orange", DP_REDUCE: "tab:red",
              DP_GATHER: "tab:pink", ZERO_GATHER: "tab:purple", ZERO_REDUCE: "tab:brown", OPTIMIZER: "tab:gray"}
FAMILIES = {"data parallel (ZeRO allowed)": {"max_tp": 1, "max_pp": 1}, "tensor + data": {"max_pp": 1}, "3D (tensor + pipeline + data)": {}}


def gantt_figure(records: list[tuple], title: str, max_stages: int = 16):
    """The Gantt chart (not saved): see `gantt`."""
    plt = pyplot()
    stages = sorted({r[0] for r in records})[:max_stages]
    # at least 3.2 inches (about 350 px) tall whatever the stage count: a pp = 1 chart stays readable
    fig, ax = plt.subplots(figsize=(12, max(3.2, 1.6 + 0.55 * len(stages))), dpi=110)
    for stage, op, _chunk, _mb, start, end in records:
        if stage not in stages:
            continue
        lane = 2 * stages.index(stage) + (0 if op in (FORWARD, BACKWARD, OPTIMIZER) else 1)
        ax.barh(lane, max(end - start, 0.0), left=start, height=0.8, color=OP_COLOURS.get(op, "black"),
                edgecolor="none")
    ax.set_yticks([2 * i for i in range(len(stages))] + [2 * i + 1 for i in range(len(stages))])
    ax.set_yticklabels([f"stage {s} compute" for s in stages] + [f"stage {s} link" for s in stages], fontsize=7)
    ax.set_ylim(2 * len(stages) - 0.4, -0.6)  # top to bottom: stage 0 first
    ax.set_xlabel("time in the step (s); gaps in the compute rows are the pipeline bubble")
    ax.set_title(title + (f" (first {max_stages} stages)" if len({r[0] for r in records}) > max_stages else ""))
    used = {r[1] for r in records if r[0] in stages}
    shown = {op: c for op, c in OP_COLOURS.items() if op in used} or OP_COLOURS
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in shown.values()]
    ax.legend(handles, list(shown), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return fig


def gantt(records: list[tuple], path: Path, title: str, max_stages: int = 16) -> Path:
    """One row per stage for compute and one for its link; time in seconds. The legend sits beside the axes."""
    return save(gantt_figure(records, title, max_stages), path)


def breakdown(result, path: Path, title: str) -> Path:
    """The step-time breakdown as a bar chart, saved to `path`."""
    plt = pyplot()
    items = {k.removesuffix("_s").replace("_", " "): v for k, v in result.breakdown_s.items() if v > 0}
    fig, ax = plt.subplots(figsize=(8, 4), dpi=110)
    ax.barh(list(items), list(items.values()), color="tab:blue")
    ax.set_xlabel("seconds per step")
    ax.set_title(f"{title}: step {result.step_time_s:.3g} s, MFU {result.mfu:.2f}")
    ax.invert_yaxis()
    return save(fig, path)


def memory_figure(result, title: str):
    """The memory bar (not saved): see `memory`."""
    plt = pyplot()
    m = result.memory
    parts = {"weights": m.weights, "gradients": m.gradients, "optimizer states": m.optimizer,
             "activations": m.activations}
    fig, ax = plt.subplots(figsize=(10, 2.8), dpi=110)
    left = 0.0
    for (name, v), c in zip(parts.items(), ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        ax.barh(0, v / GB, left=left, color=c, label=f"{name} {v / GB:.1f} GB")
        left += v / GB
    ax.axvline(m.capacity / GB, color="black", ls="--", label=f"capacity {m.capacity / GB:.0f} GB")
    ax.set_xlim(0, max(left, m.capacity / GB) * 1.05)
    ax.set_yticks([])
    ax.set_xlabel("GB on the most loaded device")
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()  # the parts in order, then the capacity
    order = [*range(1, len(handles)), 0]
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=7, loc="center left",
              bbox_to_anchor=(1.01, 0.5), borderaxespad=0.0)
    return fig


def memory(result, path: Path, title: str) -> Path:
    """Peak memory of the most loaded device by part against its capacity; the legend beside the bar."""
    return save(memory_figure(result, title), path)


def scaling_table(model, cluster: Cluster, base_layout, eff, counts: list[int]) -> pd.DataFrame:
    """Best MFU and step time per device count for each layout family (NaN: nothing fits)."""
    rows = []
    for family, limits in FAMILIES.items():
        for n in counts:
            space = SearchSpace(global_batches=(base_layout.global_batch,), top_k=0, divisors_only=True, **limits)
            res = search_layouts(model, replace(cluster, n_devices=n), base_layout, space, eff)
            ok = res.frame[res.frame.reason == ""]
            best = ok.iloc[0] if len(ok) else None
            reasons = res.reason_counts
            rows.append({"family": family, "devices": n, "mfu": float(best.mfu) if best is not None else np.nan,
                         "step_time_s": float(best.step_time_s) if best is not None else np.nan,
                         "layout": "" if best is None else f"tp{best.tp} pp{best.pp} dp{best.dp}",
                         "why_not": "" if best is not None else max(reasons, key=reasons.get, default="")})
    return pd.DataFrame(rows)


def scaling_figure(table: pd.DataFrame, title: str):
    """Best MFU and step time per device count, one curve per family (not saved); the legend under the axes."""
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 5), dpi=110)
    for family, part in table.groupby("family", sort=False):
        a1.plot(part.devices, part.mfu, marker="o", label=family)
        a2.plot(part.devices, part.step_time_s, marker="o", label=family)
    for ax, label in ((a1, "MFU (best layout)"), (a2, "step time (s)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("devices")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    a2.set_yscale("log")
    a1.legend(fontsize=8, ncol=2, loc="upper left", bbox_to_anchor=(0.0, -0.16), borderaxespad=0.0)  # under the axes
    fig.suptitle(f"{title}: missing points = no layout of that family fits (memory, batch)")
    return fig


def scaling(table: pd.DataFrame, path: Path, title: str) -> Path:
    """The scaling curves by layout family, saved to `path`."""
    return save(scaling_figure(table, title), path)
