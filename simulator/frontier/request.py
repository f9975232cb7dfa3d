"""One actor's run request and what every family's run reads: the batch it may use, the
devices its limits allow, its goodput under failures, the techniques it used and the catalog
rows it read (frontier/solver.py solves the run).

A `Request` is one actor's run of one workload family starting at a date on the actor's
market. `batch_of` gives the critical batch and the largest batch allowed (the family's batch
law or sourced practice, McCandlish et al.'s waste bound); `device_limits` the devices the caps allow
(budget, supply, host, batch) and how they are used; `run_goodput` the share of wall time kept under
failures (costs/failures.py, each failure costing the recovery of the run's start and actor);
`common_fields` what every run of the request carries, its inputs included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import cache

from simulator.catalog.techniques import enabling_refs
from simulator.catalog.uncertain import uncertain_row
from simulator.core.specs import Precision, Recompute, Schedule, Transformer
from simulator.costs import batch as cb
from simulator.costs import failures as cf
from simulator.frontier import sizing
from simulator.frontier.config import CHECKPOINT_BYTES_PER_PARAM, FrontierConfig
from simulator.frontier.market import Caps, Offer, node_of
from simulator.frontier.utilization import MAX_TP, Utilization, replica_span
from simulator.frontier.workloads import Family


@dataclass(frozen=True)
class Request:
    """One actor's run of one family, starting at `start` on the actor's market."""

    at: date
    start: date
    fam: Family
    known: frozenset[str]
    caps: Caps
    config: FrontierConfig
    util: Utilization
    refs: tuple[str, ...] = ()


# ------------------------------------------------------------------ batch and techniques
@cache
def _kaplan_batch(model: Transformer) -> float:
    tokens = cb.kaplan_critical_batch_tokens(cb.kaplan_loss_nats(model.layers * model.active_layer_params))
    return tokens / model.seq_len


@cache
def _law_batch(law: str, model: Transformer, rule: str, per_param: float, tokens_available: float,
               max_epochs: float) -> float:
    """A published batch law's batch (catalog/batch_laws.csv), in sequences, for `model` trained
    on its compute-optimal tokens by `rule`, at most the tokens that exist. A mixture of experts
    is read at its active parameters (the compute per token; the laws were fitted on dense models)."""
    n = float(model.active_params)
    tokens = min(sizing.optimal_flop(model, rule, per_param), sizing.data_flop(model, tokens_available, max_epochs)) \
        / (6.0 * n)
    return cb.batch_laws()[law].tokens(float(model.layers * model.active_layer_params), tokens) / model.seq_len


@cache
def _largest_batch(crit: float, max_waste: float) -> float:
    return float(cb.largest_useful_batch(crit, max_waste))


def batch_of(req: Request, model) -> tuple[float, float, tuple[str, ...]]:
    """(critical batch, largest batch allowed, rows read) in examples (sequences for transformers)."""
    fam, config = req.fam, req.config
    if fam.kaplan and isinstance(model, Transformer):
        law = config.batch_law or "kaplan"
        if law == "kaplan":
            crit = _kaplan_batch(model)
        else:  # a law of the tokens or compute: the tokens the model trains on by the date's rule
            rule = fam.rule_at(req.start)
            crit = _law_batch(law, model, rule.rule, rule.value, fam.tokens_available * config.data_scale,
                              fam.max_epochs)
        crit, refs = crit * config.critical_batch_scale, ()
    else:
        practice = config.input(fam.batch_practice) if fam.batch_practice else float(fam.per_device_batch)
        limit, refs = fam.batch_limit(req.start, req.known, practice)
        crit = limit * config.critical_batch_scale
    return crit, _largest_batch(crit, config.max_waste), refs


def model_parallel(model: Transformer, node: int, known: frozenset[str], config: FrontierConfig) -> int:
    return replica_span(model.heads, model.layers, node, "tensor_parallel" in known, "pipeline_parallel" in known,
                        int(config.max_tp or MAX_TP))


def techniques_used(req: Request, fit_layout, n: int, node: int, how: str) -> tuple[str, ...]:
    used = {"single_device"} if n == 1 else {how}
    lay = fit_layout
    if lay is not None:
        used |= {"large_batch"} if req.fam.batch_practice and lay.global_batch > req.config.input(
            req.fam.batch_practice) * req.config.critical_batch_scale else set()
        used |= {"pipeline_parallel"} if lay.pp > 1 else set()
        used |= {"tensor_parallel"} if lay.tp > 1 else set()
        used |= {"sharded_data_parallel"} if lay.zero.stage else set()
        used |= {"activation_recompute"} if lay.recompute is Recompute.FULL else set()
        used |= {"selective_recompute_sequence_parallel"} if (lay.recompute is Recompute.SELECTIVE
                                                              or lay.sequence_parallel) else set()
        used |= {"interleaved_pipeline"} if lay.schedule is Schedule.INTERLEAVED else set()
        used |= {"flash_attention"} if "flash_attention" in req.known else set()
        used |= {"expert_parallel"} if lay.ep > 1 else set()
    if req.fam.is_moe:
        used |= {"mixture_of_experts"}
    return tuple(sorted(used))


def layout_text(lay) -> str:
    return "" if lay is None else lay.text(batch=True)


# ------------------------------------------------------------------ device limits
@dataclass(frozen=True)
class Limits:
    n: int
    limited_by: str
    hours: float
    node: int
    how: str  # the multi-device technique: intra_machine_split, sync/async data parallel, independent actors
    learners: float
    replica: int
    independent: bool
    asynchronous: bool
    refs: tuple[str, ...]


def device_limits(req: Request, offer: Offer, model, b_max: float, sites: int) -> Limits:
    fam, caps, config = req.fam, req.caps, req.config
    admitted = fam.techniques & req.known
    batch_free = fam.batch_free_with in admitted
    host = max(1, int(caps.host_devices or 1))
    node = node_of(offer.node_default, offer.intra, host)
    limits: dict[str, float] = {}
    multi_node = "sync_data_parallel_multi_node" in admitted and offer.intra is not None and offer.inter is not None
    asynchronous = (not batch_free and "async_data_parallel" in admitted and offer.inter is not None
                    and caps.async_replicas is not None and not isinstance(model, Transformer))
    supply = caps.supply_devices(offer.watts, sites, offer.key)
    if batch_free or multi_node or asynchronous:  # actors need no interconnect; other jobs need both links
        limits["supply"] = max(supply or host, 1)
        how = ("parallel_search_selfplay" if batch_free else "sync_data_parallel_multi_node" if multi_node
               else "async_data_parallel")
    elif "intra_machine_split" in admitted and offer.intra is not None:
        limits["host"], how = node, "intra_machine_split"
    else:
        limits["technique"], how = 1, "single_device"
    per_device = max(1, fam.per_device_batch)
    learners = max(1.0, b_max // per_device)
    replica = 1
    if asynchronous:  # independent replicas of up to one host each (Downpour SGD), at most the documented
        # count of replicas used (async_replicas.csv: Dean et al. 2012, 200 with Adagrad; Inception-v3, 50);
        # a host is a server (the market's largest), not a scale-up domain: a TPU pod is one node of
        # thousands of chips, but no replica of Downpour's kind was a pod
        replica = int(min(node, host, learners))
        limits["batch"] = max(learners, replica * caps.async_replicas)
    elif isinstance(model, Transformer):  # each data-parallel rank needs a sequence of the batch
        limits["batch"] = max(1.0, b_max) * model_parallel(model, node, req.known, config)
    elif not batch_free:
        limits["batch"] = learners
    elif (design := fam.learner_bound(req.start)) is not None:  # the learner stays batch-bound
        limits["batch"] = design.value
    hours = caps.max_duration_days * 24
    if offer.max_hours is not None:
        hours = min(hours, offer.max_hours)
    budget = caps.budget_devices(offer.price, hours) if offer.paid else None
    if budget is not None:
        limits["budget"] = budget
    limited_by = min(limits, key=limits.get)  # never empty: supply, host or technique is always set
    n = max(1, int(min(limits.values())))
    if budget is not None and budget < 1 and caps.budget_basis == "run":  # not one device for the whole run
        hours *= budget
    beyond_batch = asynchronous and n > learners  # more devices than a synchronous batch feeds
    return Limits(n, limited_by, hours, node, "async_data_parallel" if beyond_batch else how, learners, replica,
                  batch_free, beyond_batch, ())


def run_goodput(job: int, params: float, req: Request) -> float:
    """Share of wall time a job of `job` devices keeps: a synchronous job stops when any
    device fails (independent actors or replicas lose only their own work, job = 1 each),
    each failure costing the recovery time of the run's start and actor (`FrontierConfig.recovery`)."""
    config = req.config
    rate = config.failure_rate
    if not rate:
        return 1.0
    return cf.job_goodput(job, params * CHECKPOINT_BYTES_PER_PARAM / config.checkpoint_bytes_per_s, rate,
                          config.recovery(req.start, req.caps.actor)[0])


