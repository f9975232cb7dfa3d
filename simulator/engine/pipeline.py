"""Discrete-event simulation (simpy) of one training step of one pipeline.

All data-parallel replicas, and all tensor-parallel ranks of a stage, do the same
work, so one pipeline is simulated: each stage a simpy process walking its schedule
(engine/schedules.py), each micro-batch's forward and backward a timeout, each
point-to-point transfer a request on the sending device's link, the data-parallel
gradient reduction a request per bucket as the last backward of a chunk finishes,
competing with p2p traffic for the same link, then the optimizer step. ZeRO-3
gathers each module's weights before it runs (prefetching the next module) and
reduce-scatters its gradients after backward, on the same link. While such bulk
collectives overlap compute, their kernels take a share of the device
(`comm_processor_usage`), and the overlapped compute slows by that share.

Links are FIFO servers with two classes: a transfer starts when the link is free
and holds it for its duration (a capacity-1 simpy.Resource, booked at request time
so that it costs one event, not three). Pipeline p2p transfers are latency-critical
and go first: they never wait behind a gradient bucket, and each one pushes the
queued bulk traffic (DP and ZeRO collectives) back by its own duration, so the two
share the link's bandwidth. A pipeline spread over several sites (`stages_per_site`)
sends between stages of two sites over a third link, the sites' (its own cost,
`p2p_site_s`), which no collective uses. The number of events grows with stages x
micro-batches, not with the device count.

Output: the step time per device and a record of every op.
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy
from simpy.events import NORMAL, Event

from simulator.costs.step import MAX_BUCKETS, StepCosts
from simulator.engine.schedules import device_order

# Op kinds in records.
FORWARD, BACKWARD, SEND, DP_REDUCE, DP_GATHER, ZERO_GATHER, ZERO_REDUCE, OPTIMIZER = (
    "forward",
    "backward",
    "send",
    "dp_reduce",
    "dp_gather",
    "zero_gather",
    "zero_reduce",
    "optimizer",
)


@dataclass(frozen=True)
class OpRecord:
    """One op of the simulated step. `stage` is the device's pipeline rank."""

    stage: int
    op: str
    chunk: int
    micro_batch: int
    start_s: float
    end_s: float


@dataclass(frozen=True)
class EngineRun:
    step_time_s: float
    device_end_s: tuple[float, ...]
    last_compute_end_s: tuple[float, ...]
    gather_wait_s: tuple[float, ...]
    records: list[tuple]  # (stage, op, chunk, micro_batch, start_s, end_s)

    def op_records(self) -> list[OpRecord]:
        """The engine's records as OpRecord tuples."""
        return [OpRecord(*r) for r in self.records]


class Link:
    """A link with a priority class (p2p) and a bulk class (collectives), each FIFO."""

    __slots__ = ("free_at", "urgent_free_at")

    def __init__(self) -> None:
        self.free_at = 0.0  # when the bulk queue drains
        self.urgent_free_at = 0.0

    def book(self, now: float, duration: float) -> tuple[float, float]:
        """Queue bulk traffic; returns its (start, end) as booked."""
        start = max(now, self.free_at, self.urgent_free_at)
        self.free_at = start + duration
        return start, self.free_at

    def book_urgent(self, now: float, duration: float) -> tuple[float, float]:
        """Send ahead of queued bulk traffic, which is pushed back by `duration`."""
        start = max(now, self.urgent_free_at)
        self.urgent_free_at = start + duration
        if self.free_at > start:
            self.free_at += duration
        return start, self.urgent_free_at


class Arrival(Event):
    """An event that fires a given delay after it is armed (like a Timeout made
    before its delay is known): a message arriving at the next stage."""

    def arm(self, delay: float) -> None:
        """Fire this event after `delay` seconds (reusable: re-armed for each use)."""
        self._ok = True
        self._value = None
        self.env.schedule(self, NORMAL, delay)


