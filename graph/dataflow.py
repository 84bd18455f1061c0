"""What each node reads and writes: its templates and expressions, located by JSON path."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from graph.templates import expression_variables, template_variables

MAP_LOCALS = frozenset({"loop"})


@dataclass(frozen=True)
class Source:
    """One template or expression of a node; `path` is relative to the node."""

    path: str
    kind: Literal["template", "expression"]
    text: str
    local: frozenset[str] = frozenset()  # defined earlier in the same node

    def variables(self) -> set[str]:
        """The variables it reads from outside its node."""
        if self.kind == "template":
            return template_variables(self.text) - self.local
        return expression_variables(self.text) - self.local


def node_sources(node: Any) -> list[Source]:
    """The node's own templates and expressions (a map's body is a scope of its own)."""
    kind = node.type
    if kind in ("llm", "select"):
        if node.messages is None:
            return [Source("prompt", "template", node.prompt or "")]
        return [
            Source(f"messages[{i}].content", "template", m.content)
            for i, m in enumerate(node.messages)
        ]
    if kind == "tool":
        return [Source(path, "template", text) for path, text in _strings(node.args, "args")]
    if kind == "set":  # each assignment sees the ones before it
        names = list(node.assign)
        return [
            Source(f"assign.{name}", "expression", expr, frozenset(names[:index]))
            for index, (name, expr) in enumerate(node.assign.items())
        ]
    if kind == "map":
        return [Source("over", "expression", node.over)]
    return []


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def writes_of(node: Any) -> set[str]:
    """The variables a node writes: a set node's assignments, otherwise its `output`."""
    if node.type == "set":
        return set(node.assign)
    return {node.output}


def reads_of(node: Any) -> set[str]:
    """The variables a node reads from its scope; for a map, what its `over` and its body
    read from outside the body (the item variable, `loop` and body outputs are local)."""
    reads: set[str] = set()
    for source in node_sources(node):
        reads |= source.variables()
    if node.type == "map":
        reads |= body_reads(node) - body_locals(node)
    return reads


def body_reads(node: Any) -> set[str]:
    reads = template_variables(node.body.result)
    for child in node.body.nodes:
        reads |= reads_of(child)
    return reads


def body_locals(node: Any) -> set[str]:
    """Variables defined inside a map body: the item, `loop` and what body nodes write."""
    local = {node.as_, *MAP_LOCALS}
    for child in node.body.nodes:
        local |= writes_of(child)
    return local
