"""The structural rules of a layout, written once.

Each rule is a predicate over the layout's fields that holds where the layout cannot run.
It is evaluated on a `Layout` (scalars: `costs.step.check_layout`, which reports the first
failing rule with its detail) and on a search group (`search.space.structural_reasons`:
the categorical options shared, the numeric fields tp, pp, dp, cp, ep, micro_batch and
global_batch as arrays), so both report the same first reason for the same layout, in
the order of `RULES`. Memory is not a structural rule (costs/memory.py).

The rules and where they come from, in their order (the dimensions' own rules first,
then the batch's):
- a workload known only by totals (GenericNetwork) admits data parallelism only;
- Megatron places tp ranks innermost: a group stays in one node if tp divides the node,
  or spans whole nodes if tp is a multiple of it (the search space may forbid this:
  `SearchSpace.tp_across_nodes`); a torus has no nodes to split;
- tp divides the attention heads (and the kv heads, or is a multiple of them);
- pp x virtual stages fit the layers; interleaving needs equal virtual stages unless
  the stack places uneven ones (Megatron-Core, torchtitan); without a stack uneven
  1F1B/GPipe stages are allowed;
- ZeRO-2/3 with pipelining only where the stack allows it (DeepSpeed: "ZeRO-2 and ZeRO-3
  are incompatible with pipeline parallelism"; torchtitan's FSDP2 keeps the weights
  between forward and backward under pipelining, ZeRO-2 semantics);
- 2 x cp divides the sequence (Megatron-Core balances causal attention over 2 cp chunks);
- ep divides the experts and dp x cp;
- with several sites, each site holds whole replicas (sites divide dp x cp and
  dp x cp / ep) or, split by pipeline, a block of stages (sites divide pp);
- optimizer offload needs ZeRO and a documented host (catalog/hosts.csv);
- the stack runs every option asked for (`Stack.asks`);
- the global batch is within the search space's limit (search only);
- the global batch splits into whole micro-batches per replica;
- interleaving needs micro-batches divisible by pp.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulator.catalog.hardware import cluster_host
from simulator.core.specs import DIMENSIONS, Cluster, GenericNetwork, Reason, Schedule, SearchSpace, Stack, Transformer

Model = Transformer | GenericNetwork


@dataclass(frozen=True)
class Context:
    """What the rules read besides the layout."""

    model: Model
    cluster: Cluster
    stack: Stack | None
    space: SearchSpace | None = None  # None: a layout checked on its own (no search limits)


@dataclass(frozen=True)
class Rule:
    reason: Reason
    fails: Callable  # (layout or group, Context) -> bool or bool array
    detail: Callable  # (layout, Context) -> str, for the scalar report
    transformer: bool = False  # applies to transformers only


def _virtual(x):
    return x.virtual_stages if x.schedule is Schedule.INTERLEAVED else 1


def _sites_pp(x, c: Context):
    sites = c.cluster.sites
    if sites <= 1 or x.site_split != "pp":
        return False
    return (x.pp % sites != 0) | (c.cluster.site_link is None)


def _sites_dp(x, c: Context):
    sites = c.cluster.sites
    if sites <= 1 or x.site_split == "pp":
        return False
    return ((x.dp * x.cp) % sites != 0) | ((x.dp * x.cp // x.ep) % sites != 0) | (c.cluster.site_link is None)


def _tp_outside(x, c: Context):
    node = c.cluster.devices_per_node
    if c.cluster.intra_link.torus:  # any tp forms rings along the mesh axes
        return False
    inside = node % x.tp == 0
    if c.space is None or c.space.tp_across_nodes:
        inside = inside | (x.tp % node == 0)
    return np.logical_not(inside)


def _pp_layers(x, c: Context):
    layers, v = c.model.layers, _virtual(x)
    uneven_ok = c.stack is not None and c.stack.uneven_stages
    chunks = x.pp * v
    return ((chunks > layers) | ((v > 1) & (layers % chunks != 0) & (not uneven_ok))
            | ((layers % x.pp != 0) & (c.stack is not None and not uneven_ok)))


#: The dimensions that split the model within a replica (`DIMENSIONS`: all but dp).
_MODEL_SPLITS = tuple(d.key for d in DIMENSIONS if d.splits_model)


def _splits_model(x):
    """Whether a layout (or each of a group's candidates) uses a dimension of `_MODEL_SPLITS`."""
    out = False
    for key in _MODEL_SPLITS:
        out = out | (getattr(x, key) > 1)
    return out


def _zero_pp(x, c: Context):
    limit = c.stack.max_zero_with_pipeline if c.stack is not None else 1
    return (x.zero.stage > limit) & (x.pp > 1)


def _stack(x, c: Context):
    if c.stack is None:
        return False
    out = False
    for asks, has, _ in c.stack.asks(x):
        if not has:
            out = out | asks
    return out


def _microbatches(x, c: Context):
    if _virtual(x) <= 1:
        return False
    return (x.global_batch // (x.dp * x.micro_batch)) % x.pp != 0


RULES: tuple[Rule, ...] = (
    Rule(Reason.MODEL_PARALLEL_UNSUPPORTED, lambda x, c: isinstance(c.model, GenericNetwork) & _splits_model(x),
         lambda x, c: f"{c.model.name}: tp={x.tp}, pp={x.pp}"),
    Rule(Reason.TP_ABOVE_DOMAIN, _tp_outside, lambda x, c: f"tp={x.tp}, {c.cluster.devices_per_node} per node",
         transformer=True),
    Rule(Reason.TP_NOT_DIVIDING_HEADS,
         lambda x, c: (c.model.heads % x.tp != 0) | ((c.model.n_kv_heads % x.tp != 0) & (x.tp % c.model.n_kv_heads != 0)),
         lambda x, c: f"tp={x.tp}, heads={c.model.heads}", transformer=True),
    Rule(Reason.PP_NOT_DIVIDING_LAYERS, _pp_layers,
         lambda x, c: f"layers={c.model.layers}, pp={x.pp}, v={_virtual(x)}", transformer=True),
    Rule(Reason.ZERO_WITH_PIPELINE, _zero_pp,
         lambda x, c: f"zero={x.zero.stage}, pp={x.pp}" + (f" under {c.stack.key}" if c.stack is not None else "")),
    Rule(Reason.CP_NOT_DIVIDING_SEQ, lambda x, c: (x.cp > 1) & (c.model.seq_len % (2 * x.cp) != 0),
         lambda x, c: f"seq_len={c.model.seq_len}, cp={x.cp}", transformer=True),
    Rule(Reason.EP_NOT_DIVIDING,
         lambda x, c: (x.ep > 1) & ((max(c.model.experts, 1) % x.ep != 0) | ((x.dp * x.cp) % x.ep != 0)),
         lambda x, c: f"ep={x.ep}, experts={c.model.experts}, dp x cp={x.dp * x.cp}", transformer=True),
    Rule(Reason.SITES_NOT_DIVIDING, _sites_dp,
         lambda x, c: f"dp x cp={x.dp * x.cp}, ep={x.ep}, sites={c.cluster.sites}"),
    Rule(Reason.SITES_NOT_DIVIDING_PP, _sites_pp, lambda x, c: f"pp={x.pp}, sites={c.cluster.sites}"),
    Rule(Reason.OFFLOAD_UNSUPPORTED,
         lambda x, c: x.offload and (x.zero.stage < 1 or cluster_host(c.cluster) is None),
         lambda x, c: f"zero={x.zero.stage}, {c.cluster.accelerator.name}"),
    Rule(Reason.STACK_UNSUPPORTED, _stack, lambda x, c: f"{c.stack.key} has {c.stack.lacks(x)}"),
    Rule(Reason.BATCH_ABOVE_LIMIT,
         lambda x, c: c.space is not None and c.space.max_global_batch is not None
         and (x.global_batch > c.space.max_global_batch),
         lambda x, c: f"global batch {x.global_batch} > {c.space.max_global_batch}"),
    Rule(Reason.BATCH_NOT_DIVISIBLE, lambda x, c: x.global_batch % (x.dp * x.micro_batch) != 0,
         lambda x, c: f"global batch {x.global_batch} vs dp {x.dp} x micro-batch {x.micro_batch}"),
    Rule(Reason.TOO_FEW_MICROBATCHES, _microbatches,
         lambda x, c: f"micro-batches={x.global_batch // (x.dp * x.micro_batch)}, pp={x.pp}"),
)

#: The reasons of the structural rules, in the order they are checked.
ORDER: tuple[Reason, ...] = tuple(r.reason for r in RULES)


def applies(rule: Rule, model: Model) -> bool:
    """Whether `rule` concerns `model` (transformer-only rules skip other networks)."""
    return not rule.transformer or isinstance(model, Transformer)


def first_broken(x, ctx: Context, reasons=None) -> Rule | None:
    """The first rule, in `RULES`' order, that a scalar layout `x` breaks (among `reasons`
    when given), or None: the one loop `costs.step.check_layout` and `check_scenario` share."""
    return next((r for r in RULES if (reasons is None or r.reason in reasons) and applies(r, ctx.model)
                 and r.fails(x, ctx)), None)
