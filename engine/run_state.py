"""A run's variables: inputs (checked and coerced by their declared type), state entries with
their reducers, node outputs, map-body scopes and the heads of conversation threads."""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}


class InputError(ValueError):
    """An input is missing, unknown or of the wrong type."""

    def __init__(self, name: str, message: str, node_id: str | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.node_id = node_id


def coerce_input(name: str, kind: str, value: Any) -> Any:
    """`value` as the declared input type; text (from `--input k=v`) is parsed."""
    if isinstance(value, str) and kind != "string":
        value = _parse_text(name, kind, value)
    if kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return value
    wanted = _PY_TYPES[kind]
    if not isinstance(value, wanted) or (kind in ("integer", "number") and isinstance(value, bool)):
        raise InputError(name, f"input '{name}' must be of type {kind}, got {_type_name(value)}")
    return list(value) if kind == "array" else value


def _parse_text(name: str, kind: str, text: str) -> Any:
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


def _type_name(value: Any) -> str:
    return {str: "string", bool: "boolean", int: "integer", float: "number", list: "array",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


def resolve_inputs(
    declared: Mapping[str, Any], given: Mapping[str, Any], readers: Mapping[str, str]
) -> dict[str, Any]:
    """The run's input values: given ones coerced, missing ones from their defaults.
    `declared` maps names to InputSpecs; `readers` maps a name to the first node reading it."""
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
            node = readers.get(name)
            where = f" (read by node '{node}')" if node else ""
            raise InputError(name, f"missing required input '{name}'{where}", node)
    return values


@dataclass(frozen=True)
class TurnRecord:
    """One finished call on a conversation thread: the token ids its own turn added to the
    prompt (the whole prompt for a thread's first call) and the reply's token ids."""

    node_id: str
    own_ids: tuple[int, ...]
    reply_ids: tuple[int, ...]
    messages: tuple[Mapping[str, str], ...]


_EMPTY = {"append": list, "extend": list, "merge": dict}


class Scope:
    """Variables visible to a graph: the root scope holds inputs, state and outputs; a map
    body's scope layers its item's variables over its parent's. Declared state entries are
    always written to the root through their reducer."""

    def __init__(
        self,
        reducers: Mapping[str, str],
        values: Mapping[str, Any] | None = None,
        parent: Scope | None = None,
    ) -> None:
        self.parent = parent
        self.reducers = dict(reducers)
        self.local: dict[str, Any] = dict(values or {})
        self.threads: dict[str, list[TurnRecord]] = {}  # a map body's threads start afresh

    @classmethod
    def root(cls, state_specs: Mapping[str, Any], inputs: Mapping[str, Any]) -> Scope:
        values: dict[str, Any] = {}
        for name, spec in state_specs.items():
            default = spec.default
            if default is None and spec.reducer in _EMPTY:
                default = _EMPTY[spec.reducer]()
            values[name] = default
        values.update(inputs)
        return cls({n: s.reducer for n, s in state_specs.items()}, values)

    def child(self, values: Mapping[str, Any]) -> Scope:
        return Scope(self.reducers, values, parent=self)

    @property
    def values(self) -> Mapping[str, Any]:
        chain: list[Mapping[str, Any]] = []
        scope: Scope | None = self
        while scope is not None:
            chain.append(scope.local)
            scope = scope.parent
        return ChainMap(*chain)

    def write(self, name: str, value: Any) -> None:
        if name in self.reducers:
            root = self._root()
            root.local[name] = reduce(self.reducers[name], root.local.get(name), value, name)
        else:
            self.local[name] = value

    def add_turn(self, thread: str, turn: TurnRecord) -> None:
        self.threads.setdefault(thread, []).append(turn)

    def history(self, thread: str, visible: set[str]) -> list[TurnRecord]:
        """The thread's finished turns, in order, of the nodes in `visible` (the caller's
        ancestors and loop mates): forked branches do not see each other's turns."""
        return [t for t in self.threads.get(thread, []) if t.node_id in visible]

    def _root(self) -> Scope:
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope


def reduce(reducer: str, current: Any, value: Any, name: str) -> Any:
    if reducer == "replace":
        return value
    if reducer == "append":
        return [*(current or []), value]
    if reducer == "extend":
        if not isinstance(value, list | tuple):
            raise TypeError(f"state '{name}' extends with lists, got {_type_name(value)}")
        return [*(current or []), *value]
    if reducer == "merge":
        if not isinstance(value, Mapping):
            raise TypeError(f"state '{name}' merges objects, got {_type_name(value)}")
        return {**(current or {}), **value}
    raise ValueError(f"unknown reducer {reducer!r}")
