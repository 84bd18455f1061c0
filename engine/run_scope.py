"""The static shape of each graph a run executes (the workflow's and every map body's): its
nodes, its dataflow edges (back edges marked the way the compiler marks them), the plan order
and, per node, which thread turns it sees (its ancestors and its loop mates)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from compiler.graphapi import node_graph, reads_of
from compiler.plan import Plan, Step
from engine.run_graph import Flow, FlowEdge


@dataclass
class GraphScope:
    prefix: str  # "" at top level, "<map step id>." inside a map body
    flow: Flow
    nodes: dict[str, Any]
    order: dict[str, int]
    visible: dict[str, set[str]]
    bodies: dict[str, GraphScope] = field(default_factory=dict)

    def step_id(self, node_id: str) -> str:
        return self.prefix + node_id


def build_graph(
    plan: Plan, nodes: Sequence[Any], edges: Sequence[Any], steps: Sequence[Step],
    prefix: str = "",
) -> GraphScope:
    g = node_graph(list(nodes), list(edges))
    by_id = {n.id: n for n in nodes}
    planned = [s.id[len(prefix):] for s in steps if s.id[len(prefix):] in by_id]
    ordered = planned + [n.id for n in nodes if n.id not in planned]
    flow_edges = tuple(
        FlowEdge(
            index=i,
            source=e.from_,
            target=e.to,
            when=e.when,
            is_else=e.is_else,
            back=g.has_edge(e.from_, e.to) and bool(g.edges[e.from_, e.to].get("back_edge")),
        )
        for i, e in enumerate(edges)
    )
    flow = Flow(tuple(ordered), flow_edges)
    scope = GraphScope(prefix, flow, by_id, {n: i for i, n in enumerate(ordered)},
                       _visibility(g, flow))
    step_by_id = {s.id: s for s in steps}
    for node in nodes:
        if node.type == "map":
            step = step_by_id.get(prefix + node.id)
            body_steps = step.body if step is not None else ()
            scope.bodies[node.id] = build_graph(
                plan, node.body.nodes, node.body.edges, body_steps, f"{prefix}{node.id}."
            )
    return scope


def _visibility(g: nx.DiGraph, flow: Flow) -> dict[str, set[str]]:
    dag = nx.DiGraph()
    dag.add_nodes_from(flow.nodes)
    dag.add_edges_from((e.source, e.target) for e in flow.edges if not e.back)
    loops = {n: c for c in nx.strongly_connected_components(g) for n in c}
    return {n: nx.ancestors(dag, n) | set(loops.get(n, ())) | {n} for n in flow.nodes}


def first_readers(workflow: Any) -> dict[str, str]:
    """For each variable, the first node (in source order) whose templates read it."""
    readers: dict[str, str] = {}
    for node in workflow.nodes:
        for name in sorted(reads_of(node)):
            readers.setdefault(name, node.id)
    return readers
