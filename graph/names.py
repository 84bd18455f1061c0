"""Which variables a template may read: fixed sets chained to enclosing scopes."""

from __future__ import annotations


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
