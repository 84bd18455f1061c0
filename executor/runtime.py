"""One workflow runtime per engine: the tools, the prefix pins every run of the engine shares,
and an executor per plan. The CLI, the Python façade and the HTTP service all run workflows
through it, so concurrent runs of a graph prefill its shared prefixes once."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from compiler import Plan
from engine.api import EngineAPI
from executor.checkpoint import Checkpoint
from executor.events import RunEvent
from executor.executor import Executor, RunResult
from executor.prefixes import PrefixPool
from executor.schedule import Schedule
from executor.tools import ToolRegistry

_EXECUTORS_KEPT = 64


class PlanRunner(Protocol):
    """What runs plans: a `WorkflowRuntime` on one engine, or one spread over replicas."""

    tools: ToolRegistry  # the tools its runs can call

    async def run(self, plan: Plan, inputs: dict[str, Any] | None = None, *, seed: int = 0,
                  on_event: Callable[[RunEvent], None] | None = None,
                  cancel: asyncio.Event | None = None,
                  on_checkpoint: Callable[[Checkpoint], None] | None = None,
                  resume: Checkpoint | None = None) -> RunResult: ...


class WorkflowRuntime:
    def __init__(self, engine: EngineAPI, tools: ToolRegistry | None = None,
                 schedule: Schedule = Schedule.PLANNED) -> None:
        """`schedule` other than `planned` runs a baseline (see executor/schedule.py)."""
        self.engine = engine
        self.tools = tools if tools is not None else ToolRegistry.with_builtins()
        self.schedule = schedule
        self.prefixes = PrefixPool(engine)
        self._executors: OrderedDict[int, tuple[Plan, Executor]] = OrderedDict()

    def executor(self, plan: Plan) -> Executor:
        """The executor of `plan` (made once while the plan is among the recent ones)."""
        key = id(plan)
        kept = self._executors.get(key)
        if kept is not None and kept[0] is plan:
            self._executors.move_to_end(key)
            return kept[1]
        executor = Executor(plan, self.engine, self.tools, self.schedule, self.prefixes)
        self._executors[key] = (plan, executor)  # holding the plan keeps its id unique
        while len(self._executors) > _EXECUTORS_KEPT:
            self._executors.popitem(last=False)
        return executor

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
        """Run `plan` once on the engine (see `Executor.run`)."""
        return await self.executor(plan).run(inputs, seed=seed, on_event=on_event,
                                             cancel=cancel, on_checkpoint=on_checkpoint,
                                             resume=resume)
