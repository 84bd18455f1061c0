"""The node graph of one scope and the orders it implies: back edges, what runs before what,
and which nodes may run in parallel."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from typing import Any

from graph.digraph import (
    DiGraph,
    condensation,
    immediate_dominators,
    lexicographical_topological_sort,
    topological_sort,
)

END_TARGETS = frozenset({"done", "end"})


def is_end_target(target: str, node_ids: Iterable[str]) -> bool:
    """`done` and `end` name the end of the run unless a node has that id."""
    return target in END_TARGETS and target not in set(node_ids)


def node_graph(nodes: Sequence[Any], edges: Sequence[Any]) -> DiGraph[str]:
    """The scope's nodes (in file order) and the edges between them, with attributes `when`,
    `is_else`, `back_edge` and `index` (position in `edges`). Edges to the end of the run or
    to unknown nodes are left out; of two edges joining the same pair, the first is kept."""
    g: DiGraph[str] = DiGraph()
    g.add_nodes_from(node.id for node in nodes)
    kept: dict[tuple[str, str], dict[str, Any]] = {}
    for index, edge in enumerate(edges):
        pair = (edge.from_, edge.to)
        if pair not in kept and edge.from_ in g and edge.to in g:
            kept[pair] = {
                "when": edge.when,
                "is_else": edge.is_else,
                "back_edge": False,
                "index": index,
            }
    for (u, v), data in kept.items():
        g.add_edge(u, v, **data)
    for source, target in back_edges(g):
        g.edges[source, target]["back_edge"] = True
    return g


def start_nodes(g: DiGraph[str]) -> list[str]:
    """Nodes with no in-edge: they start the run."""
    return [n for n in g.nodes if g.in_degree(n) == 0]


def reachable_from(g: DiGraph[str], sources: Iterable[str]) -> set[str]:
    """The sources and every node a path of edges leads to from one of them."""
    seen = set(sources)
    stack = list(seen)
    while stack:
        for child in g.successors(stack.pop()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def back_edges(g: DiGraph[str]) -> set[tuple[str, str]]:
    """Edges that close a cycle, found by a depth-first walk from the start nodes in file
    order (then from any node not yet seen); removing them leaves a DAG."""
    found: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the walk's stack, 2: finished
    for root in [*start_nodes(g), *g.nodes]:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(g.successors(root)))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                found.add((node, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(g.successors(child))))
    return found


def forward_dag(g: DiGraph[str]) -> DiGraph[str]:
    """The graph without its back edges."""
    dag: DiGraph[str] = DiGraph()
    dag.add_nodes_from(g.nodes)
    dag.add_edges_from((u, v) for u, v, back in g.edges(data="back_edge") if not back)
    return dag


class Orders:
    """Before-relations of one scope as ancestor bitsets (Python ints), linear in the graph."""

    def __init__(self, g: DiGraph[str]) -> None:
        self.g = g
        self.index = {n: i for i, n in enumerate(g.nodes)}
        self.has_cycles = any(back for _, _, back in g.edges(data="back_edge"))
        self.dag = forward_dag(g) if self.has_cycles else g

    @cached_property
    def topological_order(self) -> list[str]:
        """The forward DAG's nodes in topological order, ties broken by file order."""
        return lexicographical_topological_sort(self.dag, key=self.index.__getitem__)

    @cached_property
    def _dag_ancestors(self) -> dict[str, int]:
        ancestors: dict[str, int] = {}
        for node in self.topological_order:
            bits = 0
            for parent in self.dag.predecessors(node):
                bits |= ancestors[parent] | (1 << self.index[parent])
            ancestors[node] = bits
        return ancestors

    @cached_property
    def _seen_before(self) -> dict[str, int]:
        """Nodes that may have run before a node starts: its ancestors through any path,
        back edges included, and its loop mates (itself included when it loops)."""
        if not self.has_cycles:
            return self._dag_ancestors
        condensed = condensation(self.g)
        seen: dict[int, int] = {}
        for component in topological_sort(condensed.dag):
            bits = 0
            for parent in condensed.dag.predecessors(component):
                bits |= seen[parent] | self._bits(condensed.members[parent])
            own = condensed.members[component]
            if len(own) > 1 or any(self.g.has_edge(n, n) for n in own):
                bits |= self._bits(own)
            seen[component] = bits
        return {node: seen[condensed.mapping[node]] for node in self.g.nodes}

    def _bits(self, nodes: Iterable[str]) -> int:
        bits = 0
        for node in nodes:
            bits |= 1 << self.index[node]
        return bits

    def runs_before(self, first: str, second: str) -> bool:
        """Whether a path of forward edges leads from `first` to `second`."""
        return bool(self._dag_ancestors[second] >> self.index[first] & 1)

    def any_may_run_before(self, firsts: int, second: str) -> bool:
        """Whether a node of the bitset `firsts` (see `bits`) may have run before `second`."""
        return bool(self._seen_before[second] & firsts)

    def bits(self, nodes: Iterable[str]) -> int:
        """A set of this graph's nodes as a bitset."""
        return self._bits(nodes)

    def ordered(self, a: str, b: str) -> bool:
        return self.runs_before(a, b) or self.runs_before(b, a)

    def unordered_earlier(self, node: str, earlier: int) -> Iterator[str]:
        """The nodes of the bitset `earlier` (all before `node` in topological order) that
        no path of forward edges leads from to `node`, lazily."""
        bits = earlier & ~self._dag_ancestors[node]
        while bits:
            low = bits & -bits
            yield self._nodes[low.bit_length() - 1]
            bits ^= low

    @cached_property
    def _nodes(self) -> list[str]:
        return list(self.g.nodes)


