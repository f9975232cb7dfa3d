"""Everything one training step costs, per pipeline stage: the engine's input.

`step_costs` checks the layout (a result with a reason, never an exception, for
user-level infeasibility), then assembles per virtual stage the forward and backward
time of one micro-batch, the tensor-parallel collectives inside them, the p2p
transfer, the data-parallel and ZeRO collectives, the optimizer step, memory and
FLOPs. The event engine and the closed form both consume this, so they share every
cost function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.catalog.hardware import cluster_host
from simulator.core.specs import (
    DIMENSIONS,
    Cluster,
    Efficiency,
    GenericNetwork,
    Layout,
    Reason,
    Recompute,
    Schedule,
    Stack,
    Transformer,
)
from simulator.costs import collectives as coll
from simulator.costs.compute import (
    ADAM_BYTES_PER_PARAM,
    LayerTime,
    generic_time,
    logits_time,
    optimizer_time,
    rates,
    transformer_layer_time,
)
from simulator.costs.flops import hardware_flops_per_step, model_flops_per_step
from simulator.costs.memory import Memory, device_memory, optimizer_partition
from simulator.costs.rules import Context, first_broken

#: Gradient (and gathered-weight) buckets per chunk (Megatron/DDP buckets as backward proceeds).
MAX_BUCKETS = 8


@dataclass(frozen=True)
class Infeasible:
    reason: Reason
    detail: str


@dataclass(frozen=True)
class StepCosts:
    """Per virtual stage g = chunk * pp + stage (pp * v of them), one micro-batch."""

    layout: Layout
    fwd_compute_s: tuple[float, ...]
    bwd_compute_s: tuple[float, ...]
    fwd_tp_s: tuple[float, ...]
    bwd_tp_s: tuple[float, ...]
    p2p_s: float  # one activation (or gradient) transfer between stages
    p2p_inter: bool  # neighbouring stages talk over the network tier
    dp_reduce_s: float  # gradient reduction of one chunk (all-reduce or reduce-scatter)
    dp_gather_s: float  # ZeRO-1/2: all-gather of updated weights of one chunk
    dp_inter: bool
    dp_overlap: bool  # the reduction runs bucket by bucket during the last backward of each chunk
    # ZeRO-3, per layer: (share of the op's per-layer time, gather s before, reduce-scatter s after)
    zero3_fwd: tuple[tuple[float, float, float], ...]
    zero3_bwd: tuple[tuple[float, float, float], ...]
    layers_per_chunk: int  # ZeRO-3 gathers, and DP buckets form, layer by layer
    optimizer_s: float
    comm_processor_usage: float  # share of the device overlapped collectives occupy
    memory: Memory
    model_flops: float
    hardware_flops: float
    # pipeline across sites (`Layout.site_split` "pp"): the stages are split into blocks of
    # `stages_per_site` consecutive ones (0: one site), and a transfer between stages of two
    # blocks takes `p2p_site_s` over the sites' link instead of `p2p_s`
    p2p_site_s: float = 0.0
    p2p_site_delay_s: float = 0.0  # the fibre's one-way delay in p2p_site_s (the link is free meanwhile)
    stages_per_site: int = 0

    @property
    def n_virtual(self) -> int:
        """Model chunks per pipeline rank (virtual stages)."""
        return len(self.fwd_compute_s)


def stage_layers(layers: int, stages: int) -> tuple[int, ...]:
    """Layers of each (virtual) pipeline stage: as even as possible, the extra layers on
    the middle stages, so the first stage (with the embedding) and the last (with the
    output layer) are the lighter ones, as Megatron-Core's first/last-stage layer options
    and torchtitan's splits allow (Llama 3 405B: 126 layers on 16 stages)."""
    base, extra = divmod(layers, stages)
    order = list(range(1, stages - 1)) + [0, stages - 1] if stages > 2 else list(range(stages))
    out = [base] * stages
    for i in order[:extra]:
        out[i] += 1
    return tuple(out)


