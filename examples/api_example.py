"""The Python API in a few lines: load the default scenario, simulate one step, search layouts.

Run it with `python examples/api_example.py` (a second or two).
"""

import simulator as sim


def main() -> None:
    eff = sim.default_efficiency()

    # 1. The packaged default scenario: GPT-3 175B on 1024 A100-80GB, tp 8 x pp 8 x dp 16.
    sc = sim.load_scenario(sim.default_scenario_path())
    step = sim.simulate_step(sc.model, sc.cluster, sc.layout, eff, sc.stack)
    print(f"scenario {sc.name}: {sc.model.name} on {sc.cluster.n_devices} x {sc.cluster.accelerator.name}")
    print(f"step time {step.step_time_s:.2f} s, MFU {step.mfu:.3f}, {step.tokens_per_s:,.0f} tokens/s")
    for part, seconds in step.breakdown_s.items():
        print(f"  {part.removesuffix('_s').replace('_', ' ')}: {seconds:.2f} s")

    # 2. The same model on a cluster built from the catalog: 512 H100s in their default system.
    acc = sim.find_accelerator("h100-sxm")
    intra, inter, per_node = sim.default_links("h100-sxm")
    cluster = sim.Cluster(acc, 512, per_node, intra, inter)
    base = sim.Layout(global_batch=1536, precision=sim.Precision.BF16)

    # 3. A small layout search: 1F1B or interleaved, micro-batch 1-2, full or selective recompute.
    space = sim.SearchSpace(
        global_batches=(1536,), max_micro_batch=2,
        schedules=(sim.Schedule.ONE_F_ONE_B, sim.Schedule.INTERLEAVED), max_virtual_stages=2,
        recompute=(sim.Recompute.SELECTIVE, sim.Recompute.FULL), zero=(sim.Zero.STAGE_0, sim.Zero.STAGE_1),
        divisors_only=True, top_k=3,
    )
    res = sim.search_layouts(sc.model, cluster, base, space, eff)
    print(f"search: {res.evaluated} candidates, {res.n_feasible} feasible")
    if res.best is None:
        print("no feasible layout")
        return
    lay, best = res.best
    print(f"best layout on {lay.n_devices} x {acc.name}: tp {lay.tp} x pp {lay.pp} x dp {lay.dp}, "
          f"micro-batch {lay.micro_batch}, {lay.schedule.value}, recompute {lay.recompute.value}, "
          f"ZeRO {lay.zero.stage}: step time {best.step_time_s:.2f} s, MFU {best.mfu:.3f}")


if __name__ == "__main__":
    main()