class Concurrency:
    """Which nodes of one scope may run at the same time. Nodes joined by a path of forward
    edges never do; nor do a node reached only through a router's `else` edge and a node
    reached only through that router's `when` edges."""

    def __init__(self, g: DiGraph[str]) -> None:
        self.g = g
        self.orders = Orders(g)

    def first_overlaps(self, nodes: Sequence[str]) -> list[tuple[str, str]]:
        """For each of `nodes` that may run together with one before it in topological
        order, that pair (earlier, later); near-linear, so thousands of writers are cheap."""
        position = {n: i for i, n in enumerate(self.orders.topological_order)}
        earlier, pairs = 0, []
        for node in sorted(nodes, key=position.__getitem__):
            for other in self.orders.unordered_earlier(node, earlier):
                if self.may_overlap(other, node):
                    pairs.append((other, node))
                    break
            earlier |= 1 << self.orders.index[node]
        return pairs

    def may_overlap(self, a: str, b: str) -> bool:
        if a == b or self.orders.ordered(a, b):
            return False
        marks_b = self._branch_marks.get(b, frozenset())
        return not any(
            (router, not via_else) in marks_b for router, via_else in self._branch_marks.get(a, ())
        )

    @cached_property
    def _branch_marks(self) -> dict[Any, frozenset[tuple[str, bool]]]:
        """For each node, the routers (with `else` and `when` edges) whose `else` branch
        (True) or whose `when` branches (False) every path to it passes through. Found with
        one dominator tree: each such router's `when` edges are routed through one virtual
        node and its `else` edge through another, so a node reached only through a branch is
        dominated by that branch's virtual node."""
        root = ("start",)
        split: DiGraph[Any] = DiGraph()
        split.add_node(root)  # a graph with no start node (all in cycles) still has a root
        split.add_edges_from((root, n) for n in start_nodes(self.g))
        for router in self.orders.dag.nodes:
            self._split_router(split, router)
        dominators = immediate_dominators(split, root)
        marks: dict[Any, frozenset[tuple[str, bool]]] = {root: frozenset()}
        for node in topological_sort(_tree(dominators)):
            if node == root:
                continue
            parent = marks[dominators[node]]
            marks[node] = parent | {node[1:]} if node[0] == "branch" else parent
        return marks

    def _split_router(self, split: DiGraph[Any], router: str) -> None:
        targets = list(self.orders.dag.successors(router))
        kinds = {t: self._branch_kind(router, t) for t in targets}
        routed = True in kinds.values() and False in kinds.values()
        for target, kind in kinds.items():
            if routed and kind is not None:
                virtual = ("branch", router, kind)
                split.add_edge(router, virtual)
                split.add_edge(virtual, target)
            else:
                split.add_edge(router, target)
        split.add_node(router)

    def _branch_kind(self, router: str, target: str) -> bool | None:
        """True for an `else` edge, False for a `when` edge, None for an unconditional one."""
        data = self.g.edges[router, target]
        if data["is_else"]:
            return True
        return False if data["when"] is not None else None


def _tree(dominators: dict[Any, Any]) -> DiGraph[Any]:
    tree: DiGraph[Any] = DiGraph()
    tree.add_edges_from((parent, node) for node, parent in dominators.items() if node != parent)
    return tree


def parallel_pairs(nodes: Sequence[Any], edges: Sequence[Any]) -> set[frozenset[str]]:
    """Every pair of nodes of one scope that may run at the same time (quadratic: for
    inspection and tests; the validator asks only about writers of one variable)."""
    concurrency = Concurrency(node_graph(nodes, edges))
    ids = [n.id for n in nodes]
    return {
        frozenset((a, b))
        for i, a in enumerate(ids)
        for b in ids[i + 1 :]
        if concurrency.may_overlap(a, b)
    }


def may_run_in_parallel(workflow: Any) -> set[frozenset[str]]:
    """Pairs of top-level nodes that may run at the same time."""
    return parallel_pairs(workflow.nodes, workflow.edges)