def check_layout(model: Transformer | GenericNetwork, cluster: Cluster, layout: Layout,
                 stack: Stack | None = None) -> Infeasible | None:
    """The first structural reason this layout cannot run under `stack`, or None (without a
    stack: DeepSpeed's rules, no ZeRO-2/3 with pipelining). The rules are costs/rules.py's,
    in its order, the same the search applies over arrays."""
    if layout.n_devices != cluster.n_devices:
        return Infeasible(Reason.DEVICES_MISMATCH, f"dp*tp*pp={layout.n_devices}, devices={cluster.n_devices}")
    if cluster.accelerator.peak(layout.precision) is None:
        return Infeasible(Reason.NO_PEAK_AT_PRECISION, f"{cluster.accelerator.name} at {layout.precision.value}")
    ctx = Context(model, cluster, stack)
    rule = first_broken(layout, ctx)
    return None if rule is None else Infeasible(rule.reason, rule.detail(layout, ctx))


#: The rules a scenario file breaks as bad input (its [layout] arithmetic), with the key a user
#: changes; under a named [stack] also the stack's own (its [stack] name). The others (memory,
#: ZeRO with pipelining or the options no stack runs without one, offload, sites for data
#: parallelism) are results of a valid scenario: an infeasible step with its reason.
SCENARIO_KEYS = {
    Reason.MODEL_PARALLEL_UNSUPPORTED: "", Reason.TP_ABOVE_DOMAIN: "tp", Reason.TP_NOT_DIVIDING_HEADS: "tp",
    Reason.PP_NOT_DIVIDING_LAYERS: "pp", Reason.CP_NOT_DIVIDING_SEQ: "cp", Reason.EP_NOT_DIVIDING: "ep",
    Reason.SITES_NOT_DIVIDING_PP: "pp", Reason.BATCH_NOT_DIVISIBLE: "global_batch",
    Reason.TOO_FEW_MICROBATCHES: "global_batch",
}
STACK_RULES = (Reason.ZERO_WITH_PIPELINE, Reason.STACK_UNSUPPORTED)


def check_scenario(sc) -> None:
    """ScenarioError (one line: file, key, value, the rule and its detail) for the first rule of
    costs/rules.py, in its order, that a scenario's layout breaks as bad input (`SCENARIO_KEYS`,
    and `STACK_RULES` when the scenario names its stack); nothing for a search scenario without
    a layout. The command line and the sweep call it on every scenario they load.

    >>> from simulator.catalog.scenario import default_scenario_path, load_scenario
    >>> check_scenario(load_scenario(default_scenario_path())) is None  # the default breaks no rule
    True
    """
    from simulator.catalog.scenario import ScenarioError

    if not sc.has_layout:
        return
    lay, ctx = sc.layout, Context(sc.model, sc.cluster, sc.stack)
    rule = first_broken(lay, ctx, {*SCENARIO_KEYS, *(STACK_RULES if sc.stack is not None else ())})
    if rule is None:
        return
    problem = f"{rule.reason.value} ({rule.detail(lay, ctx)})"
    if rule.reason in STACK_RULES:
        raise ScenarioError(sc.origin, "stack", "name", sc.stack.key, problem=f"{problem}; the [layout] asks for it")
    key = SCENARIO_KEYS[rule.reason] or next(d.key for d in DIMENSIONS if d.splits_model and getattr(lay, d.key) > 1)
    if rule.reason is Reason.PP_NOT_DIVIDING_LAYERS and lay.schedule is Schedule.INTERLEAVED:
        key = "virtual_stages"
    raise ScenarioError(sc.origin, "layout", key, getattr(lay, key), problem=problem)


def module_params(model: Transformer | GenericNetwork) -> tuple[float, ...]:
    """Weights of the matmul modules of one layer, in forward order: QKV, output
    projection, MLP up (and gate), MLP down. Norms and biases are negligible."""
    if isinstance(model, GenericNetwork):
        return (model.params / max(model.layers, 1),)
    h, kv = model.hidden, model.n_kv_heads * model.head_dim
    up = model.ffn * (2 if model.gated_mlp else 1)
    return (h * (h + 2 * kv), h * h, h * up, model.ffn * h)


