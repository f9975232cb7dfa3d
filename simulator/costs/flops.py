"""Floating-point operations of a training step.

Matrix multiplies dominate; a multiply-add counts as 2 FLOP. For a GPT layer with
multi-head attention and a 4h GeLU MLP the forward pass is 24 B s h^2 + 4 B s^2 h,
the logit layer 2 B s h V, and one training step (forward + backward = 3 forward
passes) gives Narayanan et al. 2021, Eq. 3 without recompute:

    72 B s l h^2 (1 + s / 6h + V / 12 l h)

and with full recompute (a second forward pass of every layer, not of the logits)
their 96 B s l h^2 (1 + s / 6h + V / 16 l h). Grouped-query attention and SwiGLU
(three MLP matrices) generalise the terms below. The attention score and value
products (2 x 2 B s^2 h) count in full, as Eq. 3 does, whether or not FlashAttention
keeps the s x s matrix out of memory. A mixture-of-experts layer counts the experts a
token passes through (top-k routed plus shared) and its router (Fedus et al. 2022);
multi-head latent attention counts its down- and up-projections and its wider query/key
heads (DeepSeek-V3 report, Sec. 2.1.1).

Units: counts in, FLOP out. Pure functions; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.core.specs import GenericNetwork, Recompute, Transformer


@dataclass(frozen=True)
class LayerFlops:
    """Forward FLOP of one layer for `batch` sequences, split by kind."""

    dense: float  # projections and MLP matrices
    attention_core: float  # Q K^T and softmax(.) V

    @property
    def total(self) -> float:
        """Dense and attention-core FLOPs together."""
        return self.dense + self.attention_core


def layer_forward_flops(model: Transformer, batch: float) -> LayerFlops:
    """Forward FLOP of one transformer layer on `batch` sequences (whole layer, all tp ranks)."""
    s = model.seq_len
    tokens = batch * s
    attn = 2 * tokens * sum(i * o for i, o in model.attention_mats())
    mlp = 2 * tokens * model.active_mlp_params
    core = 2 * tokens * s * model.heads * (model.qk_dim + model.head_dim)
    return LayerFlops(dense=attn + mlp, attention_core=core)


def logits_forward_flops(model: Transformer, batch: float) -> float:
    """Forward FLOP of the output (logit) layer: 2 B s h V."""
    return 2 * batch * model.seq_len * model.hidden * model.vocab


def recompute_forward_flops(model: Transformer, batch: float, recompute: Recompute) -> float:
    """Extra forward FLOP per layer spent recomputing activations in backward.

    Full: the whole layer again (Chen et al. 2016; Narayanan 2021 Eq. 3).
    Selective: only the attention core (Korthikanti et al. 2022, Sec. 5).
    """
    lf = layer_forward_flops(model, batch)
    if recompute is Recompute.FULL:
        return lf.total
    if recompute is Recompute.SELECTIVE:
        return lf.attention_core
    return 0.0


def model_flops_per_step(model: Transformer | GenericNetwork, global_batch: float) -> float:
    """Model FLOP of one step (forward + backward = 3x forward), no recompute.

    This is what MFU divides by (Chowdhery et al. 2022, App. B); it does not
    depend on the layout.
    """
    if isinstance(model, GenericNetwork):
        return 3 * model.flops_per_example * global_batch
    layer = layer_forward_flops(model, global_batch).total
    return 3 * (model.layers * layer + logits_forward_flops(model, global_batch))


def hardware_flops_per_step(
    model: Transformer | GenericNetwork, global_batch: float, recompute: Recompute
) -> float:
    """Hardware FLOP of one step: model FLOP plus recomputation (what HFU divides by)."""
    base = model_flops_per_step(model, global_batch)
    if isinstance(model, GenericNetwork):
        return base + (model.flops_per_example * global_batch if recompute is Recompute.FULL else 0.0)
    return base + model.layers * recompute_forward_flops(model, global_batch, recompute)


def narayanan_eq3_flops(model: Transformer, global_batch: float, full_recompute: bool) -> float:
    """Closed form of Narayanan et al. 2021 Eq. 3 (MHA, 4h MLP), for tests and checks."""
    b, s, l, h, v = global_batch, model.seq_len, model.layers, model.hidden, model.vocab
    if full_recompute:
        return 96 * b * s * l * h**2 * (1 + s / (6 * h) + v / (16 * l * h))
    return 72 * b * s * l * h**2 * (1 + s / (6 * h) + v / (12 * l * h))
