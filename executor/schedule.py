"""How a run is scheduled: the compiled plan honoured, or a baseline it is measured against.

- `planned`: dataflow readiness (a node starts once its inputs are done), the plan's prefix
  groups prefilled eagerly and pinned until their last reader is done, speculative prefill of
  router targets, critical-path priorities on every request, map concurrency as declared.
- `dataflow`: the same readiness with none of the plan's features (no eager prefill, pins,
  speculation or priorities): what a dataflow orchestrator in front of a prefix-caching
  server does.
- `superstep`: LangGraph's (Pregel's) model: every node ready at a step boundary is submitted
  at once, and the next step starts only when all of them have finished; none of the plan's
  features.
- `sequential`: one node at a time, map items one at a time (the plain orchestrator).
"""

from __future__ import annotations

from enum import StrEnum


class Schedule(StrEnum):
    PLANNED = "planned"
    DATAFLOW = "dataflow"
    SUPERSTEP = "superstep"
    SEQUENTIAL = "sequential"

    @property
    def honours_plan(self) -> bool:
        """Whether the plan's prefix pins, speculation and priorities are used."""
        return self is Schedule.PLANNED

    def launchable(self, ready: list[str], running: int) -> list[str]:
        """Which of the ready nodes start now, with `running` nodes of the graph in flight."""
        if self in (Schedule.PLANNED, Schedule.DATAFLOW):
            return ready
        if running:
            return []
        return ready if self is Schedule.SUPERSTEP else ready[:1]

    def map_concurrency(self, declared: int | None, items: int) -> int:
        """How many items of a map run at once."""
        if self is Schedule.SEQUENTIAL:
            return 1
        return declared or max(1, items)
