"""Compute time of one layer on one device: an additive roofline per kernel.

Each matrix multiply C[M,N] = A[M,K] B[K,N] costs

    t = 2 M N K / (peak x e_gemm)  +  bytes(A, B, C) / (memory bandwidth x e_mem)

the compute term at a fixed fraction of dense peak and the operand traffic at a
fixed fraction of memory bandwidth. Adding (rather than taking the max, as the
roofline of Williams et al. 2009 does) makes small or skinny matrices slower than
their FLOPs alone say, as measured GEMM efficiency curves show; for the large
multiplies of a 175B model the traffic term is a few percent.

Non-matmul kernels (layer norm, GeLU/SwiGLU, dropout, residual adds, a materialised
softmax) are memory bound: their traffic is taken as `elementwise_passes` times the
activation bytes of the layer (costs/memory.py, Korthikanti et al. 2022 counting),
at e_mem of bandwidth. Backward costs twice the forward (two matmuls per forward
matmul: data and weight gradients; Narayanan 2021 Sec. 3.5), except a fused (flash)
attention core's, 2.5x: it recomputes the scores it did not keep (Dao 2023).

A fused attention core runs at the published rate of the kernel its stack runs on that
device where the catalog has one (catalog/kernel_benchmarks.csv: FlashAttention-2 and cuDNN
on H100 at 512 to 16k tokens, FlashAttention-2 on A100; the stack's choice in stacks.toml,
read in its code), at the length of each call: causal, its FLOPs counted as the benchmarks
count them (half the s x s products). Elsewhere it runs at the GEMM rate.

e_gemm, e_mem and elementwise_passes are fitted on catalog/calibration.csv only
(scripts/fit_efficiency.py); nothing else in the package is fitted.

Units: FLOP, bytes, seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from simulator.core.specs import (
    Accelerator,
    Attention,
    Efficiency,
    GenericNetwork,
    Layout,
    Precision,
    Recompute,
    Stack,
    Transformer,
)
from simulator.costs.memory import layer_activation_bytes


@dataclass(frozen=True)
class Rates:
    """What the kernels of one device achieve: FLOP/s of matmuls, bytes/s of streams."""

    flops_per_s: float
    bytes_per_s: float  # 0 when the catalog has no memory bandwidth: traffic is free
    kept_flops_per_s: float | None = None  # what FP8 recipes keep in BF16 (attention core, output layer)
    # (sequence length, forward, backward FLOP/s) points of the fused attention kernel the
    # stack runs (causal, the benchmarks' FLOP count); None: the core runs at the GEMM rate
    attention: tuple[tuple[float, float, float], ...] | None = None

    def attention_rates(self, seq):
        """(forward, backward) FLOP/s of the kernel at `seq` tokens a call: linear in
        log2(seq) between the benchmarked lengths, the end values beyond them."""
        x, fwd, bwd = _log_table(self.attention)
        at = np.log2(seq)
        return np.interp(at, x, fwd), np.interp(at, x, bwd)

    @property
    def kept(self) -> Rates:
        """The rates of the operations an FP8 recipe keeps in BF16."""
        return self if self.kept_flops_per_s is None else Rates(self.kept_flops_per_s, self.bytes_per_s)

    def gemm(self, m: float, n: float, k: float, elem_bytes: float, count: float = 1.0,
             out_bytes: float | None = None) -> float:
        """Time of `count` multiplies of shape (m x k) @ (k x n), the operands `elem_bytes` an
        element, the output `out_bytes` (default: `elem_bytes`)."""
        t = 2 * m * n * k / self.flops_per_s
        if self.bytes_per_s:
            out = elem_bytes if out_bytes is None else out_bytes
            t += (elem_bytes * (m * k + k * n) + out * m * n) / self.bytes_per_s
        return count * t

    def stream(self, n_bytes: float) -> float:
        """Seconds to stream `n_bytes` through memory."""
        return n_bytes / self.bytes_per_s if self.bytes_per_s else 0.0


def rates(acc: Accelerator, precision: Precision, eff: Efficiency, stack: Stack | None = None) -> Rates | None:
    """Achieved rates of `acc` (with the attention kernel `stack` runs on it, where the
    catalog has its benchmark); None if it has no peak at this precision."""
    peak = acc.peak(precision)
    if peak is None:
        return None
    bw = acc.memory_bandwidth_bytes_per_s or 0.0
    kept = None
    if precision is Precision.FP8 and acc.peak(Precision.BF16):
        kept = acc.peak(Precision.BF16) * eff.gemm_for(acc.name, Precision.BF16)
    kernel = attention_kernel(acc, eff, stack)
    return Rates(peak * eff.gemm_for(acc.name, precision), bw * eff.memory, kept,
                 None if kernel is None else kernel[1])


def attention_kernel(acc: Accelerator, eff: Efficiency, stack: Stack | None):
    """(kernel, its (sequence length, forward, backward FLOP/s) points) of the fused attention
    kernel `stack` runs on `acc`, where the catalog has its benchmark there; else None."""
    if stack is None:
        return None
    kernel = stack.attention_kernel_on(acc.name)
    points = eff.attention_for(acc.name, kernel)
    return None if points is None else (kernel, points)


@cache
def _log_table(points: tuple[tuple[float, float, float], ...]) -> tuple[list[float], list[float], list[float]]:
    """log2 of the benchmarked lengths and the two rates, once per kernel table (the step's hot path)."""
    return [math.log2(p[0]) for p in points], [p[1] for p in points], [p[2] for p in points]


@dataclass(frozen=True)
class LayerTime:
    """Seconds of one layer (or the logit layer) for one micro-batch on one device,
    averaged over the layers (dense and mixture-of-experts layers)."""

    forward: float
    backward: float  # includes recomputation
    attention_core_forward: float  # part of `forward`, recomputed by selective recompute
    gemm_forward: float = 0.0  # part of `forward`: the projection and MLP GEMMs


def _attention_gemms(model: Transformer, tokens, t, r: Rates, el: float):
    """Projections of one layer: column-parallel, then the row-parallel output."""
    mats = model.attention_mats()
    time = sum(r.gemm(tokens, o / t, i, el) for i, o in mats[:-1])
    i, o = mats[-1]
    return time + r.gemm(tokens, o, i / t, el)


def _mlp_gemms(model: Transformer, tokens, layout: Layout, r: Rates, el: float):
    """MLP GEMMs of one layer, averaged over dense and expert layers. Each of the ep ranks
    holds experts / ep experts and receives top_k x load x its tokens on average; a local
    expert multiplies tokens x top_k x load x ep / experts rows (a grouped GEMM whose weight
    traffic dominates when few tokens reach each expert)."""
    t, h = layout.tp, model.hidden
    gate = 2 if model.gated_mlp else 1
    dense = r.gemm(tokens, model.ffn * gate / t, h, el) + r.gemm(tokens, h, model.ffn / t, el)
    if not model.moe:
        return dense
    fe = model.ffn if model.expert_ffn is None else model.expert_ffn
    local = model.experts / layout.ep
    load = model.capacity_factor or model.load_imbalance
    rows = tokens * model.top_k * load * layout.ep / model.experts
    moe = (r.gemm(rows, fe * gate / t, h, el, local) + r.gemm(rows, h, fe / t, el, local)
           + r.gemm(tokens, model.experts, h, el))  # routed experts and the router
    if model.shared_experts:
        sh = model.shared_experts * fe
        moe = moe + r.gemm(tokens, sh * gate / t, h, el) + r.gemm(tokens, h, sh / t, el)
    return (1 - model.moe_share) * dense + model.moe_share * moe


#: A fused (flash) attention core's backward over its forward, in FLOPs: five matmuls (the
#: scores recomputed) against two (Dao 2023, FlashAttention-2, arXiv 2307.08691, Sec. 4.1).
FLASH_BACKWARD_RATIO = 2.5


def transformer_layer_time(model: Transformer, layout: Layout, r: Rates, eff: Efficiency) -> LayerTime:
    """Forward and backward compute time of one transformer layer (communication excluded).

    Context parallelism splits the sequence: each of the cp ranks runs the projections
    and MLP on s / cp tokens and attends its queries to all s keys (ring attention,
    Liu et al. 2023; causal chunks balanced as Megatron-Core does)."""
    t, b, s = layout.tp, layout.micro_batch, model.seq_len
    el = layout.precision.bytes
    sq = s / layout.cp
    tokens = b * sq
    dense = _attention_gemms(model, tokens, t, r, el) + _mlp_gemms(model, tokens, layout, r, el)
    heads = b * model.heads / t
    qk, dv = model.qk_dim, model.head_dim
    # FP8 recipes run the attention core in BF16 (Transformer Engine's fp8_autocast and
    # torchao's float8 convert the linear layers only: stack_evidence.csv fp8 rows)
    ra = r.kept
    if layout.attention is Attention.FLASH and r.attention is not None:
        # the published kernel (Rates.attention) at the length of each call (a context-parallel
        # rank's sq queries): causal, half of the 2 sq s (qk + dv) products per head
        # (FlashAttention's benchmark count, with cp's balanced causal chunks)
        flops = heads * sq * s * (qk + dv)
        fwd, bwd = r.attention_rates(sq)
        core, core_backward = flops / fwd, FLASH_BACKWARD_RATIO * flops / bwd
    elif layout.attention is Attention.FLASH:
        # fused kernel: 2 sq s (qk + dv) FLOP per head, reads Q K V, writes O; no s x s traffic
        core = heads * (2 * sq * s * (qk + dv) / ra.flops_per_s) + ra.stream(heads * (sq + s) * (qk + dv) * el)
        # it keeps no s x s matrix: its backward recomputes the scores (Q K^T) and runs five
        # matmuls against the forward's two, 2.5x the forward's FLOPs where other layers take
        # 2x (Dao 2023, FlashAttention-2, arXiv 2307.08691, Sec. 4.1)
        core_backward = FLASH_BACKWARD_RATIO * core
    else:
        core = ra.gemm(sq, s, qk, el, heads) + ra.gemm(sq, dv, s, el, heads)
        core_backward = 2 * core
    act = layer_activation_bytes(model, layout, b, Recompute.NONE)
    elementwise = r.stream(eff.elementwise_passes * act)
    forward = dense + core + elementwise
    if layout.recompute is Recompute.FULL:
        extra = forward
    elif layout.recompute is Recompute.SELECTIVE:
        core_act = 5 * model.heads * sq * s * b / t * el / 2 if layout.attention is Attention.MATERIALIZED else 0.0
        extra = core + r.stream(eff.elementwise_passes * core_act)
    else:
        extra = 0.0
    backward = 2 * (forward - core) + core_backward + extra
    return LayerTime(forward, backward, core, dense)


def logits_time(model: Transformer, layout: Layout, r: Rates, eff: Efficiency) -> LayerTime:
    """Output layer and fp32 cross-entropy on the last stage (vocabulary split over tp)."""
    tokens = layout.micro_batch * model.seq_len / layout.cp
    el = layout.precision.bytes
    # the output layer stays in BF16 under FP8 recipes (Megatron-Core's output_layer is a
    # tensor_parallel.ColumnParallelLinear, not a Transformer Engine module; assumed the
    # same for torchtitan)
    gemm = r.kept.gemm(tokens, model.vocab / layout.tp, model.hidden, el)
    softmax = r.stream(eff.elementwise_passes * tokens * model.vocab / layout.tp * 4)
    forward = gemm + softmax
    return LayerTime(forward, 2 * forward, 0.0)


def generic_time(model: GenericNetwork, layout: Layout, r: Rates, eff: Efficiency) -> LayerTime:
    """A network known by totals: FLOPs at e_gemm of peak plus activation traffic."""
    b = layout.micro_batch
    forward = model.flops_per_example * b / r.flops_per_s + r.stream(
        eff.elementwise_passes * model.activation_bytes_per_example * b
    )
    extra = forward if layout.recompute is Recompute.FULL else 0.0
    return LayerTime(forward, 2 * forward + extra, 0.0)


#: Adam step traffic per parameter: read fp32 weight, grad, m, v; write weight, m, v
#: and the half-precision copy (4 + 4 + 4 + 4 + 4 + 4 + 4 + 2 bytes, rounded down).
ADAM_BYTES_PER_PARAM = 28


def optimizer_time(local_params, r: Rates):
    """Memory-bound optimizer step over the parameters this device updates
    (costs/memory.optimizer_partition)."""
    return r.stream(ADAM_BYTES_PER_PARAM * local_params)
