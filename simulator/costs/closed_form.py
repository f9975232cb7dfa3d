"""Closed-form step time: the event engine's answer, over numpy arrays of layouts.

Pipeline (Narayanan et al. 2021, Sec. 2.2): with t the forward + backward time of one
micro-batch on one device (all its v chunks) and l the output layer on the last
stage, 1F1B and GPipe take

    m (t + l) + (p - 1) t / v  +  2 (p v - 1) x p2p

(the slowest stage sets the steady state; the fill and drain cost p - 1 stage times,
divided by v for the interleaved schedule, and cross all p v virtual stages). Then
the data-parallel gradient reduction left when the last backward ends (buckets overlap it), the optimizer and,
for ZeRO-1/2, the weight all-gather, plus the compute that overlapped reductions
slow down. ZeRO-3 ops are a chain of module pieces, each
waiting for its prefetched weights: a piece with compute c under link traffic L
takes max(L, c + u L), u being the device share the collective kernels occupy.

With no communication this is exactly (m + p - 1)(t_f + t_b) (tested against the
event engine, which also checks the contended cases). A pipeline spread over several
sites adds its transfers between sites (`site_boundaries_time`).
"""

from __future__ import annotations

import numpy as np

from simulator.core.specs import Layout, Schedule, Transformer
from simulator.costs.compute import LayerTime
from simulator.costs.step import MAX_BUCKETS, UnitCosts


def zero3_op_time(pieces: tuple, per_layer_s, layers, usage: float):
    """One forward or backward of a chunk under ZeRO-3, module by module."""
    k = len(pieces)
    cycle = 0.0
    for j, (share, _, _) in enumerate(pieces):
        link = pieces[(j + 1) % k][1] + pieces[(j - 1) % k][2]
        cycle = cycle + np.maximum(link, share * per_layer_s + usage * link)
    return pieces[0][1] + layers * cycle


def site_crossings(sites: int, v: int) -> int:
    """Transfers between sites along one micro-batch's way through the pipeline: each of
    the v chunks crosses the sites - 1 block boundaries, and (interleaved) the passes from
    the last stage back to the first for the next chunk cross from the last site to the first."""
    return v * (sites - 1) + (v - 1 if v > 1 else 0)


