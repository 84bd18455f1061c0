"""Workflow runs spread over a replica pool, with the `run` of `executor.WorkflowRuntime`.

Runs of one plan go where its prefix groups are pinned (`routing.plan_key`). A run whose
replica dies is run again from the start on another: the caller gets one RunResult, whose
trace lists every replica that ran it (`Trace.replicas`), and events of the lost attempt are
followed by a fresh `run_start`. No checkpoints are taken on replicas: a run resumed after
its server stopped runs again from the start too.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import Any

from cluster.pool import Attempt, ReplicaPool, ReplicaState
from cluster.routing import plan_key
from compiler import Plan
from executor import Checkpoint, RunEvent, RunResult, load_tools


class ClusterRuntime:
    def __init__(self, pool: ReplicaPool) -> None:
        self.pool = pool
        self.tools = load_tools(pool.spec.tool_files, pool.spec.allow_http)  # as each replica's

    async def run(
        self,
        plan: Plan,
        inputs: dict[str, Any] | None = None,
        *,
        seed: int = 0,
        on_event: Callable[[RunEvent], None] | None = None,
        cancel: asyncio.Event | None = None,
        on_checkpoint: Callable[[Checkpoint], None] | None = None,
        resume: Checkpoint | None = None,
    ) -> RunResult:
        run_id = uuid.uuid4().hex
        attempts: list[Attempt] = []

        async def attempt(replica: ReplicaState) -> RunResult:
            return await self._attempt(replica, run_id, plan, inputs or {}, seed, on_event,
                                       cancel)

        result = await self.pool.call(plan_key(plan), attempt, attempts)
        result.trace.replicas = [_described(a) for a in attempts]
        return result

    async def _attempt(self, replica: ReplicaState, run_id: str, plan: Plan,
                       inputs: dict[str, Any], seed: int,
                       on_event: Callable[[RunEvent], None] | None,
                       cancel: asyncio.Event | None) -> RunResult:
        items = replica.actor.run.remote(run_id, plan_key(plan), plan, inputs, seed,
                                         on_event is not None)
        watcher = (asyncio.ensure_future(_forward_cancel(cancel, replica, run_id))
                   if cancel is not None else None)
        try:
            async for ref in items:
                item = await ref
                if isinstance(item, RunResult):
                    return item
                if on_event is not None:
                    on_event(item)
        except asyncio.CancelledError:  # the caller gave up on the run: stop it there too
            replica.actor.cancel.remote(run_id)
            raise
        finally:
            if watcher is not None:
                watcher.cancel()
        raise RuntimeError(f"replica {replica.slot} ended run {run_id} without a result")


async def _forward_cancel(cancel: asyncio.Event, replica: ReplicaState, run_id: str) -> None:
    await cancel.wait()
    with contextlib.suppress(Exception):
        await replica.actor.cancel.remote(run_id)


def _described(attempt: Attempt) -> dict[str, Any]:
    return {"replica": attempt.slot, "pid": attempt.pid, "error": attempt.error}
