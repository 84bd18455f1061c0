"""Graph views the compiler reuses: back edges, reads and writes, and which nodes may run in
parallel (a router's `else` branch never overlaps its `when` branches)."""

from __future__ import annotations

from graph_cases import base

import graph
from graph.validate import back_edges, may_run_in_parallel, node_graph, reads_of, writes_of


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