def zero3_pieces(model, layout: Layout, dp: coll.Group):
    """ZeRO-3 as DeepSpeed runs it (Rajbhandari et al. 2020; measured in Narayanan 2021
    Table 2): module hooks gather each matmul module's weights just before it runs
    (prefetching the next module) and reduce-scatter its gradients after backward,
    on flat rings over the dp ranks. With full recompute the weights are gathered
    again for the recomputed forward, since the hooks release them after any forward.
    Compute of a layer is split over its modules in proportion to their weights (a
    matmul costs 2 x tokens FLOP per weight, the same for every module)."""
    el = layout.precision.bytes
    mods = module_params(model)
    total = sum(mods)
    gathers = [dp.flat_all_gather(p / layout.tp * el) for p in mods]
    shares = [p / total for p in mods]
    fwd = tuple((w, g, 0.0) for w, g in zip(shares, gathers))
    if layout.recompute is Recompute.FULL:  # backward = recomputed forward (1/3) + backward (2/3)
        rec = [(w / 3, g, 0.0) for w, g in zip(shares, gathers)]
        bwd = rec + [(2 * w / 3, g, g) for w, g in reversed(list(zip(shares, gathers)))]
    else:
        bwd = [(w, g, g) for w, g in reversed(list(zip(shares, gathers)))]
    return fwd, tuple(bwd)


@dataclass(frozen=True)
class UnitCosts:
    """Costs of one layer, one micro-batch, one device; numeric layout fields may be
    numpy arrays, and then so is every field here (the layout search scores many
    layouts at once with these; `step_costs` expands one of them per stage)."""

    layers_per_chunk: object  # layers of the most loaded virtual stage
    layers_last: object  # layers of the last virtual stage (it also computes the output layer)
    layers_mean: object  # layers per virtual stage on average
    layer_fwd_s: object  # compute of one layer forward
    layer_bwd_s: object  # compute of one layer backward, recomputation included
    layer_fwd_tp_s: object  # tensor-parallel collectives of one layer forward
    layer_bwd_tp_s: object
    logits_fwd_s: object  # the output layer, on the last virtual stage
    logits_bwd_s: object
    p2p_s: object
    p2p_inter: object
    dp_reduce_s: object
    dp_gather_s: object
    dp_inter: object
    dp_overlap: bool
    zero3_fwd: tuple
    zero3_bwd: tuple
    optimizer_s: object
    memory: Memory | None  # None without `totals` (unit_costs)
    model_flops: object
    hardware_flops: object
    p2p_site_s: object = 0.0  # a transfer between stages at a site boundary (pipeline across sites)
    p2p_site_delay_s: float = 0.0  # the fibre's one-way delay in p2p_site_s
    sites: int = 1  # sites the pipeline spans (1 unless `Layout.site_split` is "pp")


def _hidden(comm, compute, usage: float):
    """Exposed time of `comm` pipelined with `compute`: what outlasts it, plus the share of
    the device its kernels take while they overlap (Calculon's processor usage)."""
    return np.maximum(comm - compute, 0.0) + usage * np.minimum(comm, compute)


#: ZeRO-Offload's traffic per parameter of a rank's partition: its reduced gradient copied
#: to the host in fp32 (cast on the GPU first: stack_evidence.csv deepspeed-offload:host_transfer)
#: and its updated 16-bit weights copied back.
OFFLOAD_BYTES_PER_PARAM = 4 + 2


