"""Frozen descriptions of what is trained (Model), where (Cluster) and how (Layout).

Calculon's split: the three are kept apart in code and in scenario files. All
quantities are SI; catalog loaders convert human units once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property


class _Choice(enum.Enum):
    """An enum parsed from a string once; errors list the allowed values."""

    @classmethod
    def parse(cls, text: str):
        """The member named `text` (its value or its name, any case); ValueError listing the allowed ones."""
        key = str(text).strip().lower()
        for member in cls:
            if member.value == key or member.name.lower() == key:
                return member
        raise ValueError(f"must be one of {cls.allowed()}")

    @classmethod
    def allowed(cls) -> str:
        """The members' values, comma-separated (for messages)."""
        return ", ".join(m.value for m in cls)


class Precision(_Choice):
    """Number format of the matrix multiplies (the peak used); fp8 stores 2 bytes (see `bytes`)."""

    FP32 = "fp32"
    TF32 = "tf32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8 = "fp8"

    @property
    def bytes(self) -> int:
        """Bytes of one weight, activation or gradient element stored and communicated.

        FP8 training runs the matrix multiplies at the FP8 peak and keeps weights,
        activations and gradients in BF16 (Micikevicius et al. 2022, 'FP8 Formats for Deep
        Learning', arXiv 2209.05433, Sec. 4: FP8 GEMM inputs, higher-precision master
        weights, outputs and other operations; NVIDIA Transformer Engine's fp8_autocast,
        catalog/stack_evidence.csv 'megatron-core-2024:fp8'), so it stores 2 bytes."""
        return {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "fp8": 2}[self.value]


class Schedule(_Choice):
    """Pipeline schedule: GPipe (all forwards, then all backwards), 1F1B, or interleaved 1F1B (virtual stages)."""

    GPIPE = "gpipe"
    ONE_F_ONE_B = "1f1b"
    INTERLEAVED = "interleaved"


class Recompute(_Choice):
    """Activation recomputation: none, selective (the attention core) or full (each layer's forward again)."""

    NONE = "none"
    SELECTIVE = "selective"
    FULL = "full"


class Zero(_Choice):
    """ZeRO sharding over data-parallel ranks: 0 none, 1 optimizer state, 2 + gradients, 3 + parameters."""

    STAGE_0 = "0"
    STAGE_1 = "1"
    STAGE_2 = "2"
    STAGE_3 = "3"

    @property
    def stage(self) -> int:
        """The ZeRO stage as a number (0-3)."""
        return int(self.value)


class Attention(_Choice):
    """FLASH: fused kernel, no s x s score matrix in memory (FLOPs still count).
    MATERIALIZED: scores and softmax written to memory (Megatron before 2022)."""

    FLASH = "flash"
    MATERIALIZED = "materialized"


class Reason(enum.Enum):
    """Why a layout or run is infeasible. A result, never an exception."""

    OUT_OF_MEMORY = "out of memory"
    DEVICES_MISMATCH = "dp x tp x pp differs from the device count"
    TP_NOT_DIVIDING_HEADS = "tp does not divide the attention heads"
    TP_ABOVE_DOMAIN = "tp does not divide the node (its group would leave the scale-up domain)"
    PP_NOT_DIVIDING_LAYERS = "pp (x virtual stages) does not divide the layers"
    BATCH_NOT_DIVISIBLE = "global batch not divisible by dp x micro-batch"
    TOO_FEW_MICROBATCHES = "interleaving needs micro-batches divisible by pp"
    BATCH_ABOVE_LIMIT = "global batch above the limit"
    ZERO_WITH_PIPELINE = "ZeRO-2/3 cannot be combined with pipeline parallelism"
    MODEL_PARALLEL_UNSUPPORTED = "workload admits data parallelism only"
    STACK_UNSUPPORTED = "the software stack does not run this layout"
    CP_NOT_DIVIDING_SEQ = "2 x cp does not divide the sequence"
    EP_NOT_DIVIDING = "ep does not divide the experts or dp x cp (or the model has no experts)"
    SITES_NOT_DIVIDING = "the sites do not divide dp x cp (each site holds whole replicas)"
    SITES_NOT_DIVIDING_PP = "the sites do not divide pp (each site holds a block of pipeline stages)"
    OFFLOAD_UNSUPPORTED = "optimizer offload needs ZeRO (stage 1+) and a documented host (catalog/hosts.csv)"
    NO_PEAK_AT_PRECISION = "accelerator has no peak FLOP/s at this precision"


