"""Problems found in a workflow: each names its JSON path, its node and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One problem: `path` is a JSON path such as `nodes[2].messages[0].content`."""

    path: str
    message: str
    node_id: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f" (node '{self.node_id}')" if self.node_id is not None else ""
        return f"{self.path}{where}: {self.message}"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "path": self.path,
            "node_id": self.node_id,
            "message": self.message,
            "severity": self.severity,
        }


class GraphError(ValueError):
    """A workflow that cannot be used; `problems` lists every error found, never just one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"invalid workflow: {count} error{'s' if count != 1 else ''}"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])