def offload_time(cluster: Cluster, local_params):
    """The optimizer step under ZeRO-Offload (Ren et al. 2021): the partition's gradients
    down and weights up over the host link, and the Adam step streaming its state through
    the host's memory, shared by the node's devices (catalog/hosts.csv). Not overlapped
    with the next step (DeepSpeed's delayed parameter update is off by default)."""
    link, host_bw = cluster_host(cluster)
    adam = ADAM_BYTES_PER_PARAM * local_params / (host_bw / cluster.devices_per_node)
    return OFFLOAD_BYTES_PER_PARAM * local_params / link.bandwidth_bytes_per_s + adam


def layer_comm(model: Transformer, cluster: Cluster, layout: Layout, eff: Efficiency, lt, stack: Stack | None):
    """Exposed communication inside one layer, forward and backward: tensor-parallel
    all-reduces (or all-gather / reduce-scatter pairs), the ring-attention exchange of
    keys and values, and the expert dispatch and combine all-to-alls."""
    el = layout.precision.bytes
    b, sq, h = layout.micro_batch, model.seq_len / layout.cp, model.hidden
    full = layout.recompute is Recompute.FULL
    usage = eff.comm_processor_usage
    # Megatron: 2 all-reduces per layer forward and 2 backward (with sequence parallelism,
    # as many all-gather + reduce-scatter pairs: the same bytes); full recompute repeats the
    # forward pair. With the stack's tp overlap (Megatron-Core's userbuffers, which need
    # sequence parallelism) they are pipelined with the layer's GEMMs.
    ar = coll.tp_group(cluster, layout, eff).all_reduce(b * sq * h * el)
    f, bw = 2 * ar, (4 if full else 2) * ar
    if stack is not None and stack.tp_overlap and layout.sequence_parallel:
        f, bw = _hidden(f, lt.gemm_forward, usage), _hidden(bw, 2 * lt.gemm_forward, usage)
    if np.any(np.asarray(layout.cp) > 1):  # layouts without context parallelism exchange nothing
        cp_f, cp_b = _context_comm(model, cluster, layout, eff, lt, stack)
        f, bw = f + cp_f, bw + cp_b + (cp_f if full else 0.0)
    return _expert_comm(model, cluster, layout, eff, f, bw, full) if model.moe else (f, bw)


def _context_comm(model: Transformer, cluster: Cluster, layout: Layout, eff: Efficiency, lt, stack: Stack | None):
    """Exposed key/value exchange of context parallelism, forward and backward: ring
    attention hides each of the cp - 1 passes under attention to the chunk in hand
    (Liu et al. 2023; Transformer Engine's p2p), backward passing keys, values and their
    gradients; or an all-gather before the attention and a reduce-scatter after (torchtitan)."""
    cpg = coll.cp_group(cluster, layout, eff)
    kv = layout.micro_batch * model.seq_len / layout.cp * model.kv_width * layout.precision.bytes / layout.tp
    if stack is not None and not stack.cp_ring:
        gather = cpg.all_gather(kv * layout.cp)
        return gather, 2 * gather
    one = cpg.ring_pass(kv)
    ring, core = (layout.cp - 1) * one, lt.attention_core_forward * (layout.cp - 1) / layout.cp
    return (np.where(layout.cp > 1, np.maximum(one, ring - core), 0.0),
            np.where(layout.cp > 1, np.maximum(2 * one, 2 * ring - 2 * core), 0.0))


def _expert_comm(model: Transformer, cluster: Cluster, layout: Layout, eff: Efficiency, f, bw, full: bool):
    """Add the dispatch and combine of each token's top-k copies over the ep group, forward
    and backward (and the recomputed forward)."""
    load = model.capacity_factor or model.load_imbalance
    tokens = layout.micro_batch * model.seq_len / layout.cp
    a2a = coll.ep_group(cluster, layout, eff).all_to_all(
        tokens * model.top_k * load * model.hidden * layout.precision.bytes / layout.tp)
    return f + model.moe_share * 2 * a2a, bw + model.moe_share * (4 if full else 2) * a2a


