"""Loading from a file, a string, bytes and a dict gives the same workflow; warnings come back
separately; the builder writes the same model as the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graph_cases import BASE, base

import graph
from graph import BodyBuilder, GraphError, WorkflowBuilder
from graph.validate import node_graph

SOAR = Path(__file__).parents[2] / "examples" / "graphs" / "soar_triage.json"


def test_file_string_bytes_and_dict_load_the_same_workflow(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_text(json.dumps(BASE), encoding="utf-8")
    loaded = [graph.load(path), graph.load(json.dumps(BASE)),
              graph.load(json.dumps(BASE).encode()), graph.load(base())]
    assert all(w == loaded[0] for w in loaded)
    assert loaded[0].node("report").prompt == "{{ label }}: {{ summary }}"


def test_parse_checks_fields_only_and_load_checks_the_graph() -> None:
    data = base(lambda d: d["nodes"][2].update(prompt="{{ missing }}"))
    assert graph.parse(data).node("report").prompt == "{{ missing }}"
    with pytest.raises(GraphError):
        graph.load(data)


def test_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(GraphError) as raised:
        graph.load(tmp_path / "nope.json")
    assert raised.value.problems[0].path == "$"
    assert "cannot read" in raised.value.problems[0].message


def test_load_with_warnings_returns_warnings_and_no_errors() -> None:
    data = base(lambda d: d.update(layout={"ghost": {"x": 0, "y": 0}}))
    workflow, warnings = graph.load_with_warnings(data)
    assert workflow.name == "base"
    assert [str(w) for w in warnings] == [
        "layout.ghost: layout names unknown node 'ghost': remove the entry"]
    assert warnings[0].severity == "warning"


def test_edge_to_done_ends_the_run_and_is_not_a_graph_edge() -> None:
    data = base(lambda d: d["edges"].append({"from": "report", "to": "done"}))
    workflow = graph.load(data)
    g = node_graph(workflow.nodes, workflow.edges)
    assert "done" not in g and len(g.edges) == 2


def test_a_node_named_done_is_an_ordinary_target() -> None:
    data = base(lambda d: (d["nodes"].append({"id": "done", "type": "set",
                                              "assign": {"finished": "true"}}),
                           d["edges"].append({"from": "report", "to": "done"})))
    workflow = graph.load(data)
    g = node_graph(workflow.nodes, workflow.edges)
    assert g.has_edge("report", "done")


def _builder() -> WorkflowBuilder:
    return (
        WorkflowBuilder("base")
        .add_input("text", default="The invoice total is wrong.")
        .add_node("classify", "llm", prompt="Classify: {{ text }}",
                  choices=["billing", "other"], output="label")
        .add_node("summarize", "llm", prompt="Summarize: {{ text }}", output="summary")
        .add_node("report", "llm", prompt="{{ label }}: {{ summary }}", output="report")
        .add_edge("classify", "report")
        .add_edge("summarize", "report")
        .add_output("report", "{{ report }}")
    )


def test_builder_produces_the_same_model_as_the_json() -> None:
    built = _builder().build()
    assert built == graph.load(BASE)
    assert built.model_dump(by_alias=True, exclude_defaults=True) == graph.load(
        BASE).model_dump(by_alias=True, exclude_defaults=True)
    assert _builder().to_dict() == BASE


def test_builder_map_bodies_loops_and_state() -> None:
    body = (BodyBuilder(result="{{ note }}")
            .add_node("note_it", "llm", prompt="Note {{ loop.index }}: {{ chunk }}",
                      output="note"))
    workflow = (
        WorkflowBuilder("loop", "counts to three")
        .add_input("chunks", type="array", default=["a", "b"])
        .add_state("notes", reducer="extend", default=[])
        .set_defaults(max_tokens=16, temperature=0.0)
        .set_limits(max_node_visits=4)
        .add_node("start", "set", assign={"i": "0"})
        .add_node("per_chunk", "map", over="chunks", as_="chunk", output="notes", body=body)
        .add_node("count", "set", assign={"i": "i + 1"})
        .add_sequence("start", "per_chunk", "count")
        .add_edge("count", "per_chunk", when="i < 3")
        .add_edge("count", "done", when="else")
        .build()
    )
    per_chunk = workflow.node("per_chunk")
    assert per_chunk.as_ == "chunk" and per_chunk.body.nodes[0].id == "note_it"
    assert workflow.defaults.max_tokens == 16 and workflow.limits.max_node_visits == 4
    assert [(e.from_, e.to, e.when) for e in workflow.edges][-1] == ("count", "done", "else")


def test_builder_build_reports_every_problem() -> None:
    builder = WorkflowBuilder("bad").add_node("a", "llm", prompt="{{ x }}", output="a")
    builder.add_edge("a", "b")
    with pytest.raises(GraphError) as raised:
        builder.build()
    assert [p.path for p in raised.value.problems] == ["edges[0].to", "nodes[0].prompt"]


def test_problem_and_error_render_as_documented() -> None:
    problem = graph.Problem("nodes[2]", "message", "classify")
    assert str(problem) == "nodes[2] (node 'classify'): message"
    assert str(graph.Problem("$", "bad")) == "$: bad"
    assert problem.to_dict() == {"path": "nodes[2]", "node_id": "classify",
                                 "message": "message", "severity": "error"}
    assert isinstance(GraphError([problem]), ValueError)


def test_soar_triage_example_is_the_design_workflow() -> None:
    workflow = graph.load(SOAR)
    assert workflow.name == "soar_triage"
    assert {n.type for n in workflow.nodes} >= {"llm", "tool", "set", "map"}


def test_a_byte_order_mark_is_accepted_and_a_path_string_gets_a_hint() -> None:
    assert graph.load(b"\xef\xbb\xbf" + json.dumps(BASE).encode()) == graph.load(BASE)
    with pytest.raises(GraphError) as raised:
        graph.load("examples/graphs/debate.json")
    assert str(raised.value.problems[0]) == (
        "$: invalid JSON at line 1, column 1: Expecting value: to load a file, pass a "
        "pathlib.Path, not a string")


@pytest.mark.parametrize(("literal", "message"), [
    ("9" * 5000, "the number 999999999999999999999999... (5000 characters) is out of range: "
                 "integers are 64-bit"),
    (str(2**63), f"the number {2**63} is out of range: integers are 64-bit"),
    ("1e400", "the number 1e400 is out of range: numbers are finite"),
    ("NaN", "the number NaN is out of range: numbers are finite"),
    ("-Infinity", "the number -Infinity is out of range: numbers are finite"),
])
def test_a_number_json_cannot_hold_is_refused_while_parsing(literal: str, message: str) -> None:
    text = json.dumps(BASE)[:-1] + f', "layout": {{"classify": {{"x": {literal}, "y": 0}}}}}}'
    with pytest.raises(GraphError) as info:
        graph.load(text)
    assert [str(p) for p in info.value.problems] == [f"$: {message}"]
    assert graph.load(text.replace(literal, "-12")).layout["classify"].x == -12
