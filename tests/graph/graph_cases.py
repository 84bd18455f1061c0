"""Workflows for the graph tests: a small valid base and helpers to break it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

BASE: dict[str, Any] = {
    "flowc": 1,
    "name": "base",
    "inputs": {"text": {"type": "string", "default": "The invoice total is wrong."}},
    "nodes": [
        {"id": "classify", "type": "llm", "prompt": "Classify: {{ text }}",
         "choices": ["billing", "other"], "output": "label"},
        {"id": "summarize", "type": "llm", "prompt": "Summarize: {{ text }}",
         "output": "summary"},
        {"id": "report", "type": "llm", "prompt": "{{ label }}: {{ summary }}",
         "output": "report"},
    ],
    "edges": [{"from": "classify", "to": "report"}, {"from": "summarize", "to": "report"}],
    "outputs": {"report": "{{ report }}"},
}

MAP_NODE: dict[str, Any] = {
    "id": "each", "type": "map", "over": "items", "as": "item", "output": "results",
    "body": {
        "nodes": [{"id": "inner", "type": "llm", "prompt": "{{ text }} / {{ item }}",
                   "output": "answer"}],
        "result": "{{ answer }}",
    },
}


def base(change: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    """A deep copy of BASE, changed in place by `change`."""
    data = copy.deepcopy(BASE)
    if change is not None:
        change(data)
    return data


def with_map(change: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    """BASE plus an `items` input and the map node `each` at nodes[3]."""
    def add(data: dict[str, Any]) -> None:
        data["inputs"]["items"] = {"type": "array", "default": ["a", "b"]}
        data["nodes"].append(copy.deepcopy(MAP_NODE))
        if change is not None:
            change(data)
    return base(add)


def node(data: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in data["nodes"] if n["id"] == node_id)


def nested_maps(depth: int) -> dict[str, Any]:
    """A workflow whose map nodes are nested `depth` deep."""
    inner: dict[str, Any] = {"id": "leaf", "type": "set", "assign": {"x": "1"}}
    for level in range(depth, 0, -1):
        inner = {"id": f"m{level}", "type": "map", "over": "[1, 2]", "as": f"i{level}",
                 "output": f"out{level}", "body": {"nodes": [inner], "result": "done"}}
    return {"flowc": 1, "name": "deep", "nodes": [inner]}


def many_nodes(count: int) -> dict[str, Any]:
    return {"flowc": 1, "name": "big",
            "nodes": [{"id": f"n{i}", "type": "set", "assign": {f"v{i}": "1"}}
                      for i in range(count)]}
