"""Workflow runs on two replicas of the embedded model in a local Ray: a batch of 64 instances
of a graph with a long shared prefix is spread over both, each replica computes the prefix
once, the outputs match one engine's, and a replica killed mid-batch loses no run."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from cluster_graphs import alerts, shared_prefix_graph
from conftest import LivePool

import flowc
from cluster import ClusterRuntime
from executor import RunResult, WorkflowRuntime

pytestmark = pytest.mark.slow
INSTANCES = 64


def run_batch(live: LivePool, graph: dict[str, Any], instances: list[dict[str, str]]
              ) -> list[RunResult]:
    plan = flowc.compile(graph, live.pool.describe["tokenizer"])
    runtime = ClusterRuntime(live.pool)
    runs = [runtime.run(plan, values, seed=i) for i, values in enumerate(instances)]
    return live.loop.run_until_complete(_gather(runs))


async def _gather(runs: list[Any]) -> list[RunResult]:
    return list(await asyncio.gather(*runs))


def single_engine_outputs(graph: dict[str, Any], instances: list[dict[str, str]]
                          ) -> list[dict[str, Any]]:
    engine = flowc.make_engine("default", device="cpu")
    try:
        plan = flowc.compile(graph, engine.tokenizer)
        runtime = WorkflowRuntime(engine)
        runs = [runtime.run(plan, values, seed=i) for i, values in enumerate(instances)]
        return [r.outputs for r in asyncio.run(_gather(runs))]
    finally:
        engine.close()


def computed_prefixes(results: list[RunResult], page_size: int) -> Counter[tuple[int, str]]:
    """(replica pid, prefix group) -> how many runs computed that prefix's KV there."""
    counts: Counter[tuple[int, str]] = Counter()
    for result in results:
        pid = result.trace.replicas[-1]["pid"]
        for prefix in result.trace.prefixes:
            if prefix.ready is not None and prefix.tokens - prefix.cached_tokens >= page_size:
                counts[(pid, prefix.group_id)] += 1
    return counts


@dataclass(frozen=True)
class Batch:
    graph: dict[str, Any]
    instances: list[dict[str, str]]
    single_engine_outputs: list[dict[str, Any]]


@pytest.fixture(scope="module")
def batch() -> Batch:
    graph, instances = shared_prefix_graph(), alerts(INSTANCES)
    return Batch(graph, instances, single_engine_outputs(graph, instances))


def test_a_batch_spreads_over_both_replicas_and_prefills_each_prefix_once_per_replica(
        live_pool: LivePool, batch: Batch) -> None:
    results = run_batch(live_pool, batch.graph, batch.instances)

    assert [r.status for r in results] == ["succeeded"] * INSTANCES
    served = Counter(r.trace.replicas[0]["replica"] for r in results)
    assert set(served) == {0, 1}, served
    assert all(len(r.trace.replicas) == 1 for r in results)
    computed = computed_prefixes(results, live_pool.pool.describe["page_size"])
    groups = {p.group_id for r in results for p in r.trace.prefixes}
    assert groups and computed, "the plan's shared prefix was never pinned"
    assert set(computed.values()) == {1}, computed
    assert len(computed) <= 2 * len(groups)
    assert [r.outputs for r in results] == batch.single_engine_outputs


def test_a_replica_killed_mid_batch_loses_no_run_and_each_run_completes_once(
        live_pool: LivePool, batch: Batch) -> None:
    pool, graph, instances = live_pool.pool, batch.graph, batch.instances
    plan = flowc.compile(graph, pool.describe["tokenizer"])
    runtime = ClusterRuntime(pool)
    finished: list[int] = []

    async def one(index: int) -> RunResult:
        result = await runtime.run(plan, instances[index], seed=index)
        finished.append(index)
        return result

    async def batch_with_a_kill() -> tuple[list[RunResult], int]:
        tasks = [asyncio.ensure_future(one(i)) for i in range(INSTANCES)]
        while len(finished) < 4:
            await asyncio.sleep(0.05)
        victim = max((r for r in pool.replicas if r.state == "alive"), key=lambda r: r.load)
        assert victim.load > 0 and len(finished) < INSTANCES
        os.kill(victim.pid, signal.SIGKILL)
        return list(await asyncio.gather(*tasks)), victim.pid

    results, killed = live_pool.loop.run_until_complete(batch_with_a_kill())

    assert [r.status for r in results] == ["succeeded"] * INSTANCES
    assert sorted(finished) == list(range(INSTANCES))  # each run completed once
    retried = [r for r in results if len(r.trace.replicas) > 1]
    assert retried, "the killed replica had runs in flight"
    for result in retried:
        first, last = result.trace.replicas[0], result.trace.replicas[-1]
        assert first["pid"] == killed and first["error"]
        assert last["pid"] != killed and last["error"] is None
    assert all(r.trace.replicas[-1]["error"] is None and len(r.trace.replicas) <= 2
               for r in results)
    assert [r.outputs for r in results] == batch.single_engine_outputs
    live_pool.loop.run_until_complete(_until_refilled(live_pool))
    assert sorted(r.restarts for r in pool.replicas) == [0, 1]


async def _until_refilled(live: LivePool, timeout_s: float = 240.0) -> None:
    """Wait for the replacement replica to load its model."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while any(r.state != "alive" for r in live.pool.replicas):
        assert asyncio.get_running_loop().time() < deadline, "no replacement replica came up"
        await asyncio.sleep(0.5)