def _dp_comm(model, cluster: Cluster, layout: Layout, eff: Efficiency, stack: Stack | None, dp, grad_bytes,
             expert_bytes):
    """(gradient reduction, weight gather) of one chunk's gradients over the data-parallel group
    (and its routed experts' over the expert-data-parallel group): an all-reduce without ZeRO, a
    reduce-scatter and an all-gather of the updated weights under ZeRO-1/2, none under ZeRO-3
    (`zero3_pieces` gathers per module)."""
    zero = layout.zero.stage
    moe = isinstance(model, Transformer) and model.moe
    edp = coll.expert_dp_group(cluster, layout, eff) if moe else None
    if zero == 0:
        return dp.all_reduce(grad_bytes) + (edp.all_reduce(expert_bytes) if moe else 0.0), 0.0
    if zero in (1, 2):
        dp_reduce = dp_gather = dp.all_gather(grad_bytes) + (edp.all_gather(expert_bytes) if moe else 0.0)
        if stack is not None and stack.param_gather_overlap:
            # the updated weights are gathered bucket by bucket as the next forward needs
            # them (Megatron-Core --overlap-param-gather; FSDP2 prefetch): the first bucket waits
            dp_gather = dp_gather / MAX_BUCKETS + eff.comm_processor_usage * dp_gather
        return dp_reduce, dp_gather
    return 0.0, 0.0


