"""Bad input, one kind per row: the exact message, JSON path and node id of each problem."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from graph_cases import base, many_nodes, nested_maps, node, with_map

import graph
from graph import GraphError, Problem


@dataclass(frozen=True)
class Case:
    name: str
    source: Any
    expected: str
    count: int = 1  # how many problems of that severity the input has in all
    severity: str = "error"


def problems_of(source: Any) -> list[Problem]:
    try:
        workflow = graph.parse(source)
    except GraphError as exc:
        return exc.problems
    return graph.validate(workflow)


def set_in(path: list[Any], value: Any):
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            if isinstance(target, list) and isinstance(key, str):
                target = next(n for n in target if n["id"] == key)
            else:
                target = target[key]
        target[path[-1]] = value
    return change


def edges(*pairs: tuple[str, str] | tuple[str, str, str]):
    def change(data: dict[str, Any]) -> None:
        data["edges"] = [
            {"from": p[0], "to": p[1], **({"when": p[2]} if len(p) > 2 else {})} for p in pairs
        ]
    return change


def both(*changes):
    def change(data: dict[str, Any]) -> None:
        for each in changes:
            each(data)
    return change


TYPES = "llm, select, tool, set, map"
CASES = [
    Case("json syntax", '{"flowc": 1,}',
         "$: invalid JSON at line 1, column 13: Expecting property name enclosed in double "
         "quotes: fix the JSON syntax"),
    Case("not utf-8", b'{"name": "\xff"}', "$: the file is not UTF-8 text: invalid start byte"),
    Case("not an object", "[1, 2]", "$: a workflow must be a JSON object, got an array"),
    Case("missing version", base(lambda d: d.pop("flowc")),
         "flowc: missing field 'flowc': add \"flowc\": 1 at the top"),
    Case("unsupported version", base(set_in(["flowc"], 2)),
         "flowc: unsupported format version 2: this flowc reads format 1"),
    Case("bad workflow name", base(set_in(["name"], "my flow")),
         "name: 'my flow' is not a valid name: use letters, digits and '_', not starting with "
         "a digit"),
    Case("bad input name", base(set_in(["inputs", "bad key"], {"type": "string"})),
         "inputs['bad key']: 'bad key' is not a valid name: use letters, digits and '_', not "
         "starting with a digit"),
    Case("unknown input type", base(set_in(["inputs", "text", "type"], "str")),
         "inputs.text.type: Input should be 'string', 'integer', 'number', 'boolean', 'array' "
         "or 'object' (got 'str')"),
    Case("unknown node type", base(set_in(["nodes", "summarize", "type"], "llmm")),
         f"nodes[1].type (node 'summarize'): unknown node type 'llmm': use one of {TYPES}"),
    Case("missing node type", base(lambda d: node(d, "summarize").pop("type")),
         f"nodes[1].type (node 'summarize'): missing field 'type': use one of {TYPES}"),
    Case("misspelt field", base(set_in(["nodes", "classify", "tmperature"], 0.5)),
         "nodes[0].tmperature (node 'classify'): unknown field 'tmperature': did you mean "
         "'temperature'?"),
    Case("missing output", base(lambda d: node(d, "report").pop("output")),
         "nodes[2].output (node 'report'): missing required field 'output'"),
    Case("wrong field type", base(set_in(["nodes", "classify", "max_tokens"], "lots")),
         "nodes[0].max_tokens (node 'classify'): Input should be a valid integer (got 'lots')"),
    Case("a boolean for a number", base(set_in(["nodes", "classify", "max_tokens"], True)),
         "nodes[0].max_tokens (node 'classify'): Input should be a valid integer (got True)"),
    Case("a seed beyond 64 bits", base(set_in(["nodes", "classify", "seed"], 2**70)),
         "nodes[0].seed (node 'classify'): Input should be less than 9223372036854775808 "
         "(got 1180591620717411303424)"),
    Case("an infinite coordinate", base(set_in(["layout"], {"classify": {"x": 1e400, "y": 0}})),
         "layout.classify.x: Input should be a finite number (got inf)"),
    Case("prompt and messages", base(set_in(["nodes", "summarize", "messages"],
                                            [{"role": "user", "content": "hi"}])),
         "nodes[1] (node 'summarize'): give exactly one of 'prompt' or 'messages'"),
    Case("two constraints", base(set_in(["nodes", "classify", "regex"], "[a-z]+")),
         "nodes[0] (node 'classify'): at most one constraint may be given, found regex, "
         "choices"),
    Case("invalid node id", base(set_in(["nodes", "report", "id"], "final report")),
         "nodes[2].id (node 'final report'): 'final report' is not a valid name: use letters, "
         "digits and '_', not starting with a digit"),
    Case("edge field misspelt", base(lambda d: d["edges"][0].update({"too": "x"})),
         "edges[0].too: unknown field 'too': did you mean 'to'?"),
    Case("map body field", with_map(lambda d: d["nodes"][3]["body"]["nodes"][0].pop("output")),
         "nodes[3].body.nodes[0].output (node 'inner'): missing required field 'output'"),
    Case("duplicate node id", base(set_in(["nodes", "summarize", "id"], "classify")),
         "nodes[1].id (node 'classify'): duplicate node id 'classify' (first used by "
         "nodes[0]): give every node a unique id", count=3),
    Case("edge to unknown node", base(edges(("classify", "reprt"), ("summarize", "report"))),
         "edges[0].to (node 'classify'): unknown node 'reprt': did you mean 'report'?", count=2),
    Case("edge from unknown node", base(edges(("nobody", "report"), ("summarize", "report"),
                                              ("classify", "report"))),
         "edges[0].from: unknown node 'nobody': use the id of a node in this graph"),
    Case("edge from the end", base(edges(("done", "report"), ("summarize", "report"),
                                         ("classify", "report"))),
         "edges[0].from: 'done' is the end of the run and cannot start an edge: use a node id"),
    Case("duplicate edge", base(edges(("classify", "report"), ("summarize", "report"),
                                      ("classify", "report", "label == 'other'"))),
         "edges[2] (node 'classify'): duplicate edge from 'classify' to 'report' (also "
         "edges[0]): keep one edge and join the conditions with 'or'"),
    Case("two else edges", base(edges(("classify", "summarize", "label == 'billing'"),
                                      ("classify", "report", "else"),
                                      ("classify", "done", "else"),
                                      ("summarize", "report"))),
         "edges[2].when (node 'classify'): node 'classify' has more than one 'else' edge "
         "(also edges[1]): keep one"),
    Case("cycle without when", base(edges(("classify", "report"), ("summarize", "report"),
                                          ("report", "summarize"))),
         "edges[2] (node 'report'): cycle summarize -> report -> summarize has no 'when' edge "
         "and would never end: make one of its edges conditional"),
    Case("no start node", base(edges(("classify", "summarize"), ("summarize", "report"),
                                     ("report", "classify", "label == 'other'"))),
         "nodes: no start node: every node has an in-edge, so nothing can start the run; "
         "remove an edge into the first node"),
    Case("parallel writers", base(set_in(["nodes", "summarize", "output"], "label")),
         "nodes[1].output (node 'summarize'): variable 'label' is also written by node "
         "'classify' and the two may run in parallel: give 'label' a reducer in \"state\" "
         "(append, extend, merge or replace), or order the two nodes with an edge", count=2),
    Case("template syntax", base(set_in(["nodes", "summarize", "prompt"],
                                        "Summarize:\n{{ text }\n")),
         "nodes[1].prompt (node 'summarize'): template syntax error on line 2: unexpected '}': "
         "fix the jinja2 syntax"),
    Case("unknown filter", base(set_in(["nodes", "summarize", "prompt"], "{{ text | shout }}")),
         "nodes[1].prompt (node 'summarize'): template syntax error on line 1: No filter "
         "named 'shout': fix the jinja2 syntax"),
    Case("misspelt variable", base(set_in(["nodes", "report", "prompt"], "{{ sumary }}")),
         "nodes[2].prompt (node 'report'): template names variable 'sumary' that no input, "
         "state entry or upstream node provides: did you mean 'summary'?"),
    Case("variable from a later node", base(set_in(["nodes", "classify", "prompt"],
                                                   "{{ text }} {{ report }}")),
         "nodes[0].prompt (node 'classify'): template names variable 'report' that no input, "
         "state entry or upstream node provides: node 'report' writes it but does not run "
         "before this node; add an edge path from 'report' to this node"),
    Case("variable nobody writes", base(set_in(["nodes", "summarize", "prompt"],
                                               "{{ zzz }}")),
         "nodes[1].prompt (node 'summarize'): template names variable 'zzz' that no input, "
         "state entry or upstream node provides: declare it in \"inputs\" or \"state\", or "
         "write it in an earlier node"),
    Case("unsafe attribute", base(set_in(["nodes", "classify", "prompt"],
                                         "{{ text.__class__.__mro__ }}")),
         "nodes[0].prompt (node 'classify'): unsafe template construct on line 1: attribute "
         "'__mro__' is not allowed (names starting with '_' are private): remove it", count=2),
    Case("unsafe item", base(set_in(["nodes", "classify", "prompt"],
                                    "{{ text['__class__'] }}")),
         "nodes[0].prompt (node 'classify'): unsafe template construct on line 1: item "
         "'__class__' is not allowed (names starting with '_' are private): remove it"),
    Case("include tag", base(set_in(["nodes", "classify", "prompt"],
                                    "{% include 'secrets.txt' %}")),
         "nodes[0].prompt (node 'classify'): unsafe template construct on line 1: 'include' "
         "is not allowed: a workflow template cannot load other templates: remove it"),
    Case("when syntax", base(edges(("classify", "report", "label = 'x'"),
                                   ("summarize", "report"))),
         "edges[0].when (node 'classify'): expression syntax error: unexpected '=' after the "
         "expression: fix the expression"),
    Case("when unknown variable", base(edges(("classify", "report", "lable == 'x'"),
                                             ("summarize", "report"))),
         "edges[0].when (node 'classify'): expression names variable 'lable' that no input, "
         "state entry or upstream node provides: did you mean 'label'?"),
    Case("unsafe assignment", base(lambda d: d["nodes"].append(
        {"id": "hack", "type": "set", "assign": {"x": "text.__init__.__globals__"}})),
         "nodes[3].assign.x (node 'hack'): unsafe expression construct: attribute "
         "'__globals__' is not allowed (names starting with '_' are private): remove it",
         count=2),
    Case("empty expression", base(lambda d: d["nodes"].append(
        {"id": "blank", "type": "set", "assign": {"x": "  "}})),
         "nodes[3].assign.x (node 'blank'): expression syntax error: empty expression: fix the "
         "expression"),
    Case("bad assignment name", base(lambda d: d["nodes"].append(
        {"id": "named", "type": "set", "assign": {"two words": "1"}})),
         "nodes[3].assign.two words (node 'named'): 'two words' is not a valid variable name: "
         "use letters, digits and '_', not starting with a digit"),
    Case("map body variable", with_map(lambda d: d["nodes"][3]["body"]["nodes"][0].update(
        prompt="{{ itm }}")),
         "nodes[3].body.nodes[0].prompt (node 'inner'): template names variable 'itm' that no "
         "input, state entry or upstream node provides: did you mean 'item'?"),
    Case("map result variable", with_map(lambda d: d["nodes"][3]["body"].update(
        result="{{ answr }}")),
         "nodes[3].body.result (node 'each'): template names variable 'answr' that no input, "
         "state entry or body node provides: did you mean 'answer'?"),
    Case("map over syntax", with_map(set_in(["nodes", 3, "over"], "items |")),
         "nodes[3].over (node 'each'): expression syntax error: unexpected end of template, "
         "expected 'name': fix the expression"),
    Case("maps nested too deep", nested_maps(9),
         "nodes[0]" + ".body.nodes[0]" * 8 + ".body (node 'm9'): maps are nested more than 8 "
         "deep: flatten the nesting"),
    Case("too many nodes", many_nodes(20_001),
         "nodes: the workflow has 20,001 nodes (map bodies included); the limit is 20,000: "
         "split it into smaller workflows"),
    Case("template too long", base(lambda d: d["nodes"].append(
        {"id": "t", "type": "tool", "tool": "echo", "output": "o",
         "args": {"text": "x" * 200_001}})),
         "nodes[3].args.text (node 't'): template is 200,001 characters long; the limit is "
         "200,000: shorten it"),
    Case("prompt too long", base(set_in(["nodes", "summarize", "prompt"], "y" * 200_001)),
         "nodes[1].prompt (node 'summarize'): String should have at most 200000 characters "
         f"(got '{'y' * 56}...)"),
    Case("input default type", base(set_in(["inputs", "text", "default"], 42)),
         "inputs.text.default: default 42 is not of type string: give a default of type "
         "string or change the type"),
    Case("reducer default", base(set_in(["state"], {"notes": {"reducer": "append",
                                                              "default": {}}})),
         "state.notes.default: reducer 'append' needs a list default, got dict: use [] or "
         "leave the default out"),
    Case("invalid regex", base(lambda d: node(d, "summarize").update(regex="([a-z]+")),
         "nodes[1].regex (node 'summarize'): invalid regular expression '([a-z]+': "
         "missing ): ([a-z]+: fix the pattern"),
    Case("invalid json schema", base(lambda d: node(d, "summarize").update(
        json_schema={"type": "objekt"})),
         "nodes[1].json_schema (node 'summarize'): not a valid JSON Schema: 'objekt' is not "
         "valid under any of the given schemas (at type)"),
    Case("duplicate choice", base(set_in(["nodes", "classify", "choices"],
                                         ["billing", "other", "billing"])),
         "nodes[0].choices[2] (node 'classify'): duplicate choice 'billing': list each choice "
         "once"),
    Case("output names unknown variable", base(set_in(["outputs", "report"], "{{ reprt }}")),
         "outputs.report: template names variable 'reprt' that no input, state entry or node "
         "provides: did you mean 'report'?"),
    Case("unreachable node", base(lambda d: d["edges"].append(
        {"from": "report", "to": "report", "when": "label == 'x'"}) or d["nodes"].append(
        {"id": "orphan", "type": "set", "assign": {"y": "1"}}) or d["edges"].append(
        {"from": "orphan", "to": "orphan", "when": "y < 3"})),
         "nodes[3] (node 'orphan'): node 'orphan' is unreachable: no path leads to it from a "
         "start node (a node with no in-edge); add an edge to it or remove it",
         severity="warning"),
    Case("else without when", base(edges(("classify", "report", "else"),
                                         ("summarize", "report"))),
         "edges[0].when (node 'classify'): 'else' edge with no sibling 'when' edge always "
         "fires: remove the condition", severity="warning"),
    Case("invalid escape in a string literal", base(lambda d: d["nodes"].append(
        {"id": "ip", "type": "set", "assign": {"ip": "text | regex_search('\\d+')"}})),
         "nodes[3].assign.ip (node 'ip'): a string literal in the expression contains '\\d', "
         "which is not a valid escape (kept for now, with a deprecation warning): double the "
         "backslash, as in '\\\\d' for the regular expression \\d", severity="warning"),
    Case("layout of unknown node", base(set_in(["layout"], {"ghost": {"x": 1, "y": 2}})),
         "layout.ghost: layout names unknown node 'ghost': remove the entry",
         severity="warning"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_names_path_node_and_fix(case: Case) -> None:
    found = [str(p) for p in problems_of(case.source) if p.severity == case.severity]
    assert case.expected in found
    assert len(found) == case.count, found


def test_at_least_twenty_five_kinds_of_bad_input() -> None:
    assert len({c.name for c in CASES if c.severity == "error"}) >= 25


def test_load_raises_with_every_error_at_once() -> None:
    data = base(set_in(["nodes", "report", "prompt"], "{{ sumary }} {{ labl }}"))
    with pytest.raises(GraphError) as raised:
        graph.load(data)
    assert [p.path for p in raised.value.problems] == ["nodes[2].prompt"] * 2
    assert {p.node_id for p in raised.value.problems} == {"report"}
    assert str(raised.value).splitlines()[0] == "invalid workflow: 2 errors"
    assert "  nodes[2].prompt (node 'report'): template names variable 'labl'" in str(
        raised.value)


def test_maps_nested_eight_deep_are_allowed() -> None:
    assert graph.validate(graph.parse(nested_maps(8))) == []
