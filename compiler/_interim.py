"""Interim stand-ins for graph-layer functions not yet available (removed once they are)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx
from jinja2 import StrictUndefined, meta
from jinja2.sandbox import SandboxedEnvironment

ENV = SandboxedEnvironment(undefined=StrictUndefined)
_PIECE = re.compile(r"({{.*?}}|{%.*?%}|{#.*?#})", re.DOTALL)


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    node_id: str | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f" (node '{self.node_id}')" if self.node_id else ""
        return f"{self.path}{where}: {self.message}"


@dataclass
class GraphError(ValueError):
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


def template_variables(text: str) -> set[str]:
    return set(meta.find_undeclared_variables(ENV.parse(text)))


def expression_variables(expr: str) -> set[str]:
    return template_variables("{{ " + expr + " }}")


def render(text: str, values: Mapping[str, Any]) -> str:
    return ENV.from_string(text).render(**values)


def split_template(text: str) -> list[tuple[Literal["static", "dynamic"], str]]:
    pieces: list[tuple[Literal["static", "dynamic"], str]] = []
    for i, part in enumerate(_PIECE.split(text)):
        if part:
            pieces.append(("dynamic" if i % 2 else "static", part))
    return pieces


def validate(workflow: Any) -> list[Problem]:
    return []


def node_graph(nodes: list[Any], edges: list[Any]) -> nx.DiGraph:
    g = nx.DiGraph()
    for node in nodes:
        g.add_node(node.id)
    for edge in edges:
        g.add_edge(edge.from_, edge.to, when=edge.when, is_else=edge.is_else, back_edge=False)
    for u, v in back_edges(g):
        g.edges[u, v]["back_edge"] = True
    return g


def back_edges(g: nx.DiGraph) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    order = list(g.nodes)
    starts = [n for n in order if g.in_degree(n) == 0] + order
    state: dict[str, int] = {}
    for start in starts:
        if start in state:
            continue
        stack = [(start, iter(g.successors(start)))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                found.add((node, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(g.successors(child))))
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def reads_of(node: Any) -> set[str]:
    kind = node.type
    if kind in ("llm", "select"):
        return {v for m in node.chat() for v in template_variables(m.content)}
    if kind == "tool":
        return {v for s in _strings(node.args) for v in template_variables(s)}
    if kind == "set":
        return {v for e in node.assign.values() for v in expression_variables(e)}
    if kind == "map":
        inner: set[str] = set()
        local = {node.as_, "loop"}
        for child in node.body.nodes:
            inner |= reads_of(child)
            local |= writes_of(child)
        inner |= template_variables(node.body.result)
        return expression_variables(node.over) | (inner - local)
    return set()


def writes_of(node: Any) -> set[str]:
    if node.type == "set":
        return set(node.assign)
    return {node.output}


def load(source: Any) -> Any:
    import json
    from pathlib import Path

    from pydantic import ValidationError

    from graph.model import Workflow

    if isinstance(source, Path):
        source = source.read_text()
    try:
        data = json.loads(source) if isinstance(source, str | bytes) else source
        return Workflow.model_validate(data)
    except json.JSONDecodeError as exc:
        raise GraphError([Problem("$", f"invalid JSON: {exc}")]) from exc
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(p) for p in e["loc"]) or "$", e["msg"]) for e in exc.errors()
        ]
        raise GraphError(problems) from exc
