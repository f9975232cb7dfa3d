"""One rule set (costs/rules.py): the scalar check and the search's array check give the
same first reason for every layout."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_parallelism import cluster_of

from simulator.catalog.models import find_model
from simulator.catalog.stacks import find_stack
from simulator.core.specs import Layout, Reason, Schedule, SearchSpace, Zero
from simulator.costs.rules import ORDER
from simulator.costs.step import check_layout
from simulator.search.space import REASONS, Group, structural_reasons

MODELS = ["gpt3-175b", "llama3-405b", "mixtral-8x7b", "deepseek-v3"]
STACKS = [None, "megatron-lm-2021", "megatron-deepspeed-2022", "megatron-core-2024", "torchtitan-fsdp2", "nemo-2025"]


def _group(lay: Layout) -> Group:
    one = lambda v: np.array([v])
    return Group(schedule=lay.schedule, virtual_stages=lay.virtual_stages, recompute=lay.recompute,
                 sequence_parallel=lay.sequence_parallel, zero=lay.zero, tp=one(lay.tp), pp=one(lay.pp),
                 dp=one(lay.dp), micro_batch=one(lay.micro_batch), global_batch=one(lay.global_batch),
                 cp=one(lay.cp), ep=one(lay.ep), offload=lay.offload)


@settings(max_examples=300, deadline=None)
@given(model=st.sampled_from(MODELS), stack=st.sampled_from(STACKS),
       tp=st.sampled_from([1, 2, 3, 4, 8, 16]), pp=st.sampled_from([1, 2, 3, 4, 8, 16]),
       cp=st.sampled_from([1, 2, 3]), ep=st.sampled_from([1, 2, 8, 64]), mb=st.sampled_from([1, 2, 3]),
       gb=st.sampled_from([96, 128, 1000, 1536]), interleave=st.booleans(), v=st.sampled_from([2, 3]),
       sp=st.booleans(), zero=st.sampled_from(list(Zero)), offload=st.booleans())
def test_check_layout_and_the_search_report_the_same_first_reason(model, stack, tp, pp, cp, ep, mb, gb,
                                                                     interleave, v, sp, zero, offload):
    m = find_model(model)
    dp = 8
    cluster = cluster_of("h100-sxm", dp * tp * pp * cp)
    lay = Layout(global_batch=gb, dp=dp, tp=tp, pp=pp, cp=cp, ep=ep, micro_batch=mb, sequence_parallel=sp,
                 schedule=Schedule.INTERLEAVED if interleave else Schedule.ONE_F_ONE_B,
                 virtual_stages=v if interleave else 1, zero=zero, offload=offload)
    # the search may place tp across nodes here, as a layout checked on its own may
    space = SearchSpace(global_batches=(gb,), stack=stack, tp_across_nodes=True)
    scalar = check_layout(m, cluster, lay, find_stack(stack))
    code = structural_reasons(m, _group(lay), space, cluster)[0]
    assert (scalar.reason if scalar else None) == (REASONS[code - 1] if code else None)


def test_the_search_codes_follow_the_rules_order_with_memory_last():
    assert REASONS == (*ORDER, Reason.OUT_OF_MEMORY)
    assert len(set(REASONS)) == len(REASONS)


def test_an_accelerator_of_ones_own_offloads_to_the_host_its_cluster_names():
    """Offload needs a host: a catalog accelerator's documented system (catalog/hosts.csv),
    or, for an accelerator the catalog does not know, the host its Cluster names."""
    import dataclasses

    from simulator.catalog.hardware import host_of

    m = find_model("gpt3-175b")
    catalog_cluster = cluster_of("a100-80gb", 64)
    own = dataclasses.replace(catalog_cluster.accelerator, name="my accelerator")
    lay = Layout(global_batch=64, dp=64, zero=Zero.STAGE_1, offload=True)
    assert check_layout(m, catalog_cluster, lay) is None
    hostless = dataclasses.replace(catalog_cluster, accelerator=own)
    assert check_layout(m, hostless, lay).reason is Reason.OFFLOAD_UNSUPPORTED
    hosted = dataclasses.replace(hostless, host=host_of(catalog_cluster.accelerator.name))
    assert check_layout(m, hosted, lay) is None
    space = SearchSpace(global_batches=(64,), offload=(True,), zero=(Zero.STAGE_1,))
    reasons = [structural_reasons(m, _group(lay), space, c)[0] for c in (hostless, hosted)]
    assert REASONS[reasons[0] - 1] is Reason.OFFLOAD_UNSUPPORTED and reasons[1] == 0


def test_a_dimension_is_declared_once_and_every_table_follows_it():
    """core.specs.DIMENSIONS (issue 22 item 1): each is a Layout field, a column of the search's
    frame, the reports and the sweep, a typed [layout] key of a scenario and a checked column of a
    measurement CSV, in the declared order; the text form shows an optional one only above 1."""
    import dataclasses

    from simulator.catalog.scenario import LAYOUT
    from simulator.core.specs import DIMENSION_KEYS, DIMENSIONS, OPTIONAL_DIMENSIONS, Layout
    from simulator.measure.validation import POSITIVE
    from simulator.report.html import CANDIDATE_COLUMNS
    from simulator.search.rank import COLUMNS

    fields = {f.name for f in dataclasses.fields(Layout)}
    assert DIMENSION_KEYS == ("tp", "pp", "dp", "cp", "ep") and OPTIONAL_DIMENSIONS == ("cp", "ep")
    for table in (COLUMNS, CANDIDATE_COLUMNS):
        assert [c for c in table if c in DIMENSION_KEYS] == list(DIMENSION_KEYS)
    assert all(k in fields and LAYOUT[k] is int and k in POSITIVE for k in DIMENSION_KEYS)
    assert [d.key for d in DIMENSIONS if not d.splits_model] == ["dp"]
    assert Layout(global_batch=8, tp=2, pp=2, dp=2).text().split()[:4] == ["tp2", "pp2", "dp2", "mb1"]
    assert Layout(global_batch=8, tp=2, dp=1, cp=2, ep=2).text().split()[:5] == ["tp2", "pp1", "dp1", "cp2", "ep2"]