def simulate(costs: StepCosts) -> EngineRun:
    """Simulate one step; raises RuntimeError if the schedule deadlocks (a bug)."""
    lay = costs.layout
    p, n = lay.pp, costs.n_virtual
    v = n // p
    m = lay.n_microbatches
    env = simpy.Environment()
    records: list[tuple] = []
    rec = records.append
    # arrivals[g][i]: activation of micro-batch i has reached virtual stage g (fwd),
    # or its gradient has reached g (bwd)
    fwd_in = [[Arrival(env) for _ in range(m)] if g else None for g in range(n)]
    bwd_in = [[Arrival(env) for _ in range(m)] if g < n - 1 else None for g in range(n)]
    links = [(Link(), Link(), Link()) for _ in range(p)]  # (intra-node, inter-node, between sites) egress
    sps = costs.stages_per_site  # pipeline across sites: blocks of sps stages, one per site
    end = [0.0] * p
    compute_end = [0.0] * p
    gather_wait = [0.0] * p
    zero3 = bool(costs.zero3_fwd)
    usage = costs.comm_processor_usage

    def slowed(work: float, now: float, busy_until: float) -> float:
        """Compute time of `work` seconds while the link is busy until `busy_until`:
        overlapped collectives run kernels on the same device and take `usage` of it."""
        window = busy_until - now
        if usage <= 0 or window <= 0:
            return work
        if work <= window * (1 - usage):
            return work / (1 - usage)
        return window + (work - window * (1 - usage))

    n_layers = costs.layers_per_chunk

    def stage(s: int):
        """The process of pipeline stage `s`: its forwards, backwards, sends and gradient reduction."""
        order = device_order(lay.schedule, p, v, m, s)
        p2p_link = links[s][1 if costs.p2p_inter else 0]
        site_link = links[s][2]
        dp_link = links[s][1 if costs.dp_inter else 0]
        last_bwd = {}  # chunk -> index of its last backward in the order
        for k, (is_bwd, c, _) in enumerate(order):
            if is_bwd:
                last_bwd[c] = k
        dp_done = 0.0
        for k, (is_bwd, c, i) in enumerate(order):
            g = c * p + s
            if is_bwd:
                if g < n - 1:
                    yield bwd_in[g][i]
                dur = costs.bwd_compute_s[g] + costs.bwd_tp_s[g]
            else:
                if g:
                    yield fwd_in[g][i]
                dur = costs.fwd_compute_s[g] + costs.fwd_tp_s[g]
            start = env.now
            if zero3:
                # module by module: wait for its weights, prefetch the next module's
                pieces = costs.zero3_bwd if is_bwd else costs.zero3_fwd
                per_layer = dur / n_layers
                kp = len(pieces)
                total = n_layers * kp
                gs, ge = dp_link.book(env.now, pieces[0][1])
                rec((s, ZERO_GATHER, c, i, gs, ge))
                for j in range(total):
                    share, _, rs_s = pieces[j % kp]
                    if ge > env.now:
                        gather_wait[s] += ge - env.now
                        yield env.timeout(ge - env.now)
                    if j + 1 < total:
                        gs, ge = dp_link.book(env.now, pieces[(j + 1) % kp][1])
                        rec((s, ZERO_GATHER, c, i, gs, ge))
                    yield env.timeout(slowed(share * per_layer, env.now, dp_link.free_at))
                    if rs_s:
                        rs, re = dp_link.book(env.now, rs_s)
                        rec((s, ZERO_REDUCE, c, i, rs, re))
                        dp_done = max(dp_done, re)
            elif is_bwd and last_bwd[c] == k and costs.dp_reduce_s > 0 and costs.dp_overlap:
                # gradients of this chunk are ready bucket by bucket during its backward
                nb = min(costs.layers_per_chunk, MAX_BUCKETS)
                for _ in range(nb):
                    yield env.timeout(slowed(dur / nb, env.now, dp_link.free_at))
                    rs, re = dp_link.book(env.now, costs.dp_reduce_s / nb)
                    rec((s, DP_REDUCE, c, i, rs, re))
                    dp_done = re
            else:
                yield env.timeout(dur)
            rec((s, BACKWARD if is_bwd else FORWARD, c, i, start, env.now))
            # send to the neighbouring virtual stage
            dest = g - 1 if is_bwd else g + 1
            if 0 <= dest < n:
                if sps and s // sps != (dest % p) // sps:  # the neighbour is at another site: the
                    # link is held while the bytes go out, the fibre's delay comes on top
                    delay = costs.p2p_site_delay_s
                    ss, se = site_link.book_urgent(env.now, costs.p2p_site_s - delay)
                else:
                    delay = 0.0
                    ss, se = p2p_link.book_urgent(env.now, costs.p2p_s)
                rec((s, SEND, c, i, ss, se + delay))
                (bwd_in if is_bwd else fwd_in)[dest][i].arm(se + delay - env.now)
        compute_end[s] = env.now
        if costs.dp_reduce_s > 0 and not costs.dp_overlap:  # one reduction after the last backward
            for c in range(v):
                rs, re = dp_link.book(env.now, costs.dp_reduce_s)
                rec((s, DP_REDUCE, c, 0, rs, re))
                dp_done = re
        dp_done = max(dp_done, dp_link.free_at) if dp_done else 0.0  # incl. p2p push-back
        if dp_done > env.now:
            yield env.timeout(dp_done - env.now)
        t0 = env.now
        yield env.timeout(costs.optimizer_s)
        rec((s, OPTIMIZER, 0, 0, t0, env.now))
        if costs.dp_gather_s > 0:
            for c in range(v):
                gs, ge = dp_link.book(env.now, costs.dp_gather_s)
                rec((s, DP_GATHER, c, 0, gs, ge))
            yield env.timeout(ge - env.now)
        end[s] = env.now

    procs = [env.process(stage(s)) for s in range(p)]
    env.run()
    if not all(pr.triggered for pr in procs):
        raise RuntimeError("pipeline schedule deadlocked: an op waits for one never sent")
    return EngineRun(max(end), tuple(end), tuple(compute_end), tuple(gather_wait), records)
