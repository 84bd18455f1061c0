"""flowc's own directed graph and the few graph algorithms the workflow layers use.

Why it exists: `flowc compile` must start, compile a workflow and exit within 0.5 s, and
importing networkx alone (its package imports some 350 modules, with no lazy mode) took a
third of that. The runtime code uses this module instead; networkx stays in the tests, as
the oracle these functions are checked against (tests/graph/test_digraph.py).

What it covers: `DiGraph` (nodes, successors and predecessors in insertion order, an
attribute dict per edge) with the part of networkx's DiGraph API that flowc uses, and
strongly connected components, condensation, a cycle through a node, topological sorts and
generations, ancestors, immediate dominators and relabelling. Where networkx defines an
output order, these functions give the same order: the compiler's plans depend on it. All
are iterative (workflows of 10,000 nodes are compiled) and linear in nodes plus edges, but
for the lexicographic sort (n log n) and dominators (m log n).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Iterator, KeysView
from typing import Generic, Literal, NamedTuple, TypeVar, overload

N = TypeVar("N", bound=Hashable)
M = TypeVar("M", bound=Hashable)

EdgeAttrs = dict[str, object]


class EdgeView(Generic[N]):
    """A graph's edges, as networkx's `G.edges`: iterating gives the (u, v) pairs in node
    order, then successor order; `edges[u, v]` is the edge's attribute dict; `edges(data=
    name)` adds that attribute's value (None when unset), `edges(data=True)` the dict."""

    def __init__(self, succ: dict[N, dict[N, EdgeAttrs]]) -> None:
        self._succ = succ

    def __iter__(self) -> Iterator[tuple[N, N]]:
        for u, targets in self._succ.items():
            for v in targets:
                yield u, v

    def __len__(self) -> int:
        return sum(len(targets) for targets in self._succ.values())

    def __getitem__(self, edge: tuple[N, N]) -> EdgeAttrs:
        return self._succ[edge[0]][edge[1]]

    @overload
    def __call__(self, data: Literal[True]) -> Iterator[tuple[N, N, EdgeAttrs]]: ...

    @overload
    def __call__(self, data: str) -> Iterator[tuple[N, N, object]]: ...

    def __call__(self, data: str | Literal[True]) -> Iterator[tuple[N, N, object]]:
        for u, targets in self._succ.items():
            for v, attrs in targets.items():
                yield u, v, attrs if data is True else attrs.get(data)


class DiGraph(Generic[N]):
    """A directed graph without parallel edges. Nodes, each node's successors and each
    node's predecessors iterate in the order they were added, as in networkx."""

    def __init__(self) -> None:
        # _succ[u][v] and _pred[v][u] are the same attribute dict
        self._succ: dict[N, dict[N, EdgeAttrs]] = {}
        self._pred: dict[N, dict[N, EdgeAttrs]] = {}
        self.edges: EdgeView[N] = EdgeView(self._succ)

    def add_node(self, node: N) -> None:
        if node not in self._succ:
            self._succ[node] = {}
            self._pred[node] = {}

    def add_nodes_from(self, nodes: Iterable[N]) -> None:
        for node in nodes:
            self.add_node(node)

    def add_edge(self, u: N, v: N, **attrs: object) -> None:
        """Adds `u` and `v` if missing; adding an edge again keeps its place and updates its
        attributes."""
        self.add_node(u)
        self.add_node(v)
        data = self._succ[u].get(v)
        if data is None:
            data = self._succ[u][v] = self._pred[v][u] = {}
        data.update(attrs)

    def add_edges_from(self, edges: Iterable[tuple[N, N]]) -> None:
        for u, v in edges:
            self.add_edge(u, v)

    @property
    def nodes(self) -> KeysView[N]:
        return self._succ.keys()

    def __contains__(self, node: object) -> bool:
        return node in self._succ

    def __iter__(self) -> Iterator[N]:
        return iter(self._succ)

    def __len__(self) -> int:
        return len(self._succ)

    def successors(self, node: N) -> Iterator[N]:
        return iter(self._succ[node])

    def predecessors(self, node: N) -> Iterator[N]:
        return iter(self._pred[node])

    def in_degree(self, node: N) -> int:
        return len(self._pred[node])

    def has_edge(self, u: N, v: N) -> bool:
        return u in self._succ and v in self._succ[u]

    def subgraph(self, nodes: Iterable[N]) -> DiGraph[N]:
        """A new graph of `nodes` (in the order given) and the edges among them, which share
        their attribute dicts with this graph's; each node's successors keep their order."""
        sub: DiGraph[N] = DiGraph()
        sub.add_nodes_from(nodes)
        for u in sub.nodes:
            for v, attrs in self._succ[u].items():
                if v in sub._succ:
                    sub._succ[u][v] = sub._pred[v][u] = attrs
        return sub


def relabel_nodes(g: DiGraph[N], label: Callable[[N], M]) -> DiGraph[M]:
    """A copy of `g` with each node renamed by `label` (one to one) and each edge's attribute
    dict copied. As networkx's copy, it adds the nodes, then the edges in `g.edges` order, so
    each node's predecessors come out in the order of `g.nodes`, not of the edges' adding."""
    relabelled: DiGraph[M] = DiGraph()
    relabelled.add_nodes_from(label(n) for n in g.nodes)
    for u, v, attrs in g.edges(data=True):
        relabelled.add_edge(label(u), label(v), **attrs)
    return relabelled


def strongly_connected_components(g: DiGraph[N]) -> list[set[N]]:
    """The strongly connected components in networkx's order: Tarjan's, depth first from
    each unvisited node in node order, so a component comes after every component it leads
    to (reverse topological order of the condensation)."""
    preorder: dict[N, int] = {}
    lowlink: dict[N, int] = {}
    unassigned: list[N] = []  # visited nodes not yet in a component, in preorder
    in_unassigned: set[N] = set()
    components: list[set[N]] = []
    for root in g.nodes:
        if root in preorder:
            continue
        walk = [(root, g.successors(root))]
        preorder[root] = lowlink[root] = len(preorder)
        unassigned.append(root)
        in_unassigned.add(root)
        while walk:
            node, children = walk[-1]
            for child in children:
                if child not in preorder:
                    preorder[child] = lowlink[child] = len(preorder)
                    unassigned.append(child)
                    in_unassigned.add(child)
                    walk.append((child, g.successors(child)))
                    break
                if child in in_unassigned:
                    lowlink[node] = min(lowlink[node], preorder[child])
            else:
                walk.pop()
                if walk:
                    parent = walk[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[node])
                if lowlink[node] == preorder[node]:
                    components.append(_pop_component(node, unassigned, in_unassigned))
    return components


def _pop_component(root: N, unassigned: list[N], in_unassigned: set[N]) -> set[N]:
    component: set[N] = set()
    while root not in component:
        member = unassigned.pop()
        in_unassigned.discard(member)
        component.add(member)
    return component


class Condensation(NamedTuple, Generic[N]):
    """Each strongly connected component of a graph as one node of a DAG."""

    dag: DiGraph[int]  # component numbers, numbered in `strongly_connected_components` order
    members: list[set[N]]  # component number -> its nodes
    mapping: dict[N, int]  # node -> its component's number


def condensation(g: DiGraph[N]) -> Condensation[N]:
    """The graph with each strongly connected component contracted to one node, numbered as
    networkx numbers them."""
    members = strongly_connected_components(g)
    mapping = {node: i for i, component in enumerate(members) for node in component}
    dag: DiGraph[int] = DiGraph()
    dag.add_nodes_from(range(len(members)))
    dag.add_edges_from((mapping[u], mapping[v]) for u, v in g.edges if mapping[u] != mapping[v])
    return Condensation(dag, members, mapping)


def find_cycle(g: DiGraph[N], source: N) -> list[tuple[N, N]]:
    """The first cycle a depth-first walk from `source` closes (successors in order), as its
    edges from the node the closing edge returns to; as networkx's `find_cycle(g, source)`.
    Empty when no cycle can be reached from `source`."""
    path = [source]  # the walk's stack of nodes
    on_path = {source}
    done: set[N] = set()
    walk = [g.successors(source)]
    while walk:
        for child in walk[-1]:
            if child in on_path:
                cycle = [*path[path.index(child) :], child]
                return list(zip(cycle[:-1], cycle[1:], strict=True))
            if child not in done:
                path.append(child)
                on_path.add(child)
                walk.append(g.successors(child))
                break
        else:
            walk.pop()
            finished = path.pop()
            on_path.discard(finished)
            done.add(finished)
    return []


def topological_generations(g: DiGraph[N]) -> list[list[N]]:
    """The nodes of a DAG in waves: those without in-edges (in node order), then those whose
    in-edges all come from earlier waves (in the order their last in-edge was removed), as
    networkx. Raises ValueError when `g` has a cycle."""
    indegree = {node: g.in_degree(node) for node in g.nodes}
    wave = [node for node, d in indegree.items() if not d]
    generations = []
    while wave:
        generations.append(wave)
        wave = []
        for node in generations[-1]:
            for child in g.successors(node):
                indegree[child] -= 1
                if not indegree[child]:
                    wave.append(child)
    if sum(map(len, generations)) < len(g):
        raise ValueError("the graph has a cycle: it has no topological order")
    return generations


def topological_sort(g: DiGraph[N]) -> list[N]:
    """The nodes of a DAG in networkx's topological order: its generations, concatenated."""
    return [node for wave in topological_generations(g) for node in wave]


def lexicographical_topological_sort(g: DiGraph[N], key: Callable[[N], int]) -> list[N]:
    """The topological order of a DAG that picks, of the nodes whose in-edges are all done,
    the one with the smallest key (then the earliest in node order), as networkx. Raises
    ValueError when `g` has a cycle."""
    position = {node: i for i, node in enumerate(g.nodes)}
    indegree = {node: g.in_degree(node) for node in g.nodes}
    ready = [(key(node), position[node], node) for node, d in indegree.items() if not d]
    heapq.heapify(ready)
    order = []
    while ready:
        node = heapq.heappop(ready)[2]
        order.append(node)
        for child in g.successors(node):
            indegree[child] -= 1
            if not indegree[child]:
                heapq.heappush(ready, (key(child), position[child], child))
    if len(order) < len(g):
        raise ValueError("the graph has a cycle: it has no topological order")
    return order


def ancestors(g: DiGraph[N], node: N) -> set[N]:
    """Every node from which a path leads to `node`; `node` itself is left out even when it
    lies on a cycle, as in networkx."""
    seen = {node}
    stack = [node]
    while stack:
        for parent in g.predecessors(stack.pop()):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    seen.discard(node)
    return seen


def immediate_dominators(g: DiGraph[N], start: N) -> dict[N, N]:
    """For each node reachable from `start` but `start` itself, its immediate dominator: the
    last node other than itself that every path from `start` to it passes through. The
    simple Lengauer-Tarjan algorithm, O(m log n); the same dominators as networkx, keyed in
    depth-first preorder."""
    order, number, parent = _preorder(g, start)
    semi = list(range(len(order)))  # semidominator, as a preorder number
    label = list(range(len(order)))
    ancestor = [-1] * len(order)  # the forest of processed nodes; -1: a root
    bucket: list[list[int]] = [[] for _ in order]
    idom = [0] * len(order)
    for w in range(len(order) - 1, 0, -1):
        for predecessor in g.predecessors(order[w]):
            v = number.get(predecessor)
            if v is not None:  # else unreachable from start
                semi[w] = min(semi[w], semi[_evaluate(v, ancestor, semi, label)])
        bucket[semi[w]].append(w)
        ancestor[w] = parent[w]
        for v in bucket[parent[w]]:
            u = _evaluate(v, ancestor, semi, label)
            idom[v] = u if semi[u] < semi[v] else parent[w]
        bucket[parent[w]].clear()
    for w in range(1, len(order)):
        if idom[w] != semi[w]:
            idom[w] = idom[idom[w]]
    return {order[w]: order[idom[w]] for w in range(1, len(order))}


def _preorder(g: DiGraph[N], start: N) -> tuple[list[N], dict[N, int], list[int]]:
    """The nodes reachable from `start` in depth-first preorder, each one's preorder
    number, and by number each one's parent in the walk's tree (`start`'s is itself)."""
    order, parent = [start], [0]
    number = {start: 0}
    walk = [(0, g.successors(start))]
    while walk:
        v, children = walk[-1]
        for child in children:
            if child not in number:
                number[child] = len(order)
                order.append(child)
                parent.append(v)
                walk.append((number[child], g.successors(child)))
                break
        else:
            walk.pop()
    return order, number, parent


def _evaluate(v: int, ancestor: list[int], semi: list[int], label: list[int]) -> int:
    """The node of smallest semidominator on the forest path above `v` (its root left out),
    compressing that path as it goes."""
    if ancestor[v] < 0:
        return v
    path, top = [], v
    while ancestor[ancestor[top]] >= 0:
        path.append(top)
        top = ancestor[top]
    for node in reversed(path):  # from the top down, as the recursive compress would
        above = ancestor[node]
        if semi[label[above]] < semi[label[node]]:
            label[node] = label[above]
        ancestor[node] = ancestor[above]
    return label[v]
