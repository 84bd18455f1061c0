"""A workflow's inputs at run time: each value checked against its declared type (text, as
from `--input k=v`, parsed first), missing ones taken from their defaults. Validation reads
the same type table to check declared defaults."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from graph.dataflow import reads_of
from graph.json_numbers import first_out_of_range
from graph.model import InputSpec, InputType, Node

PY_TYPES: dict[InputType, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


class InputError(ValueError):
    """An input is missing, unknown or of the wrong type."""

    def __init__(self, name: str, message: str, node_id: str | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.node_id = node_id


def is_of_type(value: Any, kind: InputType) -> bool:
    """Whether `value` is a JSON value of the declared type (booleans are not numbers)."""
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, PY_TYPES[kind])


def type_name(value: Any) -> str:
    """The JSON type name of a Python value."""
    return {str: "string", bool: "boolean", int: "integer", float: "number", list: "array",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


def coerce_input(name: str, kind: InputType, value: Any) -> Any:
    """`value` as the declared input type; text is parsed for non-string types."""
    if isinstance(value, str) and kind != "string":
        value = _parse_text(name, kind, value)
    if not is_of_type(value, kind):
        raise InputError(name, f"input '{name}' must be of type {kind}, got {type_name(value)}")
    number = first_out_of_range(value)
    if number is not None:
        raise InputError(name, f"input '{name}' holds the number {str(number)[:24]}, out of "
                               "range: integers are 64-bit and numbers finite")
    return list(value) if kind == "array" else value


def resolve_inputs(
    declared: Mapping[str, InputSpec], given: Mapping[str, Any],
    readers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The run's input values: given ones coerced, missing ones from their defaults.
    `readers` maps a name to the first node reading it, for the error message."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise InputError(unknown[0], f"unknown input '{unknown[0]}' (declared: {known})")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in given:
            values[name] = coerce_input(name, spec.type, given[name])
        elif spec.default is not None:
            values[name] = coerce_input(name, spec.type, spec.default)
        else:
            node = (readers or {}).get(name)
            where = f" (read by node '{node}')" if node else ""
            raise InputError(name, f"missing required input '{name}'{where}", node)
    return values


def first_readers(nodes: Sequence[Node]) -> dict[str, str]:
    """For each variable, the first top-level node (in source order) whose templates read it."""
    readers: dict[str, str] = {}
    for node in nodes:
        for name in sorted(reads_of(node)):
            readers.setdefault(name, node.id)
    return readers


def _parse_text(name: str, kind: InputType, text: str) -> Any:
    stripped = text.strip()
    try:
        if kind == "integer":
            return int(stripped)
        if kind == "number":
            return float(stripped)
        if kind == "boolean":
            lowered = stripped.lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError(text)
        return json.loads(stripped)
    except ValueError:
        raise InputError(name, f"input '{name}' must be of type {kind}, got {text!r}") from None
