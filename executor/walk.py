"""Walking one graph of a run (the workflow's or a map body's) as a dataflow: launching
every ready node at once (so the engine batches sibling calls), firing out-edges, bounding
visits, and doing each node's work (llm/select calls, tools, assignments, map fan-out)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from compiler import Route
from engine.api import ConstraintError, EngineError
from executor.calls import CallContext, Caller
from executor.checkpoint import Checkpoint
from executor.errors import BudgetExceeded, NodeError, RunLimitError
from executor.events import EventKind, RunEvents
from executor.flow import Dataflow, choose_edges
from executor.nodes import assign, render_args, render_value
from executor.offload import off_loop
from executor.prefixes import PrefixPins
from executor.schedule import Schedule
from executor.shape import GraphShape
from executor.state import Scope
from executor.tools import ToolError, ToolRegistry
from executor.trace import NodeTrace, Trace
from graph import LlmNode, MapNode, Node, SelectNode, SetNode, ToolNode, evaluate


@dataclass
class RunContext:
    events: RunEvents
    caller: Caller
    trace: Trace
    pins: PrefixPins | None
    running: dict[str, int] = field(default_factory=dict)  # step ids in flight
    resume: Checkpoint | None = None  # where the workflow graph starts from
    on_checkpoint: Callable[[Checkpoint], None] | None = None
    done: list[str] = field(default_factory=list)  # workflow graph nodes finished

    def clock(self) -> float:
        return self.events.clock()

    def checkpoint(self, graph: GraphShape, flow: Dataflow, visits: Counter[str],
                   scope: Scope) -> None:
        """Report the run's state at this node boundary of the workflow graph. Skipped while
        a `map` node runs: its items may already have written state through reducers."""
        if self.on_checkpoint is None or any(
                isinstance(graph.nodes[n], MapNode) for n in flow.running):
            return
        started = visits - Counter(flow.running)
        self.on_checkpoint(Checkpoint(
            dict(scope.local), {name: tuple(turns) for name, turns in scope.threads.items()},
            flow.state(), dict(started), tuple(self.done), self.caller.budget.used))

    def emit(self, kind: EventKind, node_id: str | None, data: dict[str, Any]) -> None:
        self.events.emit(kind, node_id, data)


@dataclass
class Walker:
    """Runs graphs for one executor; all per-run state lives in the RunContext."""

    tools: ToolRegistry
    schedule: Schedule
    max_visits: int
    priority: Callable[[str], int]

    async def run_graph(
        self, run: RunContext, graph: GraphShape, scope: Scope, item: tuple[int, ...]
    ) -> None:
        flow = Dataflow(graph.flow)
        visits: Counter[str] = Counter()
        workflow_graph = not item  # map bodies always run under an item index
        if workflow_graph and run.resume is not None:
            flow.restore(run.resume.flow)
            visits.update(run.resume.visits)
        else:
            flow.start()
        tasks: dict[asyncio.Task[None], str] = {}
        try:
            while True:
                for node_id in self.schedule.launchable(flow.ready(), len(tasks)):
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
                    flow.fire(await self._fired_edges(graph, node_id, scope, item))
                    if workflow_graph:
                        run.done.append(node_id)
                if workflow_graph:
                    run.checkpoint(graph, flow, visits, scope)
        finally:
            await _cancel_all(list(tasks))

    def _check_visits(self, graph: GraphShape, node_id: str, visit: int,
                      item: tuple[int, ...]) -> None:
        limit = self.max_visits
        if visit > limit:
            raise RunLimitError(
                node_id,
                f"exceeded limits.max_node_visits ({limit}): it was about to run a "
                f"{_ordinal(visit)} time",
                item,
            )

    async def _fired_edges(self, graph: GraphShape, node_id: str, scope: Scope,
                           item: tuple[int, ...]) -> list[Route]:
        edges = graph.flow.out_edges(node_id)
        conditional = [edge for edge in edges if edge.conditional]
        holds: dict[Route, bool] = {}
        if conditional:
            holds = await off_loop(self._conditions, node_id, conditional,
                                   scope.snapshot(), item)
        return choose_edges(edges, holds)

    @staticmethod
    def _conditions(node_id: str, edges: list[Route], values: Mapping[str, Any],
                    item: tuple[int, ...]) -> dict[Route, bool]:
        holds: dict[Route, bool] = {}
        for edge in edges:
            assert edge.when is not None
            try:
                holds[edge] = bool(evaluate(edge.when, values))
            except Exception as exc:
                raise NodeError(node_id,
                                f"edge to '{_local(edge.target)}' when {edge.when!r}: {exc}",
                                item) from exc
        return holds

    async def _run_node(self, run: RunContext, graph: GraphShape, step_id: str, scope: Scope,
                        item: tuple[int, ...], visit: int) -> None:
        node = graph.nodes[step_id]
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
            self._failed(run, record, str(exc))
            raise
        except Exception as exc:
            error = _node_error(step_id, exc, item)
            self._failed(run, record, str(error))
            raise error from exc
        finally:
            run.running[key] -= 1
            if not run.running[key]:
                del run.running[key]
        record.status, record.end = "succeeded", run.clock()
        if run.pins is not None and not item:
            run.pins.step_done(step_id, scope.values)
        data = {"status": "succeeded", "generated_tokens": record.generated_tokens,
                "duration_s": record.duration_s, "item": list(item)}
        run.emit("node_end", step_id, data)

    @staticmethod
    def _failed(run: RunContext, record: NodeTrace, error: str) -> None:
        record.status, record.end, record.error = "failed", run.clock(), error
        run.emit("node_end", record.node_id, {"status": "failed", "error": error,
                                              "item": list(record.item)})

    async def _dispatch(self, run: RunContext, graph: GraphShape, node: Node, step_id: str,
                        scope: Scope, item: tuple[int, ...], visit: int,
                        record: NodeTrace) -> None:
        if isinstance(node, LlmNode | SelectNode):
            request_id = f"{uuid.uuid4().hex[:8]}:{step_id}#{visit}" + "".join(
                f"[{i}]" for i in item)
            call = CallContext(step_id, node, scope, graph.visible[step_id], record,
                               request_id, self.priority(step_id))
            if isinstance(node, LlmNode):
                await run.caller.llm(call, node)
            else:
                await run.caller.select(call, node)
        elif isinstance(node, ToolNode):
            args = await off_loop(render_args, node.args, scope.snapshot())
            scope.write(node.output, await self.tools.call(node.tool, args, node.timeout_s))
        elif isinstance(node, SetNode):
            for name, value in (await off_loop(assign, node, scope.snapshot())).items():
                scope.write(name, value)
        else:
            await self._run_map(run, graph, node, step_id, scope, item)

    async def _run_map(self, run: RunContext, graph: GraphShape, node: MapNode, step_id: str,
                       scope: Scope, item: tuple[int, ...]) -> None:
        items = await off_loop(evaluate, node.over, scope.snapshot())
        if not isinstance(items, list | tuple):
            raise ValueError(f"over {node.over!r} gave {type(items).__name__}, not a list")
        body = graph.bodies[step_id]
        slots = asyncio.Semaphore(self.schedule.map_concurrency(node.max_concurrency, len(items)))

        async def one(index: int, value: Any) -> Any:
            async with slots:
                loop = {"index0": index, "index": index + 1, "length": len(items),
                        "first": index == 0, "last": index == len(items) - 1}
                child = scope.child({node.as_: value, "loop": loop})
                await self.run_graph(run, body, child, (*item, index))
                return await off_loop(render_value, node.body.result, child.snapshot())

        tasks = [asyncio.ensure_future(one(i, v)) for i, v in enumerate(items)]
        try:
            if tasks:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            results = [task.result() for task in tasks]
        finally:
            await _cancel_all(tasks)
        scope.write(node.output, results)


async def _cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel the tasks still running and wait until each has ended."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(BaseException):
            await task


def _node_error(step_id: str, exc: Exception, item: tuple[int, ...]) -> NodeError:
    if isinstance(exc, ConstraintError):
        return NodeError(step_id, f"constraint cannot be satisfied: {exc}", item)
    if isinstance(exc, ToolError | BudgetExceeded | EngineError | ValueError):
        return NodeError(step_id, str(exc), item)
    return NodeError(step_id, f"{type(exc).__name__}: {exc}", item)


def _local(step_id: str) -> str:
    """A step's node id within its graph."""
    return step_id.rpartition(".")[2]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
