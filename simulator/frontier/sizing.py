"""Models sized by the solver: a transformer of any size from a documented shape rule.

A family with `size_rule = "chinchilla"` (catalog/workloads.toml) is not trained from a
menu: for a parameter count N the shape comes from `shape`, and the run that trains it
compute-optimally needs C_opt = 6 N D FLOP with D = tokens_per_param x N tokens
(Hoffmann et al. 2022: about 20 tokens per parameter; 6 N D: Kaplan et al. 2020). The
data it may use is bounded by the text that existed (`tokens_available`) repeated at
most `max_epochs` times (Muennighoff et al. 2023: up to 4 epochs are about as good as
new data), so N <= tokens_available x max_epochs / tokens_per_param.

Shape rule (an engineering rule fitted by eye to published shapes, stated as such in
the README: GPT-3 Table 2.1, Chinchilla and Gopher): aspect ratio r = d_model / layers
of 64 up to 1e9 parameters, 128 up to 2e11, 200 above; d_model = (N r / 12)^(1/3)
rounded to a multiple of 128 (of 1024 from 1e10 parameters, so the head count is a
multiple of 8); layers = d_model / r (a multiple of 8 from 32 layers, so pipeline
stages divide them); head size 64 below 1e9 parameters, else 128; ffn = 4 d_model; sequence 2048 and vocabulary 51,200 (Megatron-LM's padded
GPT-2 vocabulary, Narayanan et al. 2021). It gives GPT-3 175B's 96 x 12288.

Mixture of experts (a family with `moe` design rows): the ladder is over ACTIVE
parameters N_a (the weights one token passes through). The shape is the dense rule for
N_a with its MLP replaced by the design's experts: the same aspect ratio, head size and
rounding, the same attention, and d_model = (N_a r / c)^(1/3) where c is the active
weights of one layer in units of d_model^2 (12 for the dense rule: 4 for attention, 8
for a 4 d_model MLP; for the design: 4, plus 8 on its share of dense layers, plus
(top_k + shared) x 3 x expert width / d_model on the others, SwiGLU experts). The
design's dense layers are SwiGLU MLPs of width 8/3 d_model (the dense rule's 8 d_model^2
weights). Total parameters follow from the experts. Compute-optimal tokens: D = 20 x
N_a (Hoffmann et al.'s ratio read on active parameters) and compute 6 N_a D - the
documented approximation (MoE training compute counted as 6 x active parameters x
tokens, Epoch AI's convention), not a fitted MoE scaling law; the data bound is
likewise on active parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from simulator.core.specs import Transformer

SEQ_LEN = 2048
VOCAB = 51200
#: ladder of sizes tried: factor 2 from 1e8 parameters
SMALLEST_PARAMS = 1e8
LADDER_FACTOR = 2.0


@dataclass(frozen=True)
class MoEDesign:
    """A published mixture-of-experts design, as the sized MoE family uses it: routed
    `experts`, of which each token uses `top_k`, plus `shared` always used, each of width
    `expert_width` x d_model; `dense_share` of the layers keep a dense MLP."""

    experts: int
    top_k: int
    shared: int
    expert_width: float
    dense_share: float = 0.0

    @property
    def active_coefficient(self) -> float:
        """Active weights of one layer / d_model^2 (router excluded; 12 for the dense rule)."""
        return 4.0 + self.dense_share * 8.0 + (1.0 - self.dense_share) * (self.top_k + self.shared) * 3.0 \
            * self.expert_width


def _round_shape(params: float, coefficient: float) -> tuple[int, int, int]:
    """(layers, d_model, head size) of the shape rule for `params` weights whose layer holds
    `coefficient` x d_model^2 of them."""
    r = 64 if params <= 1e9 else 128 if params <= 2e11 else 200
    head = 64 if params < 1e9 else 128
    unit = head * (8 if params >= 1e10 else 1)  # heads a multiple of 8 at scale, so tensor parallelism divides them
    d_model = max(unit, round((params * r / coefficient) ** (1 / 3) / unit) * unit)
    layers = max(2, round(d_model / r))
    layers = layers if layers < 32 else round(layers / 8) * 8  # pipeline stages divide the layers
    return layers, d_model, head


@cache
def shape(params: float, seq_len: int = SEQ_LEN, design: MoEDesign | None = None) -> Transformer:
    """A GPT-style transformer of about `params` parameters (module doc), trained on
    sequences of `seq_len` tokens (the family's length at the date); with a `design`, a
    mixture of experts of about `params` ACTIVE parameters."""
    if design is None:
        layers, d_model, head = _round_shape(params, 12.0)
        return Transformer(name=f"sized-{params:.3g}", layers=layers, hidden=d_model, heads=d_model // head,
                           seq_len=int(seq_len), vocab=VOCAB, source="frontier/sizing.py shape rule")
    layers, d_model, head = _round_shape(params, design.active_coefficient)
    return Transformer(name=f"sized-moe-{params:.3g}", layers=layers, hidden=d_model, heads=d_model // head,
                       seq_len=int(seq_len), vocab=VOCAB, ffn_hidden=round(8 * d_model / 3), gated_mlp=True,
                       experts=design.experts, top_k=design.top_k, shared_experts=design.shared,
                       expert_ffn=max(1, round(design.expert_width * d_model)),
                       dense_layers=round(design.dense_share * layers),
                       source="frontier/sizing.py shape rule, MoE design of the date")


@cache
def sizes_up_to(max_params: float, seq_len: int = SEQ_LEN, design: MoEDesign | None = None) -> tuple[float, ...]:
    """The ladder's sizes whose shaped model has at most `max_params` (active) parameters."""
    return tuple(p for p in ladder(max_params) if shape(p, seq_len, design).active_params <= max_params)


#: the ladder stops here when no data bound applies (1e15 parameters: past any run's reach)
LARGEST_PARAMS = 1e15


def ladder(max_params: float) -> list[float]:
    """Parameter counts tried, smallest first, up to `max_params`."""
    out, n = [], SMALLEST_PARAMS
    while n <= min(max_params, LARGEST_PARAMS):
        out.append(n)
        n *= LADDER_FACTOR
    return out


#: Kaplan et al. 2020 (arXiv 2001.08361) Sec. 6.1, Eq. 6.1: N_opt = 1.3e9 (C_min / PF-day)^0.73
#: non-embedding parameters (constants as quoted by the paper's Eq. 6.1; from memory - verify 1.3e9).
KAPLAN_N_OPT_AT_PF_DAY = 1.3e9
KAPLAN_N_OPT_EXPONENT = 0.73
PF_DAY_FLOP = 1e15 * 86400


def optimal_flop(model: Transformer, rule: str, tokens_per_param: float = 20.0) -> float:
    """Compute of a compute-optimal run of `model` under `rule`: "chinchilla", 6 N D
    with D = tokens_per_param x N (Hoffmann et al. 2022); "kaplan", the compute whose
    optimal non-embedding size is the model's (Kaplan et al. 2020, Eq. 6.1 inverted).
    N is the active parameters (all of them for a dense model)."""
    if rule == "kaplan":
        n_ne = float(model.layers * model.active_layer_params)
        return PF_DAY_FLOP * (n_ne / KAPLAN_N_OPT_AT_PF_DAY) ** (1.0 / KAPLAN_N_OPT_EXPONENT)
    n = float(model.active_params)
    return 6.0 * n * tokens_per_param * n


def max_params(tokens_available: float, max_epochs: float, tokens_per_param: float | None) -> float:
    """Largest (active) model whose compute-optimal data exists (no bound without a
    tokens-per-parameter rule)."""
    if not tokens_per_param or not math.isfinite(tokens_available):
        return math.inf
    return tokens_available * max_epochs / tokens_per_param


def data_flop(model: Transformer, tokens_available: float, max_epochs: float) -> float:
    """The most compute training `model` can use: 6 N_active x every token that exists, repeated."""
    return 6.0 * float(model.active_params) * tokens_available * max_epochs
