"""The schedule: dependencies (the static DAG, back edges removed), parallel stages (the
DAG's topological generations) and HEFT upward-rank priorities (a step's own expected
seconds plus the longest path below it). Map bodies are scheduled first: a map step costs
its body's critical path once per wave of items."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from compiler.context import CompileContext, Schedule, Scope
from compiler.cost import call_tokens, decode_estimate, step_seconds
from compiler.graphapi import Concurrency, lexicographical_topological_sort, topological_generations
from compiler.sites import map_items


@dataclass(frozen=True)
class SchedulePass:
    name: str = "schedule"

    def apply(self, ctx: CompileContext) -> CompileContext:
        index = {step_id: i for i, step_id in enumerate(ctx.sites)}
        deps: dict[str, tuple[str, ...]] = {}
        stages: dict[str, tuple[tuple[str, ...], ...]] = {}
        stage_of: dict[str, int] = {}
        priority: dict[str, float] = {}
        cost: dict[str, float] = {}
        orders: dict[str, list[str]] = {}
        # deepest scopes first, so a map step's body is costed before the map itself
        for scope in sorted(ctx.scopes.values(), key=lambda s: -s.name.count(".") - bool(s.name)):
            cost.update({s: _own_cost(ctx, s, priority) for s in scope.dag.nodes})
            orders[scope.name] = lexicographical_topological_sort(scope.dag, index.__getitem__)
            priority.update(_upward_ranks(scope, orders[scope.name], cost))
            for step_id in orders[scope.name]:
                deps[step_id] = tuple(sorted(scope.dag.predecessors(step_id), key=index.get))
            stages[scope.name] = _stages(scope, index)
            for number, wave in enumerate(stages[scope.name]):
                stage_of.update(dict.fromkeys(wave, number))
        scope_names = sorted(ctx.scopes, key=lambda name: index.get(name, -1))
        order = tuple(s for name in scope_names for s in orders[name])
        concurrent = _concurrent(ctx.scopes[""], stages[""])
        schedule = Schedule(order, deps, stages, concurrent, stage_of, priority, cost)
        return dataclasses.replace(ctx, schedule=schedule)

    def summary(self, ctx: CompileContext) -> str:
        assert ctx.schedule is not None
        top = ctx.schedule.stages[""]
        widest = max((len(w) for w in top), default=0)
        return f"{len(top)} stages at top level (widest {widest}), {len(ctx.schedule.order)} steps"


def _own_cost(ctx: CompileContext, step_id: str, priority: dict[str, float]) -> float:
    node = ctx.sites[step_id].node
    if node.type == "map":
        body = ctx.scopes[step_id].dag.nodes
        critical = max((priority[s] for s in body), default=0.0)
        items = map_items(ctx.workflow, node)
        waves = math.ceil(items / (node.max_concurrency or items))
        return critical * waves
    prompt = call_tokens(ctx.calls[step_id], ctx.dynamic_tokens) if step_id in ctx.calls else 0
    decode = decode_estimate(ctx.workflow, ctx.tokenizer, node)
    return step_seconds(node.type, prompt, decode)


def _upward_ranks(
    scope: Scope, order: list[str], cost: dict[str, float]
) -> dict[str, float]:
    """HEFT upward rank: own cost plus the highest rank among the successors."""
    rank: dict[str, float] = {}
    for step_id in reversed(order):
        below = max((rank[s] for s in scope.dag.successors(step_id)), default=0.0)
        rank[step_id] = cost[step_id] + below
    return rank


def _stages(scope: Scope, index: dict[str, int]) -> tuple[tuple[str, ...], ...]:
    return tuple(
        tuple(sorted(wave, key=index.__getitem__)) for wave in topological_generations(scope.dag)
    )


def _concurrent(scope: Scope, waves: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    concurrency = Concurrency(scope.graph)
    return tuple(
        tuple(a for a in wave if any(concurrency.may_overlap(a, b) for b in wave if b != a))
        for wave in waves
    )