@dataclass(frozen=True)
class Accelerator:
    """One device. Peak FLOP/s are dense (no sparsity) per precision."""

    name: str
    vendor: str
    kind: str
    release_date: date | None
    peak_flops_per_s: dict[Precision, float] = field(hash=False, compare=True)
    memory_bytes: float
    memory_bandwidth_bytes_per_s: float | None
    scale_up_bandwidth_bytes_per_s: float | None  # per direction, per device
    scale_up_domain: int | None
    tdp_w: float | None
    purchase_price_usd: float | None
    cloud_price_usd_per_hour: float | None
    source: str = ""

    def peak(self, precision: Precision) -> float | None:
        """Dense peak FLOP/s at a precision; bf16 and fp16 share tensor-core peaks."""
        p = self.peak_flops_per_s
        if precision in p:
            return p[precision]
        if precision is Precision.BF16 and Precision.FP16 in p:
            return p[Precision.FP16]
        if precision is Precision.FP16 and Precision.BF16 in p:
            return p[Precision.BF16]
        if precision is Precision.TF32 and Precision.FP32 in p:
            return p[Precision.FP32]
        return None


@dataclass(frozen=True)
class Link:
    """A link tier as seen by one device: bandwidth per direction, per device."""

    name: str
    bandwidth_bytes_per_s: float
    latency_s: float
    source: str = ""
    torus: tuple[int, ...] = ()  # a torus's shape (TPU ICI): collectives run per dimension


