"""Property tests over random, often broken, workflows: loading never fails with anything
but GraphError, and every problem's path points into the document at the node it names."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graph
from graph import GraphError

IDS = ["a", "b", "c", "d", "done"]
TEMPLATES = ["{{ x }}", "Hello {{ y }}", "{{ a_out }} {{ b_out }}", "{% for i in x %}{{ i }}",
             "{{ x.__class__ }}", "{{ x | nope }}", "plain text", "{{ c_out }"]
EXPRESSIONS = ["x > 1", "a_out == 'yes'", "else", "x =", "y.__dict__", "d_out"]
_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_ ]*)|\[(\d+)\]|\['([^']*)'\]")


@st.composite
def nodes(draw: Any, depth: int = 0) -> dict[str, Any]:
    node_id = draw(st.sampled_from(IDS[:4] + ["bad id"]))
    kind = draw(st.sampled_from(["llm", "select", "tool", "set", "map", "mystery"]))
    node: dict[str, Any] = {"id": node_id, "type": kind}
    if kind in ("llm", "select"):
        node["prompt"] = draw(st.sampled_from(TEMPLATES))
        node["output"] = f"{node_id}_out".replace(" ", "_")
        if kind == "select":
            node["choices"] = ["yes", "no"]
    elif kind == "tool":
        node.update(tool="calculator", output=f"{node_id}_out".replace(" ", "_"),
                    args={"expression": draw(st.sampled_from(TEMPLATES))})
    elif kind == "set":
        node["assign"] = {"z": draw(st.sampled_from(EXPRESSIONS))}
    elif kind == "map" and depth < 2:
        node.update(over="x", output="m_out",
                    body={"nodes": draw(st.lists(nodes(depth + 1), min_size=1, max_size=3)),
                          "result": draw(st.sampled_from(TEMPLATES))})
    if draw(st.integers(0, 5)) == 0:
        node["temprature"] = 1
    return node


@st.composite
def workflows(draw: Any) -> dict[str, Any]:
    edges = draw(st.lists(st.fixed_dictionaries(
        {"from": st.sampled_from(IDS), "to": st.sampled_from(IDS)},
        optional={"when": st.sampled_from(EXPRESSIONS)}), max_size=6))
    return {"flowc": 1, "name": "random",
            "inputs": {"x": {"type": "array", "default": [1, 2]}},
            "nodes": draw(st.lists(nodes(), min_size=1, max_size=5)),
            "edges": edges,
            "outputs": {"result": draw(st.sampled_from(TEMPLATES))}}


def _walk(document: Any, path: str) -> tuple[bool, str | None]:
    """Whether the path's parent exists in the document, and the innermost node id on it."""
    current, node_id, steps = document, None, [m for m in _STEP.finditer(path)]
    for position, step in enumerate(steps):
        key: Any = step.group(1) or step.group(3)
        if step.group(2) is not None:
            key = int(step.group(2))
        last = position == len(steps) - 1
        try:
            current = current[key]
        except (KeyError, IndexError, TypeError):
            return last, node_id
        if isinstance(key, int) and position and steps[position - 1].group(1) == "nodes":
            node_id = current.get("id") if isinstance(current, dict) else None
    return True, node_id


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=workflows())
def test_every_problem_points_into_the_document(data: dict[str, Any]) -> None:
    try:
        _, problems = graph.load_with_warnings(data)
    except GraphError as exc:
        problems = exc.problems
    for problem in problems:
        assert problem.message and problem.path
        if problem.path in ("$", "nodes", "edges"):
            continue
        exists, node_id = _walk(data, problem.path)
        assert exists, str(problem)
        if problem.node_id is not None and not problem.path.startswith("edges"):
            assert problem.node_id == node_id, str(problem)
