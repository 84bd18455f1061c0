"""The static shape of each graph a run executes (the workflow's and every map body's), read
from the Plan: its steps in plan order, its routes, and per step which thread turns it sees
(its ancestors and its loop mates). Everything is keyed by step id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from compiler.plan import Plan, Route, Step
from executor.flow import Flow
from graph import DiGraph, MapNode, Node, ancestors, strongly_connected_components


@dataclass(frozen=True)
class GraphShape:
    flow: Flow
    nodes: dict[str, Node]  # step id -> node
    order: dict[str, int]  # step id -> position in plan order
    visible: dict[str, frozenset[str]]  # step id -> steps whose thread turns it sees
    bodies: dict[str, GraphShape] = field(default_factory=dict)  # map step id -> its body


def plan_shape(plan: Plan) -> GraphShape:
    """The shape of the plan's top-level graph, map bodies nested."""
    return _shape(plan.steps, plan.routes)


def _shape(steps: Sequence[Step], routes: Sequence[Route]) -> GraphShape:
    ids = tuple(step.id for step in steps)
    own = set(ids)
    edges = tuple(r for r in routes if r.source in own)
    flow = Flow(ids, edges)
    nodes = {step.id: _node(step) for step in steps}
    bodies = {step.id: _shape(step.body, routes) for step in steps
              if isinstance(nodes[step.id], MapNode)}
    return GraphShape(flow, nodes, {n: i for i, n in enumerate(ids)}, _visibility(flow),
                      bodies)


def _node(step: Step) -> Node:
    if step.node is None:
        raise ValueError(f"plan step '{step.id}' carries no node: compile the workflow again")
    return step.node


def _visibility(flow: Flow) -> dict[str, frozenset[str]]:
    graph: DiGraph[str] = DiGraph()
    graph.add_nodes_from(flow.nodes)
    graph.add_edges_from((e.source, e.target) for e in flow.edges)
    dag: DiGraph[str] = DiGraph()
    dag.add_nodes_from(flow.nodes)
    dag.add_edges_from((e.source, e.target) for e in flow.edges if not e.back_edge)
    loops = {n: c for c in strongly_connected_components(graph) for n in c}
    return {n: frozenset(ancestors(dag, n) | loops.get(n, set()) | {n}) for n in flow.nodes}
