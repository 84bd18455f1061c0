"""The plan executor: runs a compiled Plan on an engine as a dataflow.

A step starts as soon as its dependencies are done (see `engine/run_graph.py` for routing,
joins and loops); nodes that become ready together are submitted together so the engine
batches them; `map` bodies run once per item in parallel with their results in order. The
plan is honoured: its prefix groups are prefilled once their variables are known and pinned
until their last consumer is done (`engine/run_prefix.py`), requests carry the steps'
critical-path priorities. `optimize=False` is the plain orchestrator baseline: one node at a
time, no eager prefill, no pins (run it on an engine whose prefix cache is off).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from compiler.plan import Plan, Step
from engine.api import EngineAPI
from engine.run_calls import BudgetExceeded, CallContext, Caller, TokenBudget
from engine.run_graph import Dataflow, choose_edges
from engine.run_nodes import NodeError, RunLimitError, assign, evaluate, render_args, render_value
from engine.run_prefix import PrefixPins, PrefixPool
from engine.run_prompts import PromptBuilder
from engine.run_scope import GraphScope, build_graph, first_readers
from engine.run_state import InputError, Scope, resolve_inputs
from engine.tools import ToolError, ToolRegistry
from engine.trace import NodeTrace, Trace

EventKind = Literal["run_start", "node_start", "token", "node_end", "run_end", "error"]
Status = Literal["succeeded", "failed", "cancelled"]


@dataclass(frozen=True)
class RunEvent:
    kind: EventKind
    node_id: str | None
    data: dict[str, Any]
    t: float  # seconds since the run started


@dataclass
class RunResult:
    status: Status
    outputs: dict[str, Any]
    state: dict[str, Any]
    error: str | None
    error_node: str | None
    trace: Trace


@dataclass
class _Run:
    caller: Caller
    trace: Trace
    pins: PrefixPins | None
    started: float
    on_event: Callable[[RunEvent], None] | None
    running: dict[str, int] = field(default_factory=dict)  # step ids in flight

    def clock(self) -> float:
        return time.monotonic() - self.started

    def emit(self, kind: EventKind, node_id: str | None, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(RunEvent(kind, node_id, data, self.clock()))


class Executor:
    def __init__(
        self,
        plan: Plan,
        engine: EngineAPI,
        tokenizer: Any,
        tools: ToolRegistry | None = None,
        optimize: bool = True,
        seed: int = 0,
        prefix_pool: PrefixPool | None = None,
        eos_token_ids: tuple[int, ...] | None = None,
    ) -> None:
        from graph.model import Workflow

        self.plan = plan
        self.engine = engine
        self.tokenizer = tokenizer
        self.tools = tools if tools is not None else ToolRegistry.with_builtins()
        self.optimize = optimize
        self.seed = seed
        self.pool = prefix_pool or PrefixPool(engine)
        self.workflow = Workflow.model_validate(plan.source)
        self.root_graph = build_graph(plan, self.workflow.nodes, self.workflow.edges, plan.steps)
        eos = eos_token_ids if eos_token_ids is not None else _eos_ids(engine, tokenizer)
        self.prompts = PromptBuilder(tokenizer, frozenset(eos))

    async def run(
        self,
        inputs: dict[str, Any] | None = None,
        on_event: Callable[[RunEvent], None] | None = None,
        cancel: asyncio.Event | None = None,
    ) -> RunResult:
        limits = self.workflow.limits
        trace = Trace(self.workflow.name, optimized=self.optimize, started_at=time.time())
        estimate = self.plan.estimate
        trace.predicted_prefill_naive = estimate.prefill_tokens_naive
        trace.predicted_prefill_planned = estimate.prefill_tokens_planned
        trace.predicted_saving = estimate.prefill_saved if self.optimize else 0
        run = self._new_run(trace, on_event)
        steps_before = self.engine.stats().steps
        run.emit("run_start", None, {"workflow": self.workflow.name})
        try:
            readers = first_readers(self.workflow)
            values = resolve_inputs(self.workflow.inputs, inputs or {}, readers)
        except InputError as exc:
            return self._finish(run, None, "failed", str(exc), exc.node_id, steps_before)
        scope = Scope.root(self.workflow.state, values)
        main = asyncio.ensure_future(self._main(run, scope))
        waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
        waits = [main] + ([waiter] if waiter else [])
        done, _ = await asyncio.wait(waits, timeout=limits.timeout_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        if waiter is not None:
            waiter.cancel()
        if main in done:
            error = main.exception()
            if error is None:
                return self._finish(run, scope, "succeeded", None, None, steps_before)
            node = getattr(error, "node_id", None)
            message = str(error) if node else f"{type(error).__name__}: {error}"
            return self._finish(run, scope, "failed", message, node, steps_before)
        in_flight = sorted(run.running) or ["(none)"]
        await self._stop(run, main)
        if waiter is not None and waiter in done:
            message = f"run cancelled while running node '{in_flight[0]}'"
            return self._finish(run, scope, "cancelled", message, in_flight[0], steps_before)
        message = (f"run exceeded limits.timeout_s ({limits.timeout_s:g} s) while running "
                   f"node '{in_flight[0]}'")
        return self._finish(run, scope, "failed", message, in_flight[0], steps_before)

    def _new_run(self, trace: Trace, on_event: Callable[[RunEvent], None] | None) -> _Run:
        run = _Run(None, trace, None, time.monotonic(), on_event)  # type: ignore[arg-type]
        budget = TokenBudget(self.workflow.limits.max_tokens_total)
        emit = run.emit if on_event is not None else None
        run.caller = Caller(self.engine, self.prompts, self.workflow.defaults, budget,
                            self.seed, run.clock, emit)
        if self.optimize:
            run.pins = PrefixPins(self.plan, self.pool, self.tokenizer, run.clock,
                                  trace.prefixes, self._priority)
        return run

    async def _main(self, run: _Run, scope: Scope) -> None:
        if run.pins is not None:
            run.pins.start(scope.values)
        try:
            await self._run_graph(run, self.root_graph, scope, ())
        finally:
            if run.pins is not None:
                run.pins.close()

    async def _stop(self, run: _Run, main: asyncio.Future[None]) -> None:
        for request_id in list(run.caller.in_flight):
            self.engine.abort(request_id)
        main.cancel()
        with contextlib.suppress(BaseException):
            await main
        for record in run.trace.nodes:
            if record.status == "running":
                record.status, record.end = "cancelled", run.clock()

    def _finish(self, run: _Run, scope: Scope | None, status: Status, error: str | None,
                error_node: str | None, steps_before: int) -> RunResult:
        outputs: dict[str, Any] = {}
        if scope is not None and status == "succeeded":
            for name, template in self.workflow.outputs.items():
                try:
                    outputs[name] = render_value(template, scope.values)
                except Exception:  # a variable only a branch not taken writes
                    outputs[name] = None
        run.trace.status = status
        run.trace.duration_s = run.clock()
        run.trace.engine_steps = self.engine.stats().steps - steps_before
        kind: EventKind = "run_end" if status == "succeeded" else "error"
        run.emit(kind, error_node, {"status": status, "error": error})
        state = dict(scope.local) if scope is not None else {}
        return RunResult(status, outputs, state, error, error_node, run.trace)

    async def _run_graph(
        self, run: _Run, graph: GraphScope, scope: Scope, item: tuple[int, ...]
    ) -> None:
        flow = Dataflow(graph.flow)
        flow.start()
        visits: Counter[str] = Counter()
        tasks: dict[asyncio.Task[None], str] = {}
        try:
            while True:
                ready = flow.ready()
                if not self.optimize:
                    ready = ready[:1] if not tasks else []
                for node_id in ready:
                    visits[node_id] += 1
                    self._check_visits(graph, node_id, visits[node_id], item)
                    flow.begin(node_id)
                    task = asyncio.ensure_future(
                        self._run_node(run, graph, node_id, scope, item, visits[node_id]))
                    tasks[task] = node_id
                if not tasks:
                    return
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in sorted(done, key=lambda t: graph.order[tasks[t]]):
                    node_id = tasks.pop(task)
                    flow.finish(node_id)
                    task.result()
                    flow.fire(self._fired_edges(graph, node_id, scope, item))
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task

    def _check_visits(self, graph: GraphScope, node_id: str, visit: int,
                      item: tuple[int, ...]) -> None:
        limit = self.workflow.limits.max_node_visits
        if visit > limit:
            raise RunLimitError(
                graph.step_id(node_id),
                f"exceeded limits.max_node_visits ({limit}): it was about to run a "
                f"{_ordinal(visit)} time",
                item,
            )

    def _fired_edges(self, graph: GraphScope, node_id: str, scope: Scope,
                     item: tuple[int, ...]) -> list:
        edges = graph.flow.out_edges(node_id)
        holds: dict[int, bool] = {}
        for edge in edges:
            if edge.conditional:
                try:
                    holds[edge.index] = bool(evaluate(edge.when, scope.values))
                except Exception as exc:
                    raise NodeError(graph.step_id(node_id),
                                    f"edge to '{edge.target}' when {edge.when!r}: {exc}",
                                    item) from exc
        return choose_edges(edges, holds)

    async def _run_node(self, run: _Run, graph: GraphScope, node_id: str, scope: Scope,
                        item: tuple[int, ...], visit: int) -> None:
        node = graph.nodes[node_id]
        step_id = graph.step_id(node_id)
        key = step_id + "".join(f"[{i}]" for i in item)
        record = NodeTrace(step_id, node.type, visit, item, ready=run.clock(), start=run.clock())
        run.trace.nodes.append(record)
        run.running[key] = run.running.get(key, 0) + 1
        run.emit("node_start", step_id, {"type": node.type, "visit": visit, "item": list(item)})
        if run.pins is not None:
            run.pins.step_started(step_id, scope.values)
        try:
            await self._dispatch(run, graph, node, step_id, scope, item, visit, record)
        except asyncio.CancelledError:
            record.status, record.end = "cancelled", run.clock()
            raise
        except NodeError as exc:
            record.status, record.end, record.error = "failed", run.clock(), str(exc)
            raise
        except Exception as exc:
            record.status, record.end, record.error = "failed", run.clock(), str(exc)
            raise _node_error(step_id, exc, item) from exc
        finally:
            run.running[key] -= 1
            if not run.running[key]:
                del run.running[key]
        record.status, record.end = "succeeded", run.clock()
        if run.pins is not None and not item:
            run.pins.step_done(step_id, scope.values)
        data = {"generated_tokens": record.generated_tokens, "duration_s": record.duration_s}
        run.emit("node_end", step_id, data)

    async def _dispatch(self, run: _Run, graph: GraphScope, node: Any, step_id: str,
                        scope: Scope, item: tuple[int, ...], visit: int,
                        record: NodeTrace) -> None:
        if node.type in ("llm", "select"):
            if run.pins is not None:
                await run.pins.wait_for(step_id)
            request_id = f"{uuid.uuid4().hex[:8]}:{step_id}#{visit}" + "".join(
                f"[{i}]" for i in item)
            call = CallContext(step_id, node, scope, graph.visible[node.id], record,
                               request_id, self._priority(step_id))
            await (run.caller.llm(call) if node.type == "llm" else run.caller.select(call))
        elif node.type == "tool":
            args = render_args(node.args, scope.values)
            scope.write(node.output, await self.tools.call(node.tool, args, node.timeout_s))
        elif node.type == "set":
            for name, value in assign(node, scope.values).items():
                scope.write(name, value)
        elif node.type == "map":
            await self._run_map(run, graph, node, step_id, scope, item)
        else:
            raise ValueError(f"unknown node type {node.type!r}")

    async def _run_map(self, run: _Run, graph: GraphScope, node: Any, step_id: str,
                       scope: Scope, item: tuple[int, ...]) -> None:
        items = evaluate(node.over, scope.values)
        if not isinstance(items, list | tuple):
            raise ValueError(f"over {node.over!r} gave {type(items).__name__}, not a list")
        body = graph.bodies[node.id]
        limit = node.max_concurrency if self.optimize else 1
        slots = asyncio.Semaphore(limit or max(1, len(items)))

        async def one(index: int, value: Any) -> Any:
            async with slots:
                loop = {"index0": index, "index": index + 1, "length": len(items),
                        "first": index == 0, "last": index == len(items) - 1}
                child = scope.child({node.as_: value, "loop": loop})
                await self._run_graph(run, body, child, (*item, index))
                return render_value(node.body.result, child.values)

        tasks = [asyncio.ensure_future(one(i, v)) for i, v in enumerate(items)]
        try:
            if tasks:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            results = [task.result() for task in tasks]
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
        scope.write(node.output, results)

    def _priority(self, step_id: str) -> int:
        try:
            return int(round(self.plan.step(step_id).priority * 1000))
        except KeyError:
            return 0


def _node_error(step_id: str, exc: Exception, item: tuple[int, ...]) -> NodeError:
    if isinstance(exc, ToolError | BudgetExceeded):
        return NodeError(step_id, str(exc), item)
    from engine.run_nodes import is_constraint_problem

    if is_constraint_problem(exc):
        return NodeError(step_id, f"constraint cannot be satisfied: {exc}", item)
    return NodeError(step_id, f"{type(exc).__name__}: {exc}" if not isinstance(
        exc, ValueError) else str(exc), item)


def _eos_ids(engine: Any, tokenizer: Any) -> tuple[int, ...]:
    ids = getattr(engine, "eos_token_ids", None) or getattr(
        getattr(engine, "engine", None), "eos_token_ids", None)
    if ids:
        return tuple(ids)
    eos = getattr(tokenizer, "eos_token_id", None)
    return (eos,) if isinstance(eos, int) else ()


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


__all__ = ["Executor", "RunEvent", "RunResult", "Step"]
