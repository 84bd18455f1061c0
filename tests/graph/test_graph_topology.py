"""Graph views the compiler reuses: back edges, reads and writes, and which nodes may run in
parallel (a router's `else` branch never overlaps its `when` branches)."""

from __future__ import annotations

import networkx as nx
from graph_cases import base
from hypothesis import given, settings
from hypothesis import strategies as st

import graph
from graph.topology import forward_dag, start_nodes
from graph.validate import (
    Concurrency,
    back_edges,
    may_run_in_parallel,
    node_graph,
    reads_of,
    writes_of,
)


def _workflow(nodes: list[tuple[str, str]], edges: list[tuple]) -> graph.Workflow:
    return graph.parse({
        "flowc": 1, "name": "g",
        "nodes": [{"id": i, "type": "set", "assign": {v: "1"}} for i, v in nodes],
        "edges": [{"from": e[0], "to": e[1], **({"when": e[2]} if len(e) > 2 else {})}
                  for e in edges],
    })


def test_back_edges_close_cycles_and_leave_a_dag() -> None:
    wf = _workflow([("start", "a"), ("think", "b"), ("act", "c"), ("answer", "d")],
                   [("start", "think"), ("think", "act", "b < 3"), ("act", "think"),
                    ("think", "answer", "else")])
    g = node_graph(wf.nodes, wf.edges)
    assert back_edges(g) == {("act", "think")}
    assert [e for e in g.edges if g.edges[e]["back_edge"]] == [("act", "think")]
    assert g.edges["think", "answer"]["is_else"] and g.edges["think", "act"]["when"] == "b < 3"


def test_parallel_branches_and_exclusive_router_branches() -> None:
    wf = _workflow(
        [("r", "x"), ("yes1", "y"), ("yes2", "y2"), ("no", "n"), ("side", "s"), ("join", "j")],
        [("r", "yes1", "x == 1"), ("yes1", "yes2"), ("r", "no", "else"), ("yes2", "join"),
         ("no", "join")],
    )
    pairs = may_run_in_parallel(wf)
    assert frozenset(("yes1", "no")) not in pairs  # else vs when: never together
    assert frozenset(("yes2", "no")) not in pairs
    assert frozenset(("r", "yes1")) not in pairs  # ordered by an edge
    assert frozenset(("side", "r")) in pairs and frozenset(("side", "join")) in pairs


def test_writers_reached_only_through_else_and_when_do_not_conflict() -> None:
    data = base(lambda d: (
        d["nodes"].append({"id": "close", "type": "set", "assign": {"report": "'closed'"}}),
        d["edges"].__setitem__(slice(None), [
            {"from": "classify", "to": "summarize", "when": "label == 'billing'"},
            {"from": "classify", "to": "close", "when": "else"},
            {"from": "summarize", "to": "report"}])))
    assert graph.load(data).node("close").assign == {"report": "'closed'"}


def test_a_join_reached_from_elsewhere_still_conflicts() -> None:
    data = base(lambda d: (
        d["nodes"].append({"id": "close", "type": "set", "assign": {"report": "'closed'"}}),
        d["edges"].__setitem__(slice(None), [
            {"from": "classify", "to": "report", "when": "label == 'billing'"},
            {"from": "classify", "to": "close", "when": "else"},
            {"from": "summarize", "to": "report"}])))
    problems = graph.validate(graph.parse(data))
    assert [p.path for p in problems] == ["nodes[3].assign.report"]


def test_a_reducer_allows_parallel_writers() -> None:
    data = base(lambda d: (d["nodes"][1].update(output="label"),
                           d["nodes"][2].update(prompt="{{ label | join(', ') }}"),
                           d.update(state={"label": {"reducer": "append", "default": []}})))
    assert graph.validate(graph.parse(data)) == []


