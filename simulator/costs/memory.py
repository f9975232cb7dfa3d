"""Memory per device: weights, gradients, optimizer state, activations.

Model states (Rajbhandari et al. 2020, "ZeRO", Sec. 3.1): mixed-precision Adam keeps
half-precision weights (2 B/param) and gradients (2 B/param) plus K = 12 B/param of
fp32 master weights, momentum and variance. ZeRO stage 1 shards the optimizer state
over data-parallel ranks, stage 2 also the gradients, stage 3 also the weights.

Activations per layer and micro-batch (Korthikanti et al. 2022, Sec. 4, bytes, with
s = sequence, b = micro-batch, h = hidden, a = heads, t = tensor parallel):

    no recompute:                 s b h (10 + 24 / t) + 5 a s^2 b / t
    + sequence parallel:          s b h (34 / t)      + 5 a s^2 b / t
    selective recompute:          the 5 a s^2 b / t attention-core term is dropped
    full recompute:               only the layer input, 2 s b h (/ t with SP)

The 34 splits into 11 (attention) + 19 (MLP) + 4 (layer norms); we generalise the
K, V and MLP parts for grouped-query attention and SwiGLU. FlashAttention stores no
s x s matrix, so its 5 a s^2 b term is zero. In-flight micro-batches on the first
stage: GPipe m, 1F1B min(m, p), interleaved p (1 + (p - 1) / (p v)) (Narayanan 2021).

Units: counts in, bytes out. Pure functions; the numeric layout fields may be numpy
arrays (the layout search scores many layouts at once).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.core.specs import (
    Attention,
    GenericNetwork,
    Layout,
    Precision,
    Recompute,
    Schedule,
    Transformer,
)

#: Adam optimizer state per parameter in mixed precision (ZeRO paper's K).
OPTIMIZER_BYTES_MIXED = 12
#: Adam state when training in fp32: momentum and variance (weights are the master).
OPTIMIZER_BYTES_FP32 = 8
#: Logits and their softmax gradient are kept in fp32 (Megatron's cross-entropy).
LOGIT_BYTES = 4


@dataclass(frozen=True)
class Memory:
    """Peak memory of the most loaded device (bytes)."""

    weights: float
    gradients: float
    optimizer: float
    activations: float
    capacity: float

    @property
    def total(self) -> float:
        """Bytes per device: weights, gradients, optimizer state and activations."""
        return self.weights + self.gradients + self.optimizer + self.activations

    @property
    def fits(self):
        """Whether the total fits the device's memory."""
        return self.total <= self.capacity


def stage_params_split(model: Transformer | GenericNetwork, layout: Layout) -> tuple[float, float]:
    """(replicated, routed-expert) parameters held by the first pipeline stage on one
    tensor rank (the largest stage: its layers plus the input embedding; Megatron keeps a
    tied copy on the last stage). Routed experts are split over the ep ranks."""
    if isinstance(model, GenericNetwork):
        return model.params / (layout.tp * layout.pp), 0.0
    layers = np.ceil(model.layers / layout.pp)  # uneven stages: the most loaded one
    routed = layers * model.routed_layer_params
    dense = layers * model.layer_params - routed + model.embedding_params
    return dense / layout.tp, routed / (layout.tp * layout.ep)


def stage_params(model: Transformer | GenericNetwork, layout: Layout) -> float:
    """All parameters of the first pipeline stage on one device (see stage_params_split)."""
    dense, routed = stage_params_split(model, layout)
    return dense + routed


def expert_shard(layout: Layout):
    """Ranks sharing one set of experts, over which ZeRO shards their states: dp x cp / ep."""
    return layout.dp * layout.cp / layout.ep


def optimizer_partition(model: Transformer | GenericNetwork, layout: Layout):
    """Parameters whose optimizer step this device runs: its stage's replicated parameters
    over the ZeRO group (dp x cp) and its routed experts over `expert_shard`; all of them
    without ZeRO."""
    dense, routed = stage_params_split(model, layout)
    if layout.zero.stage < 1:
        return dense + routed
    return dense / (layout.dp * layout.cp) + routed / expert_shard(layout)


def layer_activation_bytes(model: Transformer, layout: Layout, micro_batch: float,
                           recompute: Recompute | None = None) -> float:
    """Activation bytes one layer keeps for backward, per micro-batch, per device, under
    `recompute` (None: the layout's).

    Korthikanti et al. 2022 Eq. (Sec. 4.1-4.3), generalised to GQA and SwiGLU; see the
    module docstring. With full recompute this is the stored layer input only.
    """
    rc = layout.recompute if recompute is None else recompute
    s, b, h, t = model.seq_len / layout.cp, micro_batch, model.hidden, layout.tp
    el = layout.precision.bytes / 2  # the formula counts 2-byte elements
    kv_ratio = model.kv_width / (2 * h)
    q_ratio = model.heads * model.qk_dim / h
    ffn_ratio = model.ffn / h
    mlp = ffn_ratio * (6 if model.gated_mlp else 4)
    if model.moe:  # routed copies of the input, the experts' intermediates, shared experts
        fe = (model.ffn if model.expert_ffn is None else model.expert_ffn) / h
        load = (model.capacity_factor or model.load_imbalance) * model.top_k
        moe = 2 * load + (load + model.shared_experts) * fe * (6 if model.gated_mlp else 4)
        mlp = (1 - model.moe_share) * mlp + model.moe_share * moe
    sp = layout.sequence_parallel
    if rc is Recompute.FULL:
        return 2 * s * b * h * el / (t if sp else 1)
    # Replicated across tp ranks unless sequence parallel: layer-norm inputs (4),
    # QKV and MLP inputs (2 + 2), two dropout masks (1 + 1, one byte each).
    replicated = 10.0
    # Split across tp ranks: Q (2), K and V (2 + 2, scaled for GQA), projection
    # input (2), MLP intermediate (4 ffn/h for GeLU in/out; 6 ffn/h for SwiGLU).
    split = 2 * q_ratio + 4 * kv_ratio + 2 + mlp
    per_token = (replicated + split) / t if sp else replicated + split / t
    dense = s * b * h * per_token * el
    core = 0.0
    if layout.attention is Attention.MATERIALIZED and rc is Recompute.NONE:
        core = 5 * model.heads * s * model.seq_len * b / t * el
    return dense + core


