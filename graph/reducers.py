"""The state reducers of the format: how a write to a declared state entry combines with its
current value. Validation checks declared defaults against them; the executor applies them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graph.inputs import type_name
from graph.model import Reducer as ReducerName
from graph.model import StateSpec


class ReduceError(TypeError):
    """A value a reducer cannot combine (its message names the state entry)."""


@dataclass(frozen=True)
class Reducer:
    name: ReducerName
    combine: Callable[[Any, Any, str], Any]  # (current, value, state name) -> new value
    empty: Callable[[], Any] | None = None  # the start value when no default is declared
    default_type: type | None = None  # what a declared default must be

    def initial(self, spec: StateSpec) -> Any:
        if spec.default is None and self.empty is not None:
            return self.empty()
        return spec.default

    def default_problem(self, spec: StateSpec) -> str | None:
        """Why the declared default does not suit the reducer, or None."""
        if spec.default is None or self.default_type is None:
            return None
        if isinstance(spec.default, self.default_type):
            return None
        wanted = "a list" if self.default_type is list else "an object"
        hint = "[]" if self.default_type is list else "{}"
        return (f"reducer '{self.name}' needs {wanted} default, got "
                f"{type(spec.default).__name__}: use {hint} or leave the default out")


def _replace(current: Any, value: Any, name: str) -> Any:
    return value


def _append(current: Any, value: Any, name: str) -> Any:
    return [*(current or []), value]


def _extend(current: Any, value: Any, name: str) -> Any:
    if not isinstance(value, list | tuple):
        raise ReduceError(f"state '{name}' extends with lists, got {type_name(value)}")
    return [*(current or []), *value]


def _merge(current: Any, value: Any, name: str) -> Any:
    if not isinstance(value, Mapping):
        raise ReduceError(f"state '{name}' merges objects, got {type_name(value)}")
    return {**(current or {}), **value}


REDUCERS: dict[ReducerName, Reducer] = {
    "replace": Reducer("replace", _replace),
    "append": Reducer("append", _append, list, list),
    "extend": Reducer("extend", _extend, list, list),
    "merge": Reducer("merge", _merge, dict, dict),
}


def reducers_of(state: Mapping[str, StateSpec]) -> dict[str, Reducer]:
    """The reducer of each declared state entry, chosen once."""
    return {name: REDUCERS[spec.reducer] for name, spec in state.items()}
