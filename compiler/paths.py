"""How often a run visits each step, over the paths it can take.

Expected: every router's branches are equally likely (its `when` edges, its `else` edge, or
"none fires" when it has no `else`); a join runs when any of its in-edges fired. Worst case:
the branches that prefill the most (a router's `when` edges together, or its `else`).
Loops: worst case at their declared bound (`limits.max_node_visits`); expected by the same
branch model, a loop re-entered with probability q per visit runs (1 - q^bound) / (1 - q)
times. Map bodies: per item (`runs`), weighted by how often the map itself runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from compiler.context import CompileContext, Scope
from compiler.graphapi import MapNode, is_end_target, topological_sort

MAX_WORST_CASE_ROUTERS = 10  # beyond 2^10 branch choices, every branch counts as taken


@dataclass(frozen=True)
class Visits:
    expected: Mapping[str, float]  # step id -> visits per workflow run
    worst: Mapping[str, float]


@dataclass(frozen=True)
class _Edge:
    source: str
    target: str | None  # None: the end of the scope's run
    conditional: bool
    is_else: bool


def visits(ctx: CompileContext, tokens: Mapping[str, float]) -> Visits:
    """Visits per step; `tokens` (prefill per visit of each call step) picks the worst case."""
    expected: dict[str, float] = {}
    worst: dict[str, float] = {}
    worst_tokens: dict[str, float] = {}
    for scope in sorted(ctx.scopes.values(), key=lambda s: -len(s.name.split("."))):
        if scope.name and scope.name not in ctx.sites:
            continue
        edges = _edges(ctx, scope)
        expected.update(_expected(ctx, scope, edges))
        own = {s: tokens.get(s, 0.0) * ctx.runs[s] + worst_tokens.get(f"body:{s}", 0.0)
               for s in scope.graph.nodes}
        reached = _worst(ctx, scope, edges, own)
        worst.update(reached)
        worst_tokens[f"body:{scope.name}"] = sum(own[s] * reached[s] for s in reached)
    return Visits(_nested(ctx, expected), _nested(ctx, worst))


def _nested(ctx: CompileContext, local: dict[str, float]) -> dict[str, float]:
    """Local visits times the step's runs, times the visits of the maps around it."""
    result = {}
    for step_id, site in ctx.sites.items():
        weight = local.get(step_id, 0.0) * ctx.runs[step_id]
        scope = site.scope
        while scope:
            weight *= local.get(scope, 0.0)
            scope = ctx.sites[scope].scope
        result[step_id] = weight
    return result


def _edges(ctx: CompileContext, scope: Scope) -> list[_Edge]:
    edges = [_Edge(u, v, bool(d.get("when")) or bool(d.get("is_else")), bool(d.get("is_else")))
             for u, v, d in scope.graph.edges(data=True)]
    nodes, declared = ctx.workflow.nodes, ctx.workflow.edges
    if scope.name:
        body = ctx.sites[scope.name].node
        assert isinstance(body, MapNode)
        nodes, declared = body.body.nodes, body.body.edges
    ids = [n.id for n in nodes]
    prefix = f"{scope.name}." if scope.name else ""
    edges += [_Edge(prefix + e.from_, None, bool(e.when), e.is_else)
              for e in declared if e.from_ in ids and is_end_target(e.to, ids)]
    return edges


def _shares(edges: list[_Edge]) -> dict[tuple[str, str | None], float]:
    """The chance each edge fires when its source has run."""
    alternatives: dict[str, int] = {}
    has_else: dict[str, bool] = {}
    for edge in edges:
        if edge.conditional:
            alternatives[edge.source] = alternatives.get(edge.source, 0) + 1
            has_else[edge.source] = has_else.get(edge.source, False) or edge.is_else
    return {(e.source, e.target): (1.0 / (alternatives[e.source]
                                          + (0 if has_else[e.source] else 1))
                                   if e.conditional else 1.0) for e in edges}


def _expected(ctx: CompileContext, scope: Scope, edges: list[_Edge]) -> dict[str, float]:
    share = _shares(edges)
    reach: dict[str, float] = {}
    for node in topological_sort(scope.dag):
        sources = list(scope.dag.predecessors(node))
        fired = sum(reach[u] * share[(u, node)] for u in sources)
        reach[node] = 1.0 if not sources else min(1.0, fired)
    for loop in ctx.loops:
        if loop.nodes[0] not in reach:
            continue
        members = set(loop.nodes)
        again = sum(share[(u, v)] * reach[u] / reach[v] for u, v in scope.graph.edges
                    if u in members and v in members and not scope.dag.has_edge(u, v)
                    and reach[v] > 0)
        for node in loop.nodes:
            reach[node] *= _loop_count(min(1.0, again), loop.max_visits)
    return reach


def _loop_count(again: float, bound: int) -> float:
    """Expected visits when each visit is followed by another with probability `again`."""
    if again >= 1.0:
        return float(bound)
    return (1.0 - again**bound) / (1.0 - again)


def _worst(ctx: CompileContext, scope: Scope, edges: list[_Edge],
           cost: Mapping[str, float]) -> dict[str, float]:
    """Visits on the costliest choice of branches: 0 or 1 per step, loops at their bound."""
    routers = sorted({e.source for e in edges if e.is_else}
                     & {e.source for e in edges if e.conditional and not e.is_else})
    if len(routers) > MAX_WORST_CASE_ROUTERS:
        routers = []
    bound = {n: float(loop.max_visits) for loop in ctx.loops for n in loop.nodes}
    best: dict[str, float] = {}
    best_cost = -1.0
    for choice in itertools.product((False, True), repeat=len(routers)):
        takes_else = dict(zip(routers, choice, strict=True))
        reached = _reached(scope, edges, takes_else)
        weights = {s: (bound.get(s, 1.0) if s in reached else 0.0) for s in scope.graph.nodes}
        total = sum(cost[s] * w for s, w in weights.items())
        if total > best_cost:
            best, best_cost = weights, total
    return best


def _reached(scope: Scope, edges: list[_Edge], takes_else: Mapping[str, bool]) -> set[str]:
    def allowed(edge: _Edge) -> bool:
        if edge.source not in takes_else or not edge.conditional:
            return True
        return edge.is_else == takes_else[edge.source]

    open_edges = {(e.source, e.target) for e in edges if allowed(e)}
    reached = {n for n in scope.dag.nodes if scope.dag.in_degree(n) == 0}
    for node in topological_sort(scope.dag):
        if any(u in reached and (u, node) in open_edges for u in scope.dag.predecessors(node)):
            reached.add(node)
    return reached
