"""What a run reports as it goes: events with the seconds since the run started."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)
EventKind = Literal["run_start", "node_start", "token", "node_end", "run_end", "error"]


@dataclass(frozen=True)
class RunEvent:
    kind: EventKind
    node_id: str | None
    data: dict[str, Any]
    t: float  # seconds since the run started


@dataclass(frozen=True)
class RunEvents:
    """A run's clock (seconds since it started) and its event listener."""

    started: float
    listener: Callable[[RunEvent], None] | None

    def clock(self) -> float:
        return time.monotonic() - self.started

    def emit(self, kind: EventKind, node_id: str | None, data: dict[str, Any]) -> None:
        if self.listener is None:
            return
        try:
            self.listener(RunEvent(kind, node_id, data, self.clock()))
        except Exception:  # a broken listener must not break the run
            log.exception("run event listener failed on %s", kind)