def no_progress(req: Request) -> str:
    rate = req.config.failure_rate
    return (f"failures: no work survives (a restart of {req.config.recovery(req.start, req.caps.actor)[0]:.3g} s "
            f"against {1 / rate if rate else math.inf:.3g} device-hours between failures)")


def common_fields(req: Request, offer: Offer, acc, precision: Precision, model_name: str,
            used: tuple[str, ...] = ()) -> dict:
    config = req.config
    refs = req.refs + req.caps.refs + (req.fam.ref,) + (f"devices:{offer.key}",)
    refs += technique_refs(used, req.start, config, req.caps.actor)
    for key, fixed in (("device_hours_per_failure", config.failure_rate_per_device_hour), ("restart_s", config.restart_s)):
        if fixed is None and uncertain_row(key).seen(config.withhold) is uncertain_row(key):
            refs += (f"uncertainty.csv:{key}",)  # the row itself, not its withheld range
    if config.failure_rate and (recovery_ref := config.recovery(req.start, req.caps.actor)[1]):
        refs += (recovery_ref,)  # the published recovery the run's failures cost
    return {"at": req.at, "family": req.fam.key, "model": model_name, "device": offer.key, "device_name": acc.name,
            "precision": precision.value, "caps": req.caps, "actor": req.caps.actor, "start": req.start,
            "duration_rule": req.caps.duration_rule, "inputs": tuple(dict.fromkeys(refs))}



def technique_refs(used: tuple[str, ...], start: date, config: FrontierConfig, actor: str) -> tuple[str, ...]:
    """The evidence rows that made each technique used available to the actor."""
    return enabling_refs(used, config.withhold, config.input("technique_adoption_lag_days"), actor or None)
