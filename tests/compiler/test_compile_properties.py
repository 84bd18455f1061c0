"""Property tests over random workflows: the schedule respects every dependency, stages are
antichains, each prefix group is a common prefix of its consumers' static token ids, and
compiling twice gives the same plan, and the JSON routes hold every edge."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_checks import check_plan

import compiler
from compiler.plan import Plan
from graph.model import Workflow

SYSTEMS = [
    "You are a meticulous analyst. Answer briefly and cite the evidence you used.",
    "You are a helpful assistant that writes clear, short answers.",
]
SENTENCES = [
    "Read the document carefully and list every named entity it mentions, one per line.",
    "Classify the text.",
    "Explain your reasoning step by step before giving the final answer in one sentence.",
    "Reply in JSON.",
    "Summarize.",
    "{% if doc %}Quote the document where it helps.{% endif %}",
    "{%- for word in doc.split() %}{{ word }} {% endfor -%} Count the words.",
    "Use {{ doc | upper }} as the heading.",
]
NODE_TYPES = ["llm", "llm", "llm", "select", "tool", "set", "map"]


@st.composite
def workflows(draw) -> dict:
    count = draw(st.integers(2, 9))
    parents: list[list[int]] = [[]]
    for index in range(1, count):
        parents.append(sorted(draw(st.sets(st.integers(0, index - 1), max_size=2))))
    ancestors: list[set[int]] = []
    for index in range(count):
        ancestors.append(set(parents[index]).union(*(ancestors[p] for p in parents[index])))
    nodes = [_node(draw, i, sorted(ancestors[i])) for i in range(count)]
    edges = [
        {"from": f"n{p}", "to": f"n{i}",
         **({"when": f"o{p} != 'stop'"} if draw(st.booleans()) else {})}
        for i in range(count) for p in parents[i]
    ]
    targets = [i for i in range(1, count) if parents[i]]
    if targets and draw(st.booleans()):
        target = draw(st.sampled_from(targets))
        source = draw(st.sampled_from(range(target, count)))
        edges.append({"from": f"n{source}", "to": f"n{target}", "when": f"o{source} == 'again'"})
    for source in draw(st.sets(st.integers(0, count - 1), max_size=2)):
        edges.append({"from": f"n{source}", "to": "done",
                      "when": draw(st.sampled_from([f"o{source} == 'stop'", "else"]))})
    return {
        "flowc": 1,
        "name": "random",
        "inputs": {"doc": {"type": "string", "default": "Alice met Bob in Paris."},
                   "items": {"type": "array", "default": ["a", "bb", "ccc"]}},
        "nodes": nodes,
        "edges": edges,
    }


def _node(draw, index: int, ancestors: list[int]) -> dict:
    kind = draw(st.sampled_from(NODE_TYPES))
    node_id, output = f"n{index}", f"o{index}"
    variables = ["doc", *(f"o{a}" for a in ancestors)]
    if kind == "tool":
        return {"id": node_id, "type": "tool", "tool": "echo", "output": output,
                "args": {"text": "{{ " + draw(st.sampled_from(variables)) + " }}"}}
    if kind == "set":
        return {"id": node_id, "type": "set", "assign": {output: "'value'"}}
    if kind == "map":
        body = {"id": "inner", "type": "llm", "output": f"r{index}", "max_tokens": 8,
                "prompt": _content(draw, ["item", *variables])}
        return {"id": node_id, "type": "map", "over": "items", "as": "item", "output": output,
                "body": {"nodes": [body], "result": "{{ r" + str(index) + " }}"}}
    messages = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(st.sampled_from(SYSTEMS))})
    messages.append({"role": "user", "content": _content(draw, variables)})
    node = {"id": node_id, "type": kind, "output": output, "messages": messages}
    if draw(st.integers(0, 2)) == 0:
        node["thread"] = "t"
    if kind == "select":
        node["choices"] = ["yes", "no"]
    else:
        node["max_tokens"] = draw(st.integers(1, 64))
    return node


def _content(draw, variables: list[str]) -> str:
    parts = draw(st.lists(
        st.one_of(st.sampled_from(SENTENCES),
                  st.sampled_from(variables).map(lambda v: "{{ " + v + " }}")),
        min_size=1, max_size=4,
    ))
    return "\n".join(parts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=workflows())
def test_random_workflows_compile_to_consistent_plans(data, tokenizer):
    workflow = Workflow.model_validate(data)
    plan = compiler.compile(workflow, tokenizer)
    check_plan(plan)
    again = compiler.compile(Workflow.model_validate(json.loads(json.dumps(data))), tokenizer)
    assert again.to_json() == plan.to_json()
    assert Plan.from_dict(json.loads(plan.to_json())) == plan


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=workflows())
def test_json_routes_contain_every_edge(data, tokenizer):
    plan = compiler.compile(Workflow.model_validate(data), tokenizer)
    routes = json.loads(plan.to_json())["routes"]
    found = sorted((r["source"], r["target"], "else" if r["is_else"] else r["when"], r["ends"])
                   for r in routes)
    edges = sorted((e["from"], e["to"], e.get("when"), e["to"] == "done") for e in data["edges"])
    assert found == edges
