"""graph/digraph.py against networkx, its oracle, on random directed graphs (cycles,
self-loops, isolated nodes, string names), and the compile path's freedom from networkx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.digraph import (
    DiGraph,
    ancestors,
    condensation,
    find_cycle,
    immediate_dominators,
    lexicographical_topological_sort,
    relabel_nodes,
    strongly_connected_components,
    topological_generations,
    topological_sort,
)

ROOT = Path(__file__).resolve().parents[2]
NAMES = st.text(alphabet="abnxyz", min_size=1, max_size=3)
Edges = list[tuple[str, str]]


@st.composite
def graphs(draw: st.DrawFn, acyclic: bool = False) -> tuple[list[str], Edges]:
    """Nodes added first (in a random order), then edges, some of whose ends are added only
    by the edge; with `acyclic`, edges only go forward in a random ranking of the nodes."""
    names = draw(st.lists(NAMES, unique=True, max_size=14))
    if not names:
        return [], []
    listed = names[: draw(st.integers(0, len(names)))]
    edges = draw(st.lists(st.tuples(st.sampled_from(names), st.sampled_from(names)),
                          max_size=3 * len(names)))
    if acyclic:
        rank = {n: i for i, n in enumerate(draw(st.permutations(names)))}
        edges = [(u, v) for u, v in edges if rank[u] < rank[v]]
    return listed, edges


def both(listed: list[str], edges: Edges) -> tuple[DiGraph[str], nx.DiGraph]:
    ours: DiGraph[str] = DiGraph()
    theirs = nx.DiGraph()
    for g in (ours, theirs):
        g.add_nodes_from(listed)
        g.add_edges_from(edges)
    return ours, theirs


def assert_cycle(g: DiGraph[str], cycle: Edges) -> None:
    assert cycle, "no cycle"
    assert all(g.has_edge(u, v) for u, v in cycle)
    assert all(a[1] == b[0] for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True))
    assert len({u for u, _ in cycle}) == len(cycle)  # simple: no node twice


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_the_graph_iterates_as_networkx(graph: tuple[list[str], Edges]) -> None:
    ours, theirs = both(*graph)
    assert list(ours.nodes) == list(theirs.nodes) and len(ours) == len(theirs)
    assert list(ours.edges) == list(theirs.edges) and len(ours.edges) == len(theirs.edges)
    for node in theirs:
        assert node in ours
        assert list(ours.successors(node)) == list(theirs.successors(node))
        assert list(ours.predecessors(node)) == list(theirs.predecessors(node))
        assert ours.in_degree(node) == theirs.in_degree(node)
    for u in theirs:
        for v in theirs:
            assert ours.has_edge(u, v) == theirs.has_edge(u, v)
    assert "missing" not in ours and not ours.has_edge("missing", "a")


@settings(max_examples=150, deadline=None)
@given(graphs(), st.data())
def test_edge_attributes_as_networkx(graph: tuple[list[str], Edges], data: st.DataObject) -> None:
    ours, theirs = both(*graph)
    for i, (u, v) in enumerate(list(theirs.edges)):
        value = data.draw(st.sampled_from([None, "x > 1", i]))
        ours.add_edge(u, v, when=value)  # again: updates, keeps its place
        theirs.add_edge(u, v, when=value)
        if i % 2:
            ours.edges[u, v]["back_edge"] = theirs.edges[u, v]["back_edge"] = True
    assert list(ours.edges(data="when")) == list(theirs.edges(data="when"))
    assert list(ours.edges(data="back_edge")) == list(theirs.edges(data="back_edge"))
    assert list(ours.edges(data=True)) == list(theirs.edges(data=True))
    assert all(ours.edges[e] == theirs.edges[e] for e in theirs.edges)


@settings(max_examples=150, deadline=None)
@given(graphs(), st.data())
def test_subgraph_and_relabel(graph: tuple[list[str], Edges], data: st.DataObject) -> None:
    ours, theirs = both(*graph)
    for u, v in ours.edges:
        ours.edges[u, v]["index"] = theirs.edges[u, v]["index"] = len(u + v)
    keep = data.draw(st.permutations(list(ours.nodes)))[: data.draw(st.integers(0, len(ours)))]
    sub = ours.subgraph(keep)
    assert list(sub.nodes) == keep
    assert set(sub.edges) == set(theirs.subgraph(keep).edges)
    for node in keep:  # successors in the graph's order, attribute dicts shared
        assert list(sub.successors(node)) == [v for v in ours.successors(node) if v in keep]
        assert all(sub.edges[node, v] is ours.edges[node, v] for v in sub.successors(node))
    relabelled = relabel_nodes(ours, lambda n: f"s.{n}")
    expected = nx.relabel_nodes(theirs, {n: f"s.{n}" for n in theirs})
    assert list(relabelled.nodes) == list(expected.nodes)
    assert list(relabelled.edges(data=True)) == list(expected.edges(data=True))
    for node in expected:
        assert list(relabelled.predecessors(node)) == list(expected.predecessors(node))
    for u, v in ours.edges:  # copied, not shared
        assert relabelled.edges[f"s.{u}", f"s.{v}"] is not ours.edges[u, v]


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_strongly_connected_components_in_networkx_order(graph: tuple[list[str], Edges]) -> None:
    ours, theirs = both(*graph)
    assert strongly_connected_components(ours) == list(nx.strongly_connected_components(theirs))


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_condensation_as_networkx(graph: tuple[list[str], Edges]) -> None:
    ours, theirs = both(*graph)
    condensed = condensation(ours)
    expected = nx.condensation(theirs)
    assert condensed.mapping == expected.graph["mapping"]
    assert condensed.members == [expected.nodes[c]["members"] for c in expected]
    assert list(condensed.dag.nodes) == list(expected.nodes)
    assert list(condensed.dag.edges) == list(expected.edges)
    for node, component in condensed.mapping.items():
        assert node in condensed.members[component]
    assert len(topological_sort(condensed.dag)) == len(condensed.members)


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_find_cycle_as_networkx(graph: tuple[list[str], Edges]) -> None:
    ours, theirs = both(*graph)
    for source in theirs:
        try:
            expected = nx.find_cycle(theirs, source)
        except nx.NetworkXNoCycle:
            expected = []
        cycle = find_cycle(ours, source)
        assert cycle == expected
        if cycle:
            assert_cycle(ours, cycle)


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_find_cycle_in_each_component_as_validation_does(graph: tuple[list[str], Edges]) -> None:
    ours, _ = both(*graph)
    position = {n: i for i, n in enumerate(ours.nodes)}
    for component in strongly_connected_components(ours):
        members = sorted(component, key=position.__getitem__)
        if len(members) == 1 and not ours.has_edge(members[0], members[0]):
            assert find_cycle(ours.subgraph(members), members[0]) == []
            continue
        cycle = find_cycle(ours.subgraph(members), members[0])
        assert_cycle(ours, cycle)
        assert {u for u, _ in cycle} <= component


@settings(max_examples=300, deadline=None)
@given(graphs(acyclic=True), st.data())
def test_topological_orders_as_networkx(
    graph: tuple[list[str], Edges], data: st.DataObject
) -> None:
    ours, theirs = both(*graph)
    assert topological_generations(ours) == list(nx.topological_generations(theirs))
    order = topological_sort(ours)
    assert order == list(nx.topological_sort(theirs))
    position = {n: i for i, n in enumerate(order)}
    assert all(position[u] < position[v] for u, v in ours.edges)
    keys = {n: data.draw(st.integers(0, 3)) for n in ours.nodes}  # ties: node order decides
    assert lexicographical_topological_sort(ours, keys.__getitem__) == list(
        nx.lexicographical_topological_sort(theirs, key=keys.__getitem__)
    )


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_topological_orders_refuse_cycles(graph: tuple[list[str], Edges]) -> None:
    ours, theirs = both(*graph)
    if nx.is_directed_acyclic_graph(theirs):
        return
    with pytest.raises(ValueError):
        topological_sort(ours)
    with pytest.raises(ValueError):
        lexicographical_topological_sort(ours, lambda n: 0)


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_ancestors_as_networkx(graph: tuple[list[str], Edges]) -> None:
    ours, theirs = both(*graph)
    for node in theirs:
        assert ancestors(ours, node) == nx.ancestors(theirs, node)


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_immediate_dominators_as_networkx(graph: tuple[list[str], Edges]) -> None:
    ours, theirs = both(*graph)
    for start in theirs:
        assert immediate_dominators(ours, start) == nx.immediate_dominators(theirs, start)


def test_dominators_of_a_graph_where_path_compression_matters() -> None:
    edges = [("r", "a"), ("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("r", "e"),
             ("e", "b"), ("c", "f"), ("f", "a"), ("d", "g"), ("g", "c")]
    ours, theirs = both([], edges)
    assert immediate_dominators(ours, "r") == nx.immediate_dominators(theirs, "r")


def test_long_chains_and_cycles_need_no_recursion() -> None:
    size = 30_000
    chain = [(f"n{i}", f"n{i + 1}") for i in range(size)]
    ours, _ = both([], chain)
    assert topological_sort(ours)[-1] == f"n{size}"
    assert len(ancestors(ours, f"n{size}")) == size
    assert immediate_dominators(ours, "n0")[f"n{size}"] == f"n{size - 1}"
    ours.add_edge(f"n{size}", "n0")
    assert [len(c) for c in strongly_connected_components(ours)] == [size + 1]
    assert len(find_cycle(ours, "n0")) == size + 1


def _fresh(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


def test_the_compile_path_imports_no_networkx() -> None:
    code = ("import sys\nimport compiler.driver, compiler.render, executor.shape, graph\n"
            "print('networkx' in sys.modules)")
    assert _fresh(code) == "False"


def test_flowc_compile_imports_no_networkx() -> None:
    code = ("import sys\nfrom flowc.cli import main\n"
            "try:\n    main(['compile', 'examples/graphs/soar_triage.json'])\n"
            "except SystemExit as exit:\n    assert exit.code == 0\n"
            "print('networkx' in sys.modules)")
    assert _fresh(code) == "False"
