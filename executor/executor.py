"""The plan executor: runs a compiled Plan on an engine as a dataflow.

The Plan is its only input. A step starts as soon as its dependencies are done (see
`executor/flow.py` for routing, joins and loops); nodes that become ready together are
submitted together so the engine batches them; `map` bodies run once per item in parallel
with their results in order. The plan is honoured: its prefix groups are prefilled once their
variables are known and pinned until their last consumer is done (`executor/prefixes.py`),
requests carry the steps' critical-path priorities. The other schedules
(`executor/schedule.py`) are the baselines the plan is measured against. One Executor serves
any number of runs, concurrent ones too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from compiler import Plan
from engine.api import EngineAPI
from executor.calls import Caller, TokenBudget
from executor.checkpoint import Checkpoint
from executor.errors import NodeError
from executor.events import EventKind, RunEvent, RunEvents
from executor.nodes import render_value
from executor.offload import off_loop
from executor.prefixes import PrefixPins, PrefixPool
from executor.prompts import PromptBuilder
from executor.schedule import Schedule
from executor.shape import plan_shape
from executor.state import Scope
from executor.tools import ToolRegistry
from executor.trace import Trace
from executor.walk import RunContext, Walker
from graph import InputError, RenderBudget, reducers_of, render_budget, resolve_inputs

Status = Literal["succeeded", "failed", "cancelled"]


@dataclass
class RunResult:
    status: Status
    outputs: dict[str, Any]
    state: dict[str, Any]
    error: str | None
    error_node: str | None
    trace: Trace


class Executor:
    def __init__(
        self,
        plan: Plan,
        engine: EngineAPI,
        tools: ToolRegistry | None = None,
        schedule: Schedule = Schedule.PLANNED,
        prefix_pool: PrefixPool | None = None,
    ) -> None:
        self.plan = plan
        self.interface = plan.interface
        self.engine = engine
        self.tools = tools if tools is not None else ToolRegistry.with_builtins()
        self.schedule = schedule
        self.pool = prefix_pool or PrefixPool(engine)
        self.shape = plan_shape(plan)
        self.reducers = reducers_of(plan.interface.state)
        self.priorities = ({s.id: int(round(s.priority * 1000)) for s in plan.walk()}
                           if schedule.honours_plan else {})
        self.prompts = PromptBuilder(engine.tokenizer, lambda: engine.eos_token_ids,
                                     lambda: engine.max_context)
        self.walker = Walker(self.tools, schedule, plan.interface.limits.max_node_visits,
                             self._priority)

    async def run(
        self,
        inputs: dict[str, Any] | None = None,
        *,
        seed: int = 0,
        on_event: Callable[[RunEvent], None] | None = None,
        cancel: asyncio.Event | None = None,
        on_checkpoint: Callable[[Checkpoint], None] | None = None,
        resume: Checkpoint | None = None,
    ) -> RunResult:
        """Run the plan once. `seed` seeds every sampled call that sets no seed of its own.
        Every template of the run renders off the event loop, within the workflow's
        `limits.render_timeout_s` and `limits.max_render_chars`. `on_checkpoint` gets the
        run's state at each node boundary of the workflow graph; a run given `resume` (a
        checkpoint of this plan) goes on from there, its inputs ignored: with the same seed it
        ends as the run the checkpoint came from would have."""
        limits = self.interface.limits
        with render_budget(RenderBudget(limits.render_timeout_s, limits.max_render_chars)):
            return await self._run(inputs, seed, on_event, cancel, on_checkpoint, resume)

    async def _run(self, inputs: dict[str, Any] | None, seed: int,
                   on_event: Callable[[RunEvent], None] | None,
                   cancel: asyncio.Event | None,
                   on_checkpoint: Callable[[Checkpoint], None] | None,
                   resume: Checkpoint | None) -> RunResult:
        limits = self.interface.limits
        trace = Trace(self.plan.workflow, schedule=self.schedule, started_at=time.time())
        estimate = self.plan.estimate
        trace.predicted_prefill_naive = estimate.prefill_tokens_naive
        trace.predicted_prefill_planned = estimate.prefill_tokens_planned
        trace.predicted_saving = estimate.prefill_saved if self.schedule.honours_plan else 0
        run = self._new_run(trace, seed, on_event)
        run.resume, run.on_checkpoint = resume, on_checkpoint
        steps_before = self.engine.stats().steps
        run.emit("run_start", None, {"workflow": self.plan.workflow,
                                     **({"resumed_after": list(resume.done)} if resume else {})})
        if resume is not None:
            scope = Scope(self.reducers, resume.values)
            scope.threads = {name: list(turns) for name, turns in resume.threads.items()}
            run.caller.budget.used = resume.tokens_used
            run.done.extend(resume.done)
        else:
            try:
                values = resolve_inputs(self.interface.inputs, inputs or {},
                                        self.interface.readers)
            except InputError as exc:
                return self._finish(run, None, "failed", str(exc), exc.node_id, steps_before)
            scope = Scope.root(self.interface.state, self.reducers, values)
        main = asyncio.ensure_future(self._main(run, scope))
        waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
        waits = [main] + ([waiter] if waiter else [])
        try:
            done, _ = await asyncio.wait(waits, timeout=limits.timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the caller gave up on the run: stop it too
            await self._stop(run, main)
            raise
        finally:
            if waiter is not None:
                waiter.cancel()
        if main in done:
            error = main.exception()
            if error is None:
                outputs = await off_loop(self._outputs, scope.snapshot())
                return self._finish(run, scope, "succeeded", None, None, steps_before, outputs)
            node = error.node_id if isinstance(error, NodeError) else None
            message = str(error) if node else f"{type(error).__name__}: {error}"
            return self._finish(run, scope, "failed", message, node, steps_before)
        node, label = _in_flight(run)
        await self._stop(run, main)
        doing = f"while running node '{label}'" if label else "before any node ran"
        if waiter is not None and waiter in done:
            return self._finish(run, scope, "cancelled", f"run cancelled {doing}", node,
                                steps_before)
        message = f"run exceeded limits.timeout_s ({limits.timeout_s:g} s) {doing}"
        return self._finish(run, scope, "failed", message, node, steps_before)

    def _new_run(self, trace: Trace, seed: int,
                 on_event: Callable[[RunEvent], None] | None) -> RunContext:
        events = RunEvents(time.monotonic(), on_event)
        budget = TokenBudget(self.interface.limits.max_tokens_total)
        caller = Caller(self.engine, self.prompts, self.interface.defaults, budget, seed,
                        events.clock, events.emit if on_event is not None else None)
        pins = None
        if self.schedule.honours_plan:
            pins = PrefixPins(self.plan, self.pool, self.engine.tokenizer, events.clock,
                              trace.prefixes, self.engine.page_size)
        return RunContext(events, caller, trace, pins)

    async def _main(self, run: RunContext, scope: Scope) -> None:
        if run.pins is not None:
            run.pins.start(scope.values, run.done)
        try:
            await self.walker.run_graph(run, self.shape, scope, ())
        finally:
            if run.pins is not None:
                run.pins.close()

    async def _stop(self, run: RunContext, main: asyncio.Future[None]) -> None:
        for request_id in list(run.caller.in_flight):
            self.engine.abort(request_id)
        main.cancel()
        with contextlib.suppress(BaseException):
            await main
        for record in run.trace.nodes:
            if record.status == "running":
                record.status, record.end = "cancelled", run.clock()

    def _outputs(self, values: dict[str, Any]) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for name, template in self.interface.outputs.items():
            try:
                outputs[name] = render_value(template, values)
            except Exception:  # a variable only a branch not taken writes
                outputs[name] = None
        return outputs

    def _finish(self, run: RunContext, scope: Scope | None, status: Status, error: str | None,
                error_node: str | None, steps_before: int,
                outputs: dict[str, Any] | None = None) -> RunResult:
        run.trace.status = status
        run.trace.duration_s = run.clock()
        run.trace.engine_steps = self.engine.stats().steps - steps_before
        kind: EventKind = "run_end" if status == "succeeded" else "error"
        run.emit(kind, error_node, {"status": status, "error": error})
        state = dict(scope.local) if scope is not None else {}
        return RunResult(status, outputs or {}, state, error, error_node, run.trace)

    def _priority(self, step_id: str) -> int:
        return self.priorities.get(step_id, 0)


def _in_flight(run: RunContext) -> tuple[str | None, str | None]:
    """The innermost node running now: its step id and its label with map item indices."""
    if not run.running:
        return None, None
    label = max(run.running, key=lambda k: (k.count(".") + k.count("["), k))
    return label.split("[")[0], label


__all__ = ["Executor", "RunEvent", "RunResult"]