def inflight_microbatches(layout: Layout):
    """Micro-batches whose activations the first stage holds at its peak."""
    m, p, v = layout.n_microbatches, layout.pp, layout.virtual_stages
    if layout.schedule is Schedule.GPIPE:
        return m
    if layout.schedule is Schedule.INTERLEAVED:
        held = np.minimum(m, p * (1 + (p - 1) / (p * v)))
    else:
        held = np.minimum(m, p)
    return np.where(p == 1, 1, held) + 0.0


def activation_bytes(model: Transformer | GenericNetwork, layout: Layout) -> float:
    """Peak activation bytes on the most loaded device (first or last stage)."""
    b = layout.micro_batch
    if isinstance(model, GenericNetwork):
        kept = model.activation_bytes_per_example * b
        if layout.recompute is Recompute.FULL:
            kept = kept / max(model.layers, 1) ** 0.5  # sqrt(n) checkpointing (Chen 2016)
        return kept * inflight_microbatches(layout)
    layers = np.ceil(model.layers / layout.pp)
    stored = layers * layer_activation_bytes(model, layout, b) * inflight_microbatches(layout)
    if layout.recompute is not Recompute.NONE:
        # the layer being recomputed holds its full activations during its backward
        stored += layer_activation_bytes(model, layout, b, Recompute.NONE)
    logits = b * model.seq_len / layout.cp * model.vocab / layout.tp * LOGIT_BYTES * 2
    return np.maximum(stored, stored / np.maximum(inflight_microbatches(layout), 1) + logits)


def model_state_bytes(params: float, layout: Layout, shard=None) -> tuple[float, float, float]:
    """(weights, gradients, optimizer) bytes for `params` on one device under ZeRO, sharded
    over `shard` ranks (by default dp x cp, Megatron's distributed-optimizer group; routed
    experts over dp x cp / ep). ZeRO-Offload keeps the optimizer state in host memory."""
    mixed = layout.precision is not Precision.FP32
    w_bytes = layout.precision.bytes if mixed else 4
    opt_bytes = OPTIMIZER_BYTES_MIXED if mixed else OPTIMIZER_BYTES_FP32
    stage = layout.zero.stage
    dp = layout.dp * layout.cp if shard is None else shard
    weights = params * w_bytes / (dp if stage >= 3 else 1)
    grads = params * w_bytes / (dp if stage >= 2 else 1)
    optim = 0.0 if layout.offload else params * opt_bytes / (dp if stage >= 1 else 1)
    return weights, grads, optim


#: DeepSpeed's `stage3_max_live_parameters` default: gathered weights kept at once.
ZERO3_MAX_LIVE_PARAMS = 1e9


def zero3_working_bytes(model: Transformer | GenericNetwork, layout: Layout) -> float:
    """ZeRO-3 gathers the weights of the running layer and prefetches the next, up to
    DeepSpeed's live-parameter limit."""
    if layout.zero.stage < 3:
        return 0.0
    if isinstance(model, GenericNetwork):
        per_layer, layers = model.params / max(model.layers, 1), model.layers / layout.pp
    else:
        per_layer, layers = model.layer_params, model.layers / layout.pp
    live = np.minimum(np.minimum(2, layers) * per_layer / layout.tp, ZERO3_MAX_LIVE_PARAMS)
    return np.where(layout.dp > 1, live * layout.precision.bytes, 0.0)


def device_memory(model: Transformer | GenericNetwork, layout: Layout, capacity: float) -> Memory:
    """Peak memory of the most loaded device, with its capacity for the fit check."""
    dense, routed = stage_params_split(model, layout)
    weights, grads, optim = model_state_bytes(dense, layout)
    if isinstance(model, Transformer) and model.moe:
        ew, eg, eo = model_state_bytes(routed, layout, expert_shard(layout))
        weights, grads, optim = weights + ew, grads + eg, optim + eo
    weights = weights + zero3_working_bytes(model, layout)
    parts = (weights, grads, optim, activation_bytes(model, layout))
    if all(np.ndim(x) == 0 for x in parts):  # one layout: plain floats
        parts = tuple(float(x) for x in parts)
    return Memory(*parts, capacity)