def site_boundaries_time(u: UnitCosts, layout: Layout, f, b):
    """What a pipeline spread over `u.sites` sites adds to the step: C = `u.p2p_site_s` per
    transfer at a site boundary (fibre delay d included), f and b one chunk's forward and
    backward, t = f + b.

    - fill and drain: each of the X = `site_crossings` transfers of the first forward and
      the last backward takes C instead of the local p2p, 2 X (C - p2p);
    - steady state, 1F1B: a stage at a boundary cannot run the backward of micro-batch j
      before its gradient came back, nor its neighbour the forward of j + 1 before the
      activation came over; the two constraints, each with one op of slack, give a period
      of t + C per micro-batch, paid by the m - p / sites micro-batches that the stages past the
      last boundary do not absorb: (m - p / sites) C;
    - GPipe: the forwards (then the backwards) stream over the link, which each holds for
      C - d: (m - 1) (max(0, C - d - f) + max(0, C - d - b));
    - interleaved (two ops of slack between neighbours): a period per chunk of at least
      2 (t + C) / 3 and C - d, on all m v of them (an approximation once it binds: the
      event engine, which models each transfer, is the reference there)."""
    p, m, sites = layout.pp, layout.n_microbatches, u.sites
    v = layout.virtual_stages if layout.schedule is Schedule.INTERLEAVED else 1
    c, hold = u.p2p_site_s, u.p2p_site_s - u.p2p_site_delay_s
    fill = 2 * site_crossings(sites, v) * (c - u.p2p_s)
    if layout.schedule is Schedule.GPIPE:
        steady = (m - 1) * (np.maximum(hold - f, 0.0) + np.maximum(hold - b, 0.0))
    elif v > 1:
        t = f + b
        steady = m * v * np.maximum(np.maximum(2 * (t + c) / 3, hold) - t, 0.0)
    else:
        steady = np.maximum(m - p // sites, 0) * c
    return fill + steady


def step_time(u: UnitCosts, layout: Layout, usage: float):
    """Step time of `layout` (arrays allowed) from its unit costs."""
    p, m = layout.pp, layout.n_microbatches
    v = layout.virtual_stages if layout.schedule is Schedule.INTERLEAVED else 1
    k = u.layers_per_chunk
    fwd = u.layer_fwd_s + u.layer_fwd_tp_s
    bwd = u.layer_bwd_s + u.layer_bwd_tp_s
    if u.zero3_fwd:
        dp_on = layout.dp > 1
        f = np.where(dp_on, zero3_op_time(u.zero3_fwd, fwd, k, usage), k * fwd)
        b = np.where(dp_on, zero3_op_time(u.zero3_bwd, bwd, k, usage), k * bwd)
        tail = np.where(dp_on, u.zero3_bwd[-1][2], 0.0)
    else:
        f, b, tail = k * fwd, k * bwd, 0.0
    t = v * (f + b)
    logits = u.logits_fwd_s + u.logits_bwd_s
    # uneven stages: the most loaded stage (k layers) or the last (fewer layers plus the
    # output layer) sets the steady state; the fill and drain go at the mean stage
    last = np.where(k > u.layers_last, v * u.layers_last * (fwd + bwd), t) + logits
    mean = np.where(k > u.layers_last, v * u.layers_mean * (fwd + bwd), t)
    pipe = m * np.maximum(t, last) + (p - 1) * mean / v + 2 * (p * v - 1) * u.p2p_s
    if u.sites > 1:
        pipe = pipe + site_boundaries_time(u, layout, f, b)
    nb = np.minimum(k, MAX_BUCKETS)
    bucket = u.dp_reduce_s / nb
    if u.dp_overlap:
        dp_exposed = np.where(u.dp_reduce_s > 0, np.maximum(bucket, nb * bucket - (nb - 1) * b / nb), 0.0)
        # the reductions of the v chunks overlap backward compute, which slows by `usage`;
        # about p / 2 + v of the slowed cooldown ops lie on the critical path (an
        # approximation checked against the engine, which models each one)
        # (each of those ops is slowed by `usage` of its own length at most)
        contention = usage * (p / 2 + v) * np.minimum(u.dp_reduce_s, b)
    else:  # one reduction of all chunks after the last backward (Megatron-LM 2021, DeepSpeed's pipeline)
        dp_exposed, contention = v * u.dp_reduce_s, 0.0
    return pipe + tail + dp_exposed + contention + u.optimizer_s + v * u.dp_gather_s


def compute_floor(model: Transformer, layout: Layout, lt: LayerTime):
    """A lower bound of `step_time` from the layers' compute alone (`lt`, the layout's
    `transformer_layer_time`): the steady state and the fill and drain of `step_time`'s
    pipeline term with every communication, the output layer, the optimizer and the
    reductions left out (each is a time >= 0 added to these terms, and rounding is
    monotone, so the bound holds in floating point too). For a pipeline on one site
    without ZeRO-3 (the layout search prunes with it only there); arrays allowed."""
    p = layout.pp
    v = layout.virtual_stages if layout.schedule is Schedule.INTERLEAVED else 1
    k = -(-model.layers // (p * v))  # as `unit_costs` counts the stages' layers
    layers_last, layers_mean = model.layers // (p * v), model.layers / (p * v)
    fwd, bwd = lt.forward, lt.backward
    t = v * (k * fwd + k * bwd)
    mean = np.where(k > layers_last, v * layers_mean * (fwd + bwd), t)
    return layout.n_microbatches * t + (p - 1) * mean / v
