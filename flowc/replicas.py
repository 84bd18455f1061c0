"""Runs of a batch spread over engine replicas on Ray (`flowc run --replicas N`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cluster import ReplicaSpec
    from compiler import Plan
    from executor import RunResult
    from graph import Workflow


async def run_on_replicas(workflow: Workflow, instances: list[dict[str, Any]],
                          spec: ReplicaSpec, replicas: int, address: str | None,
                          seed: int) -> tuple[list[RunResult], Plan]:
    """Every instance run once on the pool (in input order); Ray is stopped afterwards.
    Raises `cluster.ClusterError` when Ray is missing or the replicas cannot start."""
    import flowc
    from cluster import ClusterRuntime, ReplicaPool, shutdown_ray
    from flowc.interrupt import interrupt_cancels

    pool = ReplicaPool(spec, replicas, address)
    try:
        await pool.start()
        plan = flowc.compile(workflow, pool.describe["tokenizer"])
        runtime = ClusterRuntime(pool)
        with interrupt_cancels() as cancel:
            runs = [runtime.run(plan, values, seed=seed, cancel=cancel) for values in instances]
            return list(await asyncio.gather(*runs)), plan
    finally:
        await pool.shutdown()
        shutdown_ray()