def unit_costs(
    model: Transformer | GenericNetwork, cluster: Cluster, layout: Layout, eff: Efficiency, stack: Stack | None = None,
    totals: bool = True, lt: LayerTime | None = None,
) -> UnitCosts:
    """Per-layer costs of a structurally valid layout (see `check_layout`) under `stack`;
    without `totals`, the memory and the step's FLOP are left None (the closed-form step
    time reads neither: the layout search computes the memory once per plan itself).
    `lt`: the layout's `transformer_layer_time` where the caller has it already."""
    acc = cluster.accelerator
    r = rates(acc, layout.precision, eff, stack)
    p = layout.pp
    v = layout.virtual_stages if layout.schedule is Schedule.INTERLEAVED else 1
    el = layout.precision.bytes
    dp = coll.dp_group(cluster, layout, eff)
    routed = 0.0
    if isinstance(model, GenericNetwork):
        lt = generic_time(model, layout, r, eff)
        layers_per_chunk = layers_last = layers_mean = max(model.layers, 1)
        fwd, bwd, ftp, btp, lf, lb = lt.forward / layers_per_chunk, lt.backward / layers_per_chunk, 0.0, 0.0, 0.0, 0.0
        chunk_params, p2p_bytes = model.params, 0.0
    else:
        layers_per_chunk = -(-model.layers // (p * v))  # ceil: uneven stages put the extra layers mid-pipeline
        layers_last = model.layers // (p * v)
        layers_mean = model.layers / (p * v)
        lt = transformer_layer_time(model, layout, r, eff) if lt is None else lt
        out = logits_time(model, layout, r, eff)
        ftp, btp = layer_comm(model, cluster, layout, eff, lt, stack)
        fwd, bwd, lf, lb = lt.forward, lt.backward, out.forward, out.backward
        chunk_params = layers_per_chunk * (model.layer_params - model.routed_layer_params)
        routed = layers_per_chunk * model.routed_layer_params / layout.ep
        p2p_bytes = coll.pp_message_bytes(model.seq_len // layout.cp, layout.micro_batch, model.hidden, el, layout.tp)
    intra, inter = coll.tiers(cluster, eff)
    crosses = coll.pp_crosses_nodes(cluster, layout)
    p2p = np.where(crosses, inter.p2p(p2p_bytes), intra.p2p(p2p_bytes))
    sites = coll.pipeline_sites(cluster, layout)
    p2p_site = coll.site_p2p_tier(cluster, layout, eff).p2p(p2p_bytes) if sites > 1 else 0.0
    dp_reduce, dp_gather = _dp_comm(model, cluster, layout, eff, stack, dp, chunk_params / layout.tp * el,
                                    routed / layout.tp * el)
    multi = layout.dp * layout.cp > 1
    zero3_fwd, zero3_bwd = zero3_pieces(model, layout, dp) if layout.zero.stage == 3 else ((), ())
    local = optimizer_partition(model, layout)
    return UnitCosts(
        layers_per_chunk=layers_per_chunk, layers_last=layers_last, layers_mean=layers_mean,
        layer_fwd_s=fwd, layer_bwd_s=bwd, layer_fwd_tp_s=ftp, layer_bwd_tp_s=btp, logits_fwd_s=lf, logits_bwd_s=lb,
        p2p_s=np.where(p > 1, p2p, 0.0), p2p_inter=crosses,
        dp_reduce_s=np.where(multi, dp_reduce, 0.0), dp_gather_s=np.where(multi, dp_gather, 0.0),
        dp_inter=dp.crosses_nodes, dp_overlap=stack is None or stack.dp_overlap,
        zero3_fwd=zero3_fwd, zero3_bwd=zero3_bwd,
        optimizer_s=offload_time(cluster, local) if layout.offload else optimizer_time(local, r),
        memory=device_memory(model, layout, acc.memory_bytes) if totals else None,
        model_flops=model_flops_per_step(model, layout.global_batch) if totals else None,
        hardware_flops=hardware_flops_per_step(model, layout.global_batch, layout.recompute) if totals else None,
        p2p_site_s=p2p_site, p2p_site_delay_s=cluster.site_link.latency_s if sites > 1 else 0.0, sites=sites,
    )  # fmt: skip


def step_costs(
    model: Transformer | GenericNetwork, cluster: Cluster, layout: Layout, eff: Efficiency, stack: Stack | None = None
) -> StepCosts | Infeasible:
    """Assemble the costs of one step per virtual stage, or say why it cannot run."""
    bad = check_layout(model, cluster, layout, stack)
    if bad is not None:
        return bad
    u = unit_costs(model, cluster, layout, eff, stack)
    v = layout.virtual_stages if layout.schedule is Schedule.INTERLEAVED else 1
    n = layout.pp * v
    k = u.layers_per_chunk
    per = stage_layers(model.layers, n) if isinstance(model, Transformer) else (int(k),) * n
    fwd = tuple(float(per[g] * u.layer_fwd_s + (u.logits_fwd_s if g == n - 1 else 0.0)) for g in range(n))
    bwd = tuple(float(per[g] * u.layer_bwd_s + (u.logits_bwd_s if g == n - 1 else 0.0)) for g in range(n))
    dp_on = layout.dp * layout.cp > 1
    return StepCosts(
        layout=layout,
        fwd_compute_s=fwd,
        bwd_compute_s=bwd,
        fwd_tp_s=tuple(float(per[g] * u.layer_fwd_tp_s) for g in range(n)),
        bwd_tp_s=tuple(float(per[g] * u.layer_bwd_tp_s) for g in range(n)),
        p2p_s=float(u.p2p_s),
        p2p_inter=bool(u.p2p_inter),
        dp_reduce_s=float(u.dp_reduce_s),
        dp_gather_s=float(u.dp_gather_s),
        dp_inter=bool(u.dp_inter),
        dp_overlap=u.dp_overlap,
        zero3_fwd=tuple(tuple(float(x) for x in piece) for piece in u.zero3_fwd) if dp_on else (),
        zero3_bwd=tuple(tuple(float(x) for x in piece) for piece in u.zero3_bwd) if dp_on else (),
        layers_per_chunk=int(k),
        optimizer_s=float(u.optimizer_s),
        comm_processor_usage=eff.comm_processor_usage,
        memory=u.memory,
        model_flops=float(u.model_flops),
        hardware_flops=float(u.hardware_flops),
        p2p_site_s=float(u.p2p_site_s),
        p2p_site_delay_s=float(u.p2p_site_delay_s),
        stages_per_site=layout.pp // u.sites if u.sites > 1 else 0,
    )
