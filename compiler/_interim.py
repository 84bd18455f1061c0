"""Interim stand-ins for graph-layer functions not yet available (removed once they are)."""

from __future__ import annotations

from typing import Any

import networkx as nx

from graph.errors import GraphError, Problem


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