def test_reads_and_writes_of_every_node_type() -> None:
    wf = graph.parse({
        "flowc": 1, "name": "rw",
        "inputs": {"items": {"type": "array"}, "q": {}},
        "nodes": [
            {"id": "ask", "type": "llm", "output": "a",
             "messages": [{"role": "system", "content": "{{ q }}"},
                          {"role": "user", "content": "{% for i in items %}{{ i }}{% endfor %}"}]},
            {"id": "t", "type": "tool", "tool": "calc", "output": "r",
             "args": {"expression": "{{ a }}", "nested": [{"x": "{{ q }}"}], "n": 3}},
            {"id": "s", "type": "set", "assign": {"u": "r + 1", "v": "a ~ q"}},
            {"id": "m", "type": "map", "over": "items", "as": "it", "output": "out",
             "body": {"nodes": [{"id": "inner", "type": "llm", "output": "z",
                                 "prompt": "{{ it }} {{ loop.index }} {{ u }}"},
                                {"id": "after", "type": "set", "assign": {"w": "z ~ v"}}],
                      "edges": [{"from": "inner", "to": "after"}],
                      "result": "{{ w }}"}},
        ],
    })
    ask, tool, setter, mapper = wf.nodes
    assert reads_of(ask) == {"q", "items"} and writes_of(ask) == {"a"}
    assert reads_of(tool) == {"a", "q"} and writes_of(tool) == {"r"}
    assert reads_of(setter) == {"r", "a", "q"} and writes_of(setter) == {"u", "v"}
    assert reads_of(mapper) == {"items", "u", "v"} and writes_of(mapper) == {"out"}


def test_loop_mates_may_read_each_others_outputs() -> None:
    wf = _workflow([("start", "n"), ("step", "m"), ("check", "k")],
                   [("start", "step"), ("step", "check"), ("check", "step", "k < 3")])
    data = wf.model_dump(by_alias=True)
    data["nodes"][1]["assign"] = {"m": "k | default(0)"}
    assert graph.validate(graph.parse(data)) == []


def _reach(g, removed: set) -> set:
    dag = forward_dag(g)
    seen = set(start_nodes(g))
    stack = list(seen)
    while stack:
        node = stack.pop()
        for child in dag.successors(node):
            if child not in seen and (node, child) not in removed:
                seen.add(child)
                stack.append(child)
    return seen


def _oracle_overlap(g, a: str, b: str) -> bool:
    """The definition, by brute force: ordered nodes never overlap, nor do nodes that removing
    a router's else edge and removing its when edges respectively cut off."""
    dag = nx.DiGraph(list(forward_dag(g).edges))
    dag.add_nodes_from(g.nodes)
    if a == b or nx.has_path(dag, a, b) or nx.has_path(dag, b, a):
        return False
    reached = _reach(g, set())
    for router in g.nodes:
        out = [(router, t) for t in dag.successors(router)]
        elses = {e for e in out if g.edges[e]["is_else"]}
        whens = {e for e in out if g.edges[e]["when"] is not None and e not in elses}
        if elses and whens:
            only_else, only_when = reached - _reach(g, elses), reached - _reach(g, whens)
            if (a in only_else and b in only_when) or (b in only_else and a in only_when):
                return False
    return True


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_concurrency_matches_its_definition_on_random_graphs(data) -> None:
    size = data.draw(st.integers(2, 8))
    edges = []
    for target in range(1, size):
        for source in sorted(data.draw(st.sets(st.integers(0, target - 1), max_size=2))):
            edges.append((f"n{source}", f"n{target}",
                          data.draw(st.sampled_from([None, "x > 1", "else"]))))
    if data.draw(st.booleans()):
        edges.append((f"n{size - 1}", "n1", "x < 3"))
    wf = _workflow([(f"n{i}", f"v{i}") for i in range(size)],
                   [(s, t, w) if w else (s, t) for s, t, w in edges])
    g = node_graph(wf.nodes, wf.edges)
    concurrency = Concurrency(g)
    for a in g.nodes:
        for b in g.nodes:
            assert concurrency.may_overlap(a, b) == _oracle_overlap(g, a, b), (a, b, edges)


def test_a_set_node_reads_its_earlier_assignments_locally() -> None:
    wf = graph.parse({
        "flowc": 1, "name": "chain", "inputs": {"pairs": {"type": "array", "default": [[2, "a"]]}},
        "nodes": [{"id": "pick", "type": "set",
                   "assign": {"best": "pairs | first", "label": "best | last", "n": "n0 + 1"}}],
    })
    assert reads_of(wf.nodes[0]) == {"pairs", "n0"}
    [problem] = graph.validate(wf)
    assert str(problem).startswith("nodes[0].assign.n (node 'pick'): expression names variable "
                                   "'n0'")
