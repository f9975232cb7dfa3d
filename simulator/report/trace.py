"""Chrome / Perfetto trace of one simulated step (chrome://tracing, ui.perfetto.dev).

One process per pipeline stage; inside it one thread for compute (forward,
backward, optimizer) and one for the stage's link (p2p sends, data-parallel and
ZeRO collectives). Times in microseconds, as the Trace Event Format requires.
"""

from __future__ import annotations

from simulator.engine.pipeline import BACKWARD, FORWARD, OPTIMIZER

COMPUTE_OPS = {FORWARD, BACKWARD, OPTIMIZER}


def chrome_trace(records: list[tuple], title: str = "") -> dict:
    """Trace Event Format dict from engine records (stage, op, chunk, mb, start_s, end_s)."""
    events = []
    stages = sorted({r[0] for r in records})
    for s in stages:
        events.append({"ph": "M", "name": "process_name", "pid": s, "args": {"name": f"stage {s}"}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": s, "args": {"sort_index": s}})
        events.append({"ph": "M", "name": "thread_name", "pid": s, "tid": 0, "args": {"name": "compute"}})
        events.append({"ph": "M", "name": "thread_name", "pid": s, "tid": 1, "args": {"name": "link"}})
    for stage, op, chunk, mb, start, end in records:
        events.append(
            {
                "name": f"{op} mb{mb}" + (f" c{chunk}" if chunk else ""),
                "cat": op,
                "ph": "X",
                "pid": stage,
                "tid": 0 if op in COMPUTE_OPS else 1,
                "ts": start * 1e6,
                "dur": max(end - start, 0.0) * 1e6,
                "args": {"op": op, "chunk": chunk, "micro_batch": mb},
            }
        )
    return {"traceEvents": events, "displayTimeUnit": "ms", "otherData": {"title": title}}
