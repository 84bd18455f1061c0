"""Which variables a template may read: fixed sets chained to enclosing scopes."""

from __future__ import annotations

from typing import Any


class Names:
    """Readable variables: a fixed set, then what an enclosing `parent` provides."""

    def __init__(self, names: set[str], parent: Names | None = None) -> None:
        self._names = names
        self.parent = parent

    def provides(self, variable: str) -> bool:
        if variable in self._names:
            return True
        return self.parent is not None and self.parent.provides(variable)

    def names(self) -> set[str]:
        inherited = self.parent.names() if self.parent is not None else set()
        return self._names | inherited


class Visibility(Names):
    """What one node of a scope may read, asked per variable (cheap on large graphs): `extra`,
    what the enclosing scope provides, and what nodes that may run before it write. `scope`
    gives `outer` (Names), `writers` ({variable: node ids}), `writer_bits` ({variable: bitset})
    and `concurrency` (graph.topology.Concurrency)."""

    def __init__(self, scope: Any, node_id: str, extra: set[str]) -> None:
        super().__init__(extra)
        self.scope, self.node_id = scope, node_id

    def provides(self, variable: str) -> bool:
        if variable in self._names or self.scope.outer.provides(variable):
            return True
        writers = self.scope.writer_bits.get(variable, 0)
        return self.scope.concurrency.orders.any_may_run_before(writers, self.node_id)

    def names(self) -> set[str]:
        own = {v for v in self.scope.writers if self.provides(v)}
        return self._names | self.scope.outer.names() | own
