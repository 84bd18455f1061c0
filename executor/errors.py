"""Why a run fails: a node that failed (named, with its map item indices) or a per-run limit."""

from __future__ import annotations


class NodeError(RuntimeError):
    """A node failed; the run fails naming it."""

    def __init__(self, node_id: str, message: str, item: tuple[int, ...] = ()) -> None:
        where = "".join(f"[{i}]" for i in item)
        super().__init__(f"node '{node_id}'{where}: {message}")
        self.node_id = node_id
        self.item = item
        self.detail = message


class RunLimitError(NodeError):
    """A per-run limit (tokens, visits) was exceeded."""


class BudgetExceeded(RuntimeError):
    """limits.max_tokens_total would be or was exceeded."""
