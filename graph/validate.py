"""Whole-graph validation: every problem at once, each with its JSON path and node id.

Also exports the graph views the compiler reuses (`node_graph`, `back_edges`,
`may_run_in_parallel` and `Concurrency`, `reads_of`, `writes_of`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from graph.dataflow import MAP_LOCALS, Source, node_sources, reads_of, writes_of
from graph.digraph import DiGraph, find_cycle, strongly_connected_components
from graph.edges import check_edges
from graph.errors import Problem
from graph.fields import check_inputs, check_layout, check_node_fields, check_state
from graph.names import Names, Visibility
from graph.sources import MAX_TEMPLATE_CHARS, check_source
from graph.topology import (
    Concurrency,
    back_edges,
    may_run_in_parallel,
    node_graph,
    reachable_from,
    start_nodes,
)

MAX_NODES = 20_000
MAX_EDGES = 100_000
MAX_MAP_DEPTH = 8

__all__ = [
    "Concurrency",
    "MAX_MAP_DEPTH",
    "MAX_NODES",
    "MAX_TEMPLATE_CHARS",
    "back_edges",
    "may_run_in_parallel",
    "node_graph",
    "reads_of",
    "validate",
    "writes_of",
]


def validate(workflow: Any) -> list[Problem]:
    """Every error and warning of a parsed workflow (never stops at the first)."""
    size = _size_problems(workflow)
    if size:
        return size
    problems = check_inputs(workflow) + check_state(workflow)
    given = set(workflow.inputs) | set(workflow.state)
    scope = _Scope(workflow.nodes, workflow.edges, "", Names(given), set(workflow.state), 1)
    problems += scope.check()
    everything = Names(given | set(scope.writers))
    for name, template in workflow.outputs.items():
        problems += check_source(
            Source(name, "template", template),
            f"outputs.{name}",
            None,
            everything,
            {},
            "node",
        )
    problems += check_layout(workflow)
    return problems


def _count(nodes: Iterable[Any]) -> tuple[int, int]:
    total_nodes = total_edges = 0
    for node in nodes:
        total_nodes += 1
        if node.type == "map":
            inner_nodes, inner_edges = _count(node.body.nodes)
            total_nodes += inner_nodes
            total_edges += inner_edges + len(node.body.edges)
    return total_nodes, total_edges


def _size_problems(workflow: Any) -> list[Problem]:
    node_count, edge_count = _count(workflow.nodes)
    edge_count += len(workflow.edges)
    problems = []
    if node_count > MAX_NODES:
        problems.append(
            Problem(
                "nodes",
                f"the workflow has {node_count:,} nodes (map bodies "
                f"included); the limit is {MAX_NODES:,}: split it into "
                "smaller workflows",
            )
        )
    if edge_count > MAX_EDGES:
        problems.append(
            Problem(
                "edges",
                f"the workflow has {edge_count:,} edges (map bodies "
                f"included); the limit is {MAX_EDGES:,}: split it into "
                "smaller workflows",
            )
        )
    return problems


class _Scope:
    """One graph scope: the top level or a map body (checked recursively)."""

    def __init__(
        self,
        nodes: Sequence[Any],
        edges: Sequence[Any],
        prefix: str,
        outer: Names,
        reduced: set[str],
        depth: int,
    ) -> None:
        self.nodes, self.edges, self.prefix = nodes, edges, prefix
        self.outer, self.reduced, self.depth = outer, reduced, depth
        self.position = {}
        for index, node in enumerate(nodes):
            self.position.setdefault(node.id, index)
        self.g = node_graph(nodes, edges)
        self.concurrency = Concurrency(self.g)
        self.writers = _writers(nodes)
        orders = self.concurrency.orders
        self.writer_bits = {v: orders.bits(ids) for v, ids in self.writers.items()}

    def path(self, index: int) -> str:
        return f"{self.prefix}nodes[{index}]"

    def check(self) -> list[Problem]:
        problems = self._duplicate_ids()
        problems += check_edges(self.nodes, self.edges, self.prefix)
        problems += self._when_expressions()
        problems += self._cycles_without_when()
        problems += self._unreachable()
        problems += self._conflicting_writers()
        for index, node in enumerate(self.nodes):
            problems += check_node_fields(node, self.path(index))
            visible = self.visible(node.id)
            for source in node_sources(node):
                problems += check_source(
                    source,
                    f"{self.path(index)}.{source.path}",
                    node.id,
                    visible,
                    self.writers,
                    "upstream node",
                )
            if node.type == "map":
                problems += self._map_body(index, node, visible)
        return problems

    def visible(self, node_id: str, extra: Iterable[str] = ()) -> Visibility:
        """Variables a node may read: from outside the scope and from nodes that may have
        run before it (ancestors, loop mates), plus `extra`."""
        return Visibility(self, node_id, set(extra))

    def _duplicate_ids(self) -> list[Problem]:
        return [
            Problem(
                f"{self.path(i)}.id",
                f"duplicate node id '{node.id}' (first used by "
                f"{self.path(self.position[node.id])}): give every node a unique id",
                node.id,
            )
            for i, node in enumerate(self.nodes)
            if self.position[node.id] != i
        ]

    def _when_expressions(self) -> list[Problem]:
        problems = []
        for index, edge in enumerate(self.edges):
            if edge.when is None or edge.is_else or edge.from_ not in self.g:
                continue
            visible = self.visible(edge.from_, writes_of(self._node(edge.from_)))
            problems += check_source(
                Source("when", "expression", edge.when),
                f"{self.prefix}edges[{index}].when",
                edge.from_,
                visible,
                self.writers,
                "upstream node",
            )
        return problems

    def _node(self, node_id: str) -> Any:
        return self.nodes[self.position[node_id]]

    def _cycles_without_when(self) -> list[Problem]:
        if not self.concurrency.orders.has_cycles:
            return []
        plain: DiGraph[str] = DiGraph()
        plain.add_nodes_from(self.g.nodes)
        plain.add_edges_from((u, v) for u, v, when in self.g.edges(data="when") if when is None)
        problems = []
        for component in strongly_connected_components(plain):
            members = sorted(component, key=self.position.__getitem__)
            first = members[0]
            if len(component) == 1 and not plain.has_edge(first, first):
                continue
            cycle = find_cycle(plain.subgraph(members), first)
            names = " -> ".join([*(u for u, _ in cycle), cycle[0][0]])
            index = self.g.edges[cycle[-1]]["index"]
            problems.append(
                Problem(
                    f"{self.prefix}edges[{index}]",
                    f"cycle {names} has no 'when' edge and would never end: make one of its "
                    "edges conditional",
                    cycle[-1][0],
                )
            )
        return problems

    def _unreachable(self) -> list[Problem]:
        starts = start_nodes(self.g)
        if not starts:
            return [
                Problem(
                    f"{self.prefix}nodes",
                    "no start node: every node has an in-edge, "
                    "so nothing can start the run; remove an edge into the first node",
                )
            ]
        reached = reachable_from(self.g, starts)
        return [
            Problem(
                self.path(i),
                f"node '{node.id}' is unreachable: no path leads to it from "
                "a start node (a node with no in-edge); add an edge to it or remove it",
                node.id,
                "warning",
            )
            for i, node in enumerate(self.nodes)
            if node.id not in reached and self.position[node.id] == i
        ]

    def _conflicting_writers(self) -> list[Problem]:
        return [
            self._conflict(variable, earlier, later)
            for variable, writers in self.writers.items()
            if variable not in self.reduced and len(writers) > 1
            for earlier, later in self.concurrency.first_overlaps(writers)
        ]

    def _conflict(self, variable: str, earlier: str, later: str) -> Problem:
        node = self._node(later)
        field = f"assign.{variable}" if node.type == "set" else "output"
        return Problem(
            f"{self.path(self.position[later])}.{field}",
            f"variable '{variable}' is also written by node '{earlier}' and the two may run "
            f"in parallel: give '{variable}' a reducer in \"state\" (append, extend, merge or "
            "replace), or order the two nodes with an edge",
            later,
        )

    def _map_body(self, index: int, node: Any, visible: Visibility) -> list[Problem]:
        path = f"{self.path(index)}.body."
        if self.depth > MAX_MAP_DEPTH:
            return [
                Problem(
                    f"{self.path(index)}.body",
                    f"maps are nested more than {MAX_MAP_DEPTH} deep: flatten the nesting",
                    node.id,
                )
            ]
        inner = Names({node.as_, *MAP_LOCALS}, visible)
        body = _Scope(node.body.nodes, node.body.edges, path, inner, self.reduced, self.depth + 1)
        problems = body.check()
        problems += check_source(
            Source("result", "template", node.body.result),
            f"{path}result",
            node.id,
            Names(set(body.writers), inner),
            {},
            "body node",
        )
        return problems


def _writers(nodes: Sequence[Any]) -> dict[str, list[str]]:
    writers: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for node in nodes:
        if node.id in seen:
            continue
        seen.add(node.id)
        for variable in sorted(writes_of(node)):
            writers[variable].append(node.id)
    return dict(writers)
