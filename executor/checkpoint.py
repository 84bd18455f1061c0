"""A run's state at a node boundary of its workflow graph, enough to resume it there.

A checkpoint is taken each time a node of the workflow's own graph (not of a map body)
finishes and its out-edges have fired. Nodes still running at that moment count as not
started: a resumed run runs them again, whole (a `map` node with all its items). Values are
kept as the run holds them; `to_dict()` is JSON-ready when they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from executor.flow import FlowState
from executor.state import TurnRecord

FORMAT = 1


@dataclass(frozen=True)
class Checkpoint:
    values: dict[str, Any]  # the root scope: inputs, state entries, node outputs
    threads: dict[str, tuple[TurnRecord, ...]]
    flow: FlowState
    visits: dict[str, int]  # how often each node has started, the ones running excluded
    done: tuple[str, ...]  # nodes finished, in order (a loop's node once per visit)
    tokens_used: int  # counted against limits.max_tokens_total

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "values": self.values,
            "threads": {name: [_turn_dict(t) for t in turns]
                        for name, turns in self.threads.items()},
            "fired": {node: list(edges) for node, edges in self.flow.fired.items()},
            "triggered": list(self.flow.triggered),
            "visits": self.visits,
            "done": list(self.done),
            "tokens_used": self.tokens_used,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """Raises ValueError naming what is wrong when `data` is not a checkpoint."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ValueError(f"not a flowc checkpoint of format {FORMAT}")
        try:
            flow = FlowState({str(n): tuple(int(i) for i in edges)
                              for n, edges in data["fired"].items()},
                             tuple(str(n) for n in data["triggered"]))
            threads = {str(name): tuple(_turn(t) for t in turns)
                       for name, turns in data["threads"].items()}
            return cls(dict(data["values"]), threads, flow,
                       {str(n): int(v) for n, v in data["visits"].items()},
                       tuple(str(n) for n in data["done"]), int(data["tokens_used"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"malformed checkpoint: {type(exc).__name__}: {exc}") from None


def _turn_dict(turn: TurnRecord) -> dict[str, Any]:
    return {"node_id": turn.node_id, "own_ids": list(turn.own_ids),
            "reply_ids": list(turn.reply_ids), "messages": [dict(m) for m in turn.messages]}


def _turn(data: Mapping[str, Any]) -> TurnRecord:
    return TurnRecord(str(data["node_id"]), tuple(int(i) for i in data["own_ids"]),
                      tuple(int(i) for i in data["reply_ids"]),
                      tuple({str(k): str(v) for k, v in m.items()} for m in data["messages"]))
