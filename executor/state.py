"""A run's variables: inputs, state entries with their reducers, node outputs, map-body
scopes and the turns of conversation threads."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graph import Reducer, StateSpec


@dataclass(frozen=True)
class TurnRecord:
    """One finished call on a conversation thread: the token ids its own turn added to the
    prompt (the whole prompt for a thread's first call) and the reply's token ids."""

    node_id: str
    own_ids: tuple[int, ...]
    reply_ids: tuple[int, ...]
    messages: tuple[Mapping[str, str], ...]


class Scope:
    """Variables visible to a graph: the root scope holds inputs, state and outputs; a map
    body's scope layers its item's variables over its parent's. Declared state entries are
    always written to the root through their reducer."""

    def __init__(
        self,
        reducers: Mapping[str, Reducer],
        values: Mapping[str, Any] | None = None,
        parent: Scope | None = None,
    ) -> None:
        self.parent = parent
        self.reducers = reducers
        self.local: dict[str, Any] = dict(values or {})
        self.threads: dict[str, list[TurnRecord]] = {}  # a map body's threads start afresh

    @classmethod
    def root(cls, state: Mapping[str, StateSpec], reducers: Mapping[str, Reducer],
             inputs: Mapping[str, Any]) -> Scope:
        values = {name: reducers[name].initial(spec) for name, spec in state.items()}
        values.update(inputs)
        return cls(reducers, values)

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

    def snapshot(self) -> dict[str, Any]:
        """The visible values as they are now, for a rendering in another thread while this
        scope goes on changing."""
        return dict(self.values)

    def write(self, name: str, value: Any) -> None:
        if name in self.reducers:
            root = self._root()
            root.local[name] = self.reducers[name].combine(root.local.get(name), value, name)
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
