"""Pydantic validation errors as Problems: JSON paths, node ids and what to do."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from graph.errors import Problem
from graph.model import NODE_TYPES, Body, Edge, Workflow

_IDENTIFIER_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPES = ", ".join(NODE_TYPES)


def problems_from_validation(exc: ValidationError, data: Any) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors():
        loc = _strip_tags(error["loc"])
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "type")
        problem = Problem(_path(loc), _message(error, loc, data), _node_id(data, loc))
        if problem not in problems:
            problems.append(problem)
    return problems


def _strip_tags(loc: Sequence[Any]) -> tuple[Any, ...]:
    """Drop the discriminator tags pydantic puts after a node's list index."""
    kept: list[Any] = []
    for index, part in enumerate(loc):
        after_node = index >= 2 and loc[index - 2] == "nodes" and isinstance(loc[index - 1], int)
        if after_node and part in NODE_TYPES:
            continue
        kept.append(part)
    return tuple(kept)


def _path(loc: Sequence[Any]) -> str:
    path = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER_FIELD.match(str(part)):
            path += f".{part}" if path else str(part)
        else:
            path += f"[{str(part)!r}]"
    return path or "$"


def _node_id(data: Any, loc: Sequence[Any]) -> str | None:
    """The id of the innermost node on the path, read from the raw JSON."""
    found: str | None = None
    current = data
    for index, part in enumerate(loc):
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            break
        if index >= 1 and loc[index - 1] == "nodes" and isinstance(part, int):
            node_id = current.get("id") if isinstance(current, dict) else None
            found = node_id if isinstance(node_id, str) else None
    return found


def _value_at(data: Any, loc: Sequence[Any]) -> Any:
    current = data
    for part in loc:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return None
    return current


def _message(error: dict[str, Any], loc: Sequence[Any], data: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "union_tag_invalid":
        return f"unknown node type {error['ctx']['tag']!r}: use one of {_TYPES}"
    if kind == "union_tag_not_found":
        return f"missing field 'type': use one of {_TYPES}"
    if kind == "extra_forbidden":
        return _unknown_field(str(loc[-1]), _model_at(loc[:-1], data))
    if kind == "missing":
        if tuple(loc) == ("flowc",):
            return "missing field 'flowc': add \"flowc\": 1 at the top"
        return f"missing required field '{loc[-1]}'"
    if kind == "literal_error" and tuple(loc) == ("flowc",):
        return f"unsupported format version {value!r}: this flowc reads format 1"
    if kind == "string_pattern_mismatch" and error["ctx"]["pattern"].startswith("^[A-Za-z_]"):
        return (
            f"{value!r} is not a valid name: use letters, digits and '_', not starting with a digit"
        )
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    if kind in ("model_type", "dict_type") and not isinstance(value, dict):
        return f"expected a JSON object, got {shown}"
    return f"{error['msg']} (got {shown})"


def _model_at(loc: Sequence[Any], data: Any) -> type[BaseModel] | None:
    """The model class that validates the object at `loc` (for listing its fields)."""
    if not loc:
        return Workflow
    if loc[-1] == "body":
        return Body
    if len(loc) >= 2 and loc[-2] == "edges":
        return Edge
    if len(loc) >= 2 and loc[-2] == "nodes" and isinstance(loc[-1], int):
        raw = _value_at(data, loc)
        kind = raw.get("type") if isinstance(raw, dict) else None
        return _NODE_MODELS.get(kind) if isinstance(kind, str) else None
    return None


def _unknown_field(name: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return f"unknown field '{name}': remove it"
    fields = sorted(f.alias or n for n, f in model.model_fields.items())
    close = difflib.get_close_matches(name, fields, n=1)
    if close:
        return f"unknown field '{name}': did you mean '{close[0]}'?"
    return f"unknown field '{name}': remove it (known fields: {', '.join(fields)})"


def _node_models() -> dict[str, type[BaseModel]]:
    from graph.model import LlmNode, MapNode, SelectNode, SetNode, ToolNode

    return {"llm": LlmNode, "select": SelectNode, "tool": ToolNode, "set": SetNode, "map": MapNode}


_NODE_MODELS = _node_models()
