"""Checks of a scope's edge list: dangling ends, the end of the run, duplicates, `else`."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from graph.errors import Problem
from graph.topology import END_TARGETS


def check_edges(nodes: Sequence[Any], edges: Sequence[Any], prefix: str) -> list[Problem]:
    ids = [n.id for n in nodes]
    known = set(ids)
    problems: list[Problem] = []
    first_pair: dict[tuple[str, str], int] = {}
    first_else: dict[str, int] = {}
    has_when: set[str] = set()
    for index, edge in enumerate(edges):
        path = f"{prefix}edges[{index}]"
        source = edge.from_ if edge.from_ in known else None
        if edge.from_ not in known:
            problems.append(Problem(f"{path}.from", _unknown_source(edge.from_, ids)))
        if edge.to not in known and edge.to not in END_TARGETS:
            problems.append(Problem(f"{path}.to", _unknown_node(edge.to, ids, True), source))
        pair = (edge.from_, edge.to)
        if pair in first_pair:
            problems.append(
                Problem(
                    path,
                    f"duplicate edge from '{edge.from_}' to '{edge.to}' (also "
                    f"{prefix}edges[{first_pair[pair]}]): keep one edge and join the conditions "
                    "with 'or'",
                    source,
                )
            )
        first_pair.setdefault(pair, index)
        if edge.is_else:
            if edge.from_ in first_else:
                problems.append(
                    Problem(
                        f"{path}.when",
                        f"node '{edge.from_}' has more than one 'else' edge (also "
                        f"{prefix}edges[{first_else[edge.from_]}]): keep one",
                        source,
                    )
                )
            first_else.setdefault(edge.from_, index)
        elif edge.when is not None:
            has_when.add(edge.from_)
    for node_id, index in first_else.items():
        if node_id not in has_when and node_id in known:
            problems.append(
                Problem(
                    f"{prefix}edges[{index}].when",
                    "'else' edge with no sibling 'when' edge always fires: remove the condition",
                    node_id,
                    "warning",
                )
            )
    return problems


def _unknown_source(name: str, ids: list[str]) -> str:
    if name in END_TARGETS:
        return f"'{name}' is the end of the run and cannot start an edge: use a node id"
    return _unknown_node(name, ids)


def _unknown_node(name: str, ids: list[str], target: bool = False) -> str:
    close = difflib.get_close_matches(name, ids, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "use the id of a node in this graph"
    end = " (or 'done' to end the run)" if target and not close else ""
    return f"unknown node '{name}': {hint}{end}"
