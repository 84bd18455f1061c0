"""The live view `flowc run` shows on a terminal: each node's state and token count."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

_STYLE = {"waiting": "dim", "running": "yellow", "done": "green", "failed": "red"}


@dataclass
class _Row:
    state: str = "waiting"
    runs: int = 0
    tokens: int = 0
    started: float = 0.0
    seconds: float = 0.0


@dataclass
class LiveView:
    """Feed it RunEvents (`on_event`); use it as a context manager around the run."""

    step_ids: list[str]
    console: Console = field(default_factory=lambda: Console(stderr=True))
    rows: dict[str, _Row] = field(default_factory=dict)
    _live: Live | None = None

    def __post_init__(self) -> None:
        self.rows = {step_id: _Row() for step_id in self.step_ids}

    def __enter__(self) -> LiveView:
        self._live = Live(self._table(), console=self.console, refresh_per_second=8,
                          transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(*exc)

    def on_event(self, event: Any) -> None:
        if event.node_id is None:
            return
        row = self.rows.setdefault(event.node_id, _Row())
        if event.kind == "node_start":
            row.state, row.runs, row.started = "running", row.runs + 1, time.monotonic()
        elif event.kind == "token":
            row.tokens += int(event.data.get("n", 1))
        elif event.kind == "node_end":
            row.state = "failed" if event.data.get("status") == "failed" else "done"
            row.seconds += time.monotonic() - row.started
        elif event.kind == "error":
            row.state = "failed"
        if self._live is not None:
            self._live.update(self._table())

    def _table(self) -> Table:
        table = Table(title="flowc run", expand=False)
        for column in ("node", "state", "runs", "tokens", "time s"):
            table.add_column(column)
        for step_id, row in self.rows.items():
            table.add_row(step_id, f"[{_STYLE[row.state]}]{row.state}", str(row.runs),
                          str(row.tokens), f"{row.seconds:.2f}")
        return table
