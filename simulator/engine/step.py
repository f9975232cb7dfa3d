"""One training step: costs -> event simulation -> result with breakdown.

`simulate_step` is the library's entry point for question 1 of the design ("how long
does one step take, where does the time go, does it fit?"). An infeasible layout is
a result with a reason and the numbers, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.core.specs import Cluster, Efficiency, GenericNetwork, Layout, Reason, Stack, Transformer
from simulator.core.units import GB
from simulator.costs.memory import Memory
from simulator.costs.step import Infeasible, StepCosts, step_costs
from simulator.engine.pipeline import EngineRun, simulate

BREAKDOWN_KEYS = (
    "compute_s",
    "layer_comm_s",
    "pipeline_bubble_s",
    "dp_comm_exposed_s",
    "zero_comm_exposed_s",
    "optimizer_s",
)


@dataclass(frozen=True)
class StepResult:
    """The outcome of one step. When `feasible` is False, `reason` and `detail` say why
    and the timing fields are NaN."""

    feasible: bool
    reason: Reason | None
    detail: str
    layout: Layout
    n_devices: int
    step_time_s: float = float("nan")
    model_flops: float = float("nan")  # per step, whole cluster
    hardware_flops: float = float("nan")
    mfu: float = float("nan")
    hfu: float = float("nan")
    tokens_per_s: float = float("nan")  # examples/s for generic networks
    breakdown_s: dict[str, float] = field(default_factory=dict)
    memory: Memory | None = None
    records: list[tuple] = field(default_factory=list, repr=False)

    @property
    def bubble_fraction(self) -> float:
        """Share of the step lost to the pipeline bubble."""
        return self.breakdown_s.get("pipeline_bubble_s", float("nan")) / self.step_time_s

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (no records)."""
        mem = self.memory
        return {
            "feasible": self.feasible,
            "reason": self.reason.name if self.reason else None,
            "detail": self.detail,
            "n_devices": self.n_devices,
            "step_time_s": self.step_time_s,
            "model_flops": self.model_flops,
            "hardware_flops": self.hardware_flops,
            "mfu": self.mfu,
            "hfu": self.hfu,
            "tokens_per_s": self.tokens_per_s,
            "breakdown_s": dict(self.breakdown_s),
            "memory_bytes": None
            if mem is None
            else {
                "weights": mem.weights,
                "gradients": mem.gradients,
                "optimizer": mem.optimizer,
                "activations": mem.activations,
                "total": mem.total,
                "capacity": mem.capacity,
            },
        }


def _infeasible(bad: Infeasible, layout: Layout, memory: Memory | None = None) -> StepResult:
    return StepResult(False, bad.reason, bad.detail, layout, layout.n_devices, memory=memory)


def breakdown(costs: StepCosts, run: EngineRun) -> dict[str, float]:
    """Where the critical (last-finishing) device's time went; sums to the step time."""
    p = costs.layout.pp
    d = max(range(p), key=lambda s: run.device_end_s[s])
    m = costs.layout.n_microbatches
    gs = range(d, costs.n_virtual, p)
    compute = m * sum(costs.fwd_compute_s[g] + costs.bwd_compute_s[g] for g in gs)
    tp = m * sum(costs.fwd_tp_s[g] + costs.bwd_tp_s[g] for g in gs)
    dp_exposed = max(0.0, run.device_end_s[d] - run.last_compute_end_s[d] - costs.optimizer_s)
    zero = run.gather_wait_s[d]
    bubble = max(0.0, run.step_time_s - compute - tp - dp_exposed - zero - costs.optimizer_s)
    values = (compute, tp, bubble, dp_exposed, zero, costs.optimizer_s)
    return dict(zip(BREAKDOWN_KEYS, values))


def simulate_step(
    model: Transformer | GenericNetwork, cluster: Cluster, layout: Layout, eff: Efficiency, stack: Stack | None = None
) -> StepResult:
    """Simulate one step of `model` on `cluster` split as `layout`, trained with `stack`
    (None: DeepSpeed's rules for what can combine).

    >>> import simulator as sim
    >>> sc = sim.load_scenario(sim.default_scenario_path())
    >>> r = simulate_step(sc.model, sc.cluster, sc.layout, sim.default_efficiency(), sc.stack)
    >>> r.feasible, 0 < r.mfu < 1, r.step_time_s > 0
    (True, True, True)
    """
    costs = step_costs(model, cluster, layout, eff, stack)
    if isinstance(costs, Infeasible):
        return _infeasible(costs, layout)
    mem = costs.memory
    if not mem.fits:
        detail = (
            f"needs {mem.total / GB:.1f} GB per device (weights {mem.weights / GB:.1f}, "
            f"gradients {mem.gradients / GB:.1f}, optimizer {mem.optimizer / GB:.1f}, "
            f"activations {mem.activations / GB:.1f}), has {mem.capacity / GB:.1f} GB"
        )
        return _infeasible(Infeasible(Reason.OUT_OF_MEMORY, detail), layout, mem)
    run = simulate(costs)
    t = run.step_time_s
    n = cluster.n_devices
    peak = cluster.accelerator.peak(layout.precision)
    tokens = layout.global_batch * (model.seq_len if isinstance(model, Transformer) else 1)
    return StepResult(
        feasible=True,
        reason=None,
        detail="",
        layout=layout,
        n_devices=n,
        step_time_s=t,
        model_flops=costs.model_flops,
        hardware_flops=costs.hardware_flops,
        mfu=costs.model_flops / (t * n * peak),
        hfu=costs.hardware_flops / (t * n * peak),
        tokens_per_s=tokens / t,
        breakdown_s=breakdown(costs, run),
        memory=mem,
        records=run.records,
    )