@dataclass(frozen=True)
class Cluster:
    """Where a model runs: n devices, grouped in nodes (scale-up domains)."""

    accelerator: Accelerator
    n_devices: int
    devices_per_node: int
    intra_link: Link  # inside a node / scale-up domain (NVLink, ICI, PCIe)
    inter_link: Link  # between nodes, per device (InfiniBand, Ethernet)
    sites: int = 1  # sites the devices are spread over evenly (data or pipeline parallelism spans them)
    site_link: Link | None = None  # between sites: bandwidth per site and direction, one-way latency
    # (link from a device to its host, host memory bandwidth per node in bytes/s), where optimizer
    # offload goes; None: the documented system of a catalog accelerator (catalog/hosts.csv,
    # `catalog.hardware.cluster_host`), so an accelerator of one's own can name its host here
    host: tuple[Link, float] | None = None

    @property
    def n_nodes(self) -> int:
        """Nodes of the cluster (the last one may be partly filled)."""
        return -(-self.n_devices // self.devices_per_node)


@dataclass(frozen=True)
class Transformer:
    """A GPT-style decoder: what is trained. `gated_mlp` means SwiGLU (3 matrices).

    Mixture of experts (`experts` > 0): every layer after the first `dense_layers` has
    `experts` routed MLPs of width `expert_ffn`, of which each token uses `top_k`, plus
    `shared_experts` always used (Fedus et al. 2022; Jiang et al. 2024, Mixtral; DeepSeek-AI
    2024, DeepSeek-V3). `capacity_factor` pads every expert to that multiple of its mean
    load (GShard, Switch); None is dropless routing, the busiest expert then carrying
    `load_imbalance` x the mean. Multi-head latent attention (`kv_lora_rank`, DeepSeek-V2/V3)
    projects keys and values through a rank-`kv_lora_rank` latent, queries through
    `q_lora_rank`, with `rope_head_dim` extra query/key dimensions per head."""

    name: str
    layers: int
    hidden: int
    heads: int
    seq_len: int
    vocab: int
    kv_heads: int | None = None  # None: equal to heads (multi-head attention)
    ffn_hidden: int | None = None  # None: 4 x hidden
    gated_mlp: bool = False
    source: str = ""
    experts: int = 0
    top_k: int = 1
    expert_ffn: int | None = None  # None: ffn
    shared_experts: int = 0
    dense_layers: int = 0
    capacity_factor: float | None = None
    load_imbalance: float = 1.0
    head_size: int | None = None  # None: hidden / heads
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    rope_head_dim: int = 0

    @property
    def n_kv_heads(self) -> int:
        """Key/value heads (the attention heads without grouped-query attention)."""
        return self.heads if self.kv_heads is None else self.kv_heads

    @property
    def ffn(self) -> int:
        """Width of the MLP (4 x hidden unless stated)."""
        return 4 * self.hidden if self.ffn_hidden is None else self.ffn_hidden

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden // self.heads if self.head_size is None else self.head_size

    @property
    def moe(self) -> bool:
        """Whether the model has routed experts."""
        return self.experts > 0

    @property
    def moe_share(self) -> float:
        """Share of the layers with routed experts."""
        return (self.layers - self.dense_layers) / self.layers if self.moe else 0.0

    @property
    def mla(self) -> bool:
        """Whether the model uses multi-head latent attention."""
        return self.kv_lora_rank is not None

    @property
    def qk_dim(self) -> int:
        """Query/key width of one head (rotary dimensions included)."""
        return self.head_dim + self.rope_head_dim

    @property
    def kv_width(self) -> int:
        """Key plus value elements per token that context parallelism exchanges."""
        if self.mla:
            return self.heads * (self.qk_dim + self.head_dim)
        return 2 * self.n_kv_heads * self.head_dim

    def attention_mats(self) -> tuple[tuple[int, int], ...]:
        """(inputs, outputs) of each attention matrix per token, in forward order; the
        last is the output projection (row-parallel under tp)."""
        return self._attention_mats

    @cached_property
    def _attention_mats(self) -> tuple[tuple[int, int], ...]:
        h, a, d = self.hidden, self.heads, self.head_dim
        if self.mla:
            q = ((h, self.q_lora_rank), (self.q_lora_rank, a * self.qk_dim)) if self.q_lora_rank else (
                (h, a * self.qk_dim),)
            kv = ((h, self.kv_lora_rank + self.rope_head_dim), (self.kv_lora_rank, a * 2 * d))
            return q + kv + ((a * d, h),)
        return ((h, a * d + 2 * self.n_kv_heads * d), (a * d, h))

    @cached_property
    def expert_params(self) -> int:
        """Weights of one expert MLP."""
        f = self.ffn if self.expert_ffn is None else self.expert_ffn
        return (3 if self.gated_mlp else 2) * self.hidden * f

    @cached_property
    def routed_layer_params(self) -> float:
        """Routed-expert weights per layer, averaged over the layers (what ep shards)."""
        return self.moe_share * self.experts * self.expert_params

    @cached_property
    def layer_params(self) -> float:
        """Weights of one layer, averaged over the layers: attention, MLP (or experts, their
        router and shared experts), layer norms; biases of dense models included."""
        h = self.hidden
        attn = sum(i * o for i, o in self.attention_mats())
        if not self.mla:
            attn += self.attention_mats()[0][1] + h
        mlp_mats = 3 if self.gated_mlp else 2
        mlp = mlp_mats * h * self.ffn + self.ffn + h
        if self.moe:
            per_moe = (self.experts + self.shared_experts) * self.expert_params + h * self.experts
            mlp = (self.dense_layers * mlp + (self.layers - self.dense_layers) * per_moe) / self.layers
        return attn + mlp + 4 * h

    @cached_property
    def active_mlp_params(self) -> float:
        """MLP weights one token passes through, averaged over the layers."""
        dense = (3 if self.gated_mlp else 2) * self.hidden * self.ffn
        if not self.moe:
            return dense
        per_moe = (self.top_k + self.shared_experts) * self.expert_params + self.hidden * self.experts
        return (1 - self.moe_share) * dense + self.moe_share * per_moe

    @cached_property
    def embedding_params(self) -> int:
        """Token embedding (tied with the output layer) plus learned positions."""
        return self.vocab * self.hidden + self.seq_len * self.hidden

    @cached_property
    def params(self) -> int:
        """Parameters in all: the layers, the embeddings and the final layer norm."""
        return round(self.layers * self.layer_params + self.embedding_params + 2 * self.hidden)

    @cached_property
    def active_params(self) -> int:
        """Weights one token passes through: `params` less the routed experts it does not use
        (the router counts in full). Equal to `params` for a dense model."""
        return self.params if not self.moe else round(self.params - self.layers * (self.layer_params
                                                                                 - self.active_layer_params))

    @cached_property
    def active_layer_params(self) -> float:
        """Active weights of one layer, averaged over the layers (`layer_params` for a dense model)."""
        if not self.moe:
            return self.layer_params
        return self.layer_params - self.moe_share * (self.experts - self.top_k) * self.expert_params


@dataclass(frozen=True)
class GenericNetwork:
    """A network given by totals (CNN, RNN, RL-era workloads): data parallel only.

    `flops_per_example` is the forward pass; training counts 3x (forward + backward).
    """

    name: str
    params: float
    flops_per_example: float
    activation_bytes_per_example: float
    layers: int = 1
    source: str = ""


Model = Transformer | GenericNetwork


@dataclass(frozen=True)
class Efficiency:
    """Achieved-efficiency parameters of the time model (see costs/compute.py).

    Loaded from catalog/efficiency.toml, where each value names its source: the
    compute-side values are fitted on catalog/calibration.csv only; the link
    efficiencies are taken from Calculon's published system files.
    """

    gemm: float  # fraction of dense peak a large matrix multiply reaches
    memory: float  # fraction of memory bandwidth reached by streaming kernels
    elementwise_passes: float  # memory traffic of non-matmul ops / activation bytes
    intra_link: float  # fraction of scale-up link bandwidth reached by collectives
    inter_link: float  # fraction of scale-out link bandwidth reached by collectives
    hop_latency_s: float = 0.0  # latency of one hop of a ring or tree collective
    comm_processor_usage: float = 0.0  # share of the device that overlapped collectives take
    source: str = ""
    # per device and precision where calibration rows support a fit of their own:
    # ((accelerator name, precision value, gemm), ...); others use `gemm`
    gemm_by_device: tuple[tuple[str, str, float], ...] = ()
    # published matmul benchmarks (catalog/kernel_benchmarks.csv): ((accelerator name,
    # precision value, best achieved matmul FLOP/s / peak), ...), and the (accelerator
    # name, precision value) that `gemm` was fitted on
    matmul_ceiling: tuple[tuple[str, str, float], ...] = ()
    gemm_reference: tuple[str, str] | None = None
    # published fused-attention kernel rates (catalog/kernel_benchmarks.csv): ((accelerator
    # name, kernel, ((sequence length, forward FLOP/s, backward FLOP/s), ...)), ...), causal,
    # FLOPs counted as the kernels' benchmarks count them (half the s x s products; the
    # backward 2.5x the forward), by increasing sequence length
    attention_rates: tuple[tuple[str, str, tuple[tuple[float, float, float], ...]], ...] = ()

    def attention_for(self, accelerator_name: str, kernel: str | None) -> tuple[tuple[float, float, float], ...] | None:
        """The (sequence length, forward, backward FLOP/s) points of a fused attention
        kernel on a device, or None where the catalog has no benchmark of it there."""
        for name, k, points in self.attention_rates:
            if name == accelerator_name and k == kernel:
                return points
        return None

    def ceiling(self, accelerator_name: str, precision: Precision | str) -> float | None:
        """The published best matmul fraction of peak of a device at a precision (FP16
        reads the BF16 row: one tensor-core peak), or None."""
        prec = precision if isinstance(precision, str) else precision.value
        prec = "bf16" if prec == "fp16" else prec
        for name, p, value in self.matmul_ceiling:
            if name == accelerator_name and p == prec:
                return value
        return None

    def gemm_for(self, accelerator_name: str, precision: Precision) -> float:
        """The GEMM efficiency of a device at a precision: its own fit on calibration
        rows; else `gemm` carried over from the device it was fitted on by the ratio of
        the two devices' published matmul benchmarks (what a training GEMM reaches of the
        best shape's rate is taken to be the device's); else `gemm`."""
        for name, prec, value in self.gemm_by_device:
            if name == accelerator_name and prec == precision.value:
                return value
        own = self.ceiling(accelerator_name, precision)
        ref = self.ceiling(*self.gemm_reference) if self.gemm_reference else None
        if own is not None and ref:
            return self.gemm if own == ref else min(1.0, self.gemm * own / ref)
        return self.gemm


@dataclass(frozen=True)
class Dimension:
    """A parallel dimension of a layout: its `Layout` field, which is also its column in every
    table and CSV and the prefix of its text form ('tp8')."""

    key: str
    name: str
    always_shown: bool  # in the text form and tables at 1 too (else only when > 1)
    splits_model: bool  # splits the model's weights or tokens within a replica (dp does not)


#: The parallel dimensions, declared once in the order every output lists them. Where a
#: dimension's rules, memory, collectives and compute live: docs/architecture.md.
DIMENSIONS = (
    Dimension("tp", "tensor parallel", True, True),
    Dimension("pp", "pipeline parallel", True, True),
    Dimension("dp", "data parallel", True, False),
    Dimension("cp", "context parallel", False, True),
    Dimension("ep", "expert parallel", False, True),
)
#: Their keys, in that order (the columns of every layout table).
DIMENSION_KEYS = tuple(d.key for d in DIMENSIONS)
#: Those a table shows only when some row has them above 1.
OPTIONAL_DIMENSIONS = tuple(d.key for d in DIMENSIONS if not d.always_shown)

#: Dimensions a layout may spread over a cluster's sites (`Layout.site_split`).
SITE_SPLITS = ("dp", "pp")


@dataclass(frozen=True)
class Layout:
    """How a model is split. `global_batch` is in sequences (examples)."""

    global_batch: int
    dp: int = 1
    tp: int = 1
    pp: int = 1
    micro_batch: int = 1
    schedule: Schedule = Schedule.ONE_F_ONE_B
    virtual_stages: int = 1  # model chunks per device (interleaved 1F1B)
    recompute: Recompute = Recompute.NONE
    sequence_parallel: bool = False
    zero: Zero = Zero.STAGE_0
    precision: Precision = Precision.BF16
    attention: Attention = Attention.FLASH
    cp: int = 1  # context parallel: the sequence split over cp ranks (ring attention)
    ep: int = 1  # expert parallel: the experts split over ep of the dp x cp ranks
    offload: bool = False  # optimizer state and step in host memory (ZeRO-Offload)
    # which dimension spans a cluster's sites: "dp" (each site holds whole replicas) or "pp"
    # (each site holds a contiguous block of every replica's pipeline stages)
    site_split: str = "dp"

    def __post_init__(self) -> None:
        if self.site_split not in SITE_SPLITS:
            raise ValueError(f"site_split={self.site_split!r}: must be one of {', '.join(SITE_SPLITS)}")

    @property
    def n_devices(self) -> int:
        """Devices of the layout: dp x tp x pp x cp."""
        return self.dp * self.tp * self.pp * self.cp

    @property
    def n_microbatches(self) -> int:
        """Micro-batches per pipeline per step (gradient accumulation steps)."""
        return self.global_batch // (self.dp * self.micro_batch)

    def text(self, batch: bool = False) -> str:
        """The one compact text form: 'tp8 pp64 dp6 mb1 1f1b rc-full zero1' (cp, ep, the
        global batch with `batch`, offload and the site split when they are set)."""
        parts = [f"{d.key}{getattr(self, d.key)}" for d in DIMENSIONS if d.always_shown or getattr(self, d.key) > 1]
        parts.append(f"mb{self.micro_batch}")
        if batch:
            parts.append(f"B{self.global_batch}")
        parts += [self.schedule.value + (f"x{self.virtual_stages}" if self.virtual_stages > 1 else ""),
                  f"rc-{self.recompute.value}"]
        parts += ["sp"] if self.sequence_parallel else []
        parts += [f"zero{self.zero.stage}"] if self.zero.stage else []
        parts += ["offload"] if self.offload else []
        parts += [f"sites-{self.site_split}"] if self.site_split != "dp" else []
        return " ".join(parts)


@dataclass(frozen=True)
class Stack:
    """A training framework: which layouts it can run (catalog/stacks.toml, with evidence)."""

    key: str
    name: str
    since: date
    max_zero: int  # most ZeRO sharding it offers
    max_zero_with_pipeline: int  # most sharding it combines with pipeline parallelism
    interleaved: bool
    uneven_stages: bool
    sequence_parallel: bool
    source: str = ""
    # how it runs what it runs (each a stack_evidence.csv row); the defaults are the
    # behaviour without a stack, on which the A100 calibration rests
    tp_overlap: bool = False  # tp collectives pipelined with the GEMMs (needs sequence parallelism)
    dp_overlap: bool = True  # gradient reduction bucket by bucket during backward
    param_gather_overlap: bool = False  # ZeRO-1 weight all-gather hidden behind the next forward
    context_parallel: bool = True
    cp_ring: bool = True  # keys and values passed around a ring under the attention (else all-gathered first)
    expert_parallel: bool = True
    offload: bool = False  # optimizer state and step on the host (ZeRO-Offload)
    # what a run on it does when it does not say (documented defaults or recipes)
    sequence_parallel_default: bool = False  # with tp > 1
    zero_default: int = 0  # sharding when the run names none
    seq_len_default: int | None = None  # the sequence length of its shipped recipes (None: no recipe read)
    # the fused attention kernel it runs: ((accelerator name or "*", kernel), ...), the
    # device's own entry before "*"; () where no kernel was read (the GEMM-rate model)
    attention_kernel: tuple[tuple[str, str], ...] = ()

    def attention_kernel_on(self, accelerator_name: str) -> str | None:
        """The fused attention kernel this stack runs on a device (None: not read)."""
        table = dict(self.attention_kernel)
        return table.get(accelerator_name, table.get("*"))

    def asks(self, layout) -> tuple:
        """(asked for, runs it, what) per option of `layout`, a Layout or a search group
        whose cp and ep are arrays (costs/rules.py reads it either way)."""
        v = layout.virtual_stages if layout.schedule is Schedule.INTERLEAVED else 1
        return ((layout.zero.stage > self.max_zero, False, f"ZeRO stage {layout.zero.stage}"),
                (v > 1, self.interleaved, "interleaved schedule"),
                (layout.sequence_parallel, self.sequence_parallel, "sequence parallelism"),
                (layout.cp > 1, self.context_parallel, "context parallelism"),
                (layout.ep > 1, self.expert_parallel, "expert parallelism"),
                (layout.offload, self.offload, "optimizer offload"))

    def lacks(self, layout: Layout) -> str | None:
        """What `layout` asks for that this stack does not run ("no ZeRO stage 3"), or None.
        (Combining ZeRO with pipelines is checked on its own: a reason of its own.)"""
        for asks, has, what in self.asks(layout):
            if asks and not has:
                return f"no {what}"
        return None


@dataclass(frozen=True)
class SearchSpace:
    """What the layout search may vary (the scenario's [search] table)."""

    global_batches: tuple[int, ...]
    max_micro_batch: int = 8
    schedules: tuple[Schedule, ...] = (Schedule.ONE_F_ONE_B, Schedule.INTERLEAVED, Schedule.GPIPE)
    max_virtual_stages: int = 4
    recompute: tuple[Recompute, ...] = (Recompute.NONE, Recompute.SELECTIVE, Recompute.FULL)
    sequence_parallel: tuple[bool, ...] = (False, True)
    zero: tuple[Zero, ...] = (Zero.STAGE_0, Zero.STAGE_1, Zero.STAGE_2, Zero.STAGE_3)
    max_global_batch: int | None = None  # the batch limit; larger batches are infeasible
    max_tp: int | None = None  # None: up to the node size (tp = 1 when tensor parallelism is unknown)
    max_pp: int | None = None  # None: up to the layers (pp = 1 when pipelining is unknown)
    divisors_only: bool = False  # enumerate only tp dividing the heads and pp dividing the layers
    tp_across_nodes: bool = False  # tp may also be a multiple of the node size (its collectives cross the network)
    stack: str | None = None  # catalog/stacks.toml key: only layouts that stack runs (None: DeepSpeed's rules)
    context_parallel: tuple[int, ...] = (1,)  # cp degrees to try
    expert_parallel: tuple[int, ...] | None = None  # ep degrees (None: every power of two up to the experts)
    offload: tuple[bool, ...] = (False,)  # optimizer offload to the host (ZeRO-Offload) or not
    site_splits: tuple[str, ...] = ("dp",)  # dimensions to spread over the sites ("dp", "pp"; with sites > 1)
    top_k: int = 5  # candidates re-simulated by the event engine
