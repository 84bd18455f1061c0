"""Runs of stored graphs: each an asyncio task driving the executor. Its events are kept in
memory while it lives, persisted to the store (at every node boundary and at the end) and
fanned out to subscribers; a subscriber that comes late gets the events so far first.
A run's last event is `run_end` (succeeded) or `error` (failed or cancelled).

Invariants: a run's events have consecutive `seq` from 0; every event reaches the store
before the run is dropped from memory, so a subscriber that finds no live run finds all of
them stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from compiler import Plan
from executor import PlanRunner, RunEvent, Trace
from web.limits import Slots
from web.settings import Settings
from web.store import FINISHED, EventRecord, Store, new_id

log = logging.getLogger("flowc.web.runs")
FLUSH_KINDS = ("run_start", "node_start", "node_end", "run_end", "error")


@dataclass
class LiveRun:
    id: str
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    events: list[EventRecord] = field(default_factory=list)
    unsaved: int = 0  # events at the end of `events` not yet in the store
    subscribers: set[asyncio.Queue[EventRecord | None]] = field(default_factory=set)
    tokens: int = 0
    stop_reason: str | None = None  # set when a server limit, not a client, stopped it
    task: asyncio.Task[None] | None = None
    started: float = field(default_factory=time.monotonic)


class RunManager:
    def __init__(self, store: Store, runtime: PlanRunner, settings: Settings,
                 slots: Slots) -> None:
        self.store, self.runtime = store, runtime
        self.settings, self.slots = settings, slots
        self.live: dict[str, LiveRun] = {}

    @property
    def in_flight(self) -> int:
        return len(self.live)

    def start(self, graph_id: str, version: int, plan: Plan, inputs: dict[str, Any]) -> str:
        """Store a queued run and start it; raises SlotsFull (429) when no slot is free."""
        self.slots.acquire()
        run_id = new_id("run")
        try:
            self.store.add_run(run_id, graph_id, version, inputs, self.settings.server_name)
        except BaseException:
            self.slots.release()
            raise
        run = LiveRun(run_id)
        self.live[run_id] = run
        run.task = asyncio.create_task(self._drive(run, plan, inputs), name=run_id)
        return run_id

    def cancel(self, run_id: str) -> bool:
        run = self.live.get(run_id)
        if run is None:
            return False
        run.cancel.set()
        return True

    async def events(self, run_id: str, after: int = -1) -> AsyncIterator[EventRecord]:
        """Every event of the run with seq > after, then new ones until the run ends."""
        run = self.live.get(run_id)
        if run is None:
            for event in self.store.events(run_id, after):
                yield event
            return
        queue: asyncio.Queue[EventRecord | None] = asyncio.Queue()
        backlog = [e for e in run.events if e.seq > after]
        run.subscribers.add(queue)  # no await since the snapshot: nothing is missed
        try:
            for event in backlog:
                yield event
            while (event := await queue.get()) is not None:
                yield event
        finally:
            run.subscribers.discard(queue)

    async def shutdown(self) -> None:
        """Stop every run; the store marks them interrupted."""
        tasks = [r.task for r in self.live.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.store.mark_interrupted(self.settings.server_name)

    async def _drive(self, run: LiveRun, plan: Plan, inputs: dict[str, Any]) -> None:
        try:
            self.store.set_status(run.id, "running")
            watchdog = asyncio.get_running_loop().call_later(
                self.settings.max_run_seconds, self._stop, run,
                f"the run exceeded the server's time limit of {self.settings.max_run_seconds} s")
            try:
                result = await self.runtime.run(
                    plan, inputs, on_event=lambda e: self._on_event(run, e), cancel=run.cancel)
            finally:
                watchdog.cancel()
            status, error = result.status, result.error
            if status == "cancelled" and run.stop_reason:
                status, error = "failed", run.stop_reason
            self._finish(run, status, result.outputs, error, result.error_node,
                         _trace_dict(result.trace))
        except asyncio.CancelledError:  # the server is stopping: the store marks it interrupted
            self._on_event(run, RunEvent("error", None, {
                "status": "interrupted", "error": "the server stopped during the run"},
                time.monotonic() - run.started))
            self._flush(run)
            raise
        except Exception as exc:  # the executor failed outside a node: still a finished run
            log.exception("run %s failed", run.id)
            error = f"{type(exc).__name__}: {exc}"
            self._on_event(run, RunEvent("error", None, {"status": "failed", "error": error},
                                       time.monotonic() - run.started))
            self._finish(run, "failed", None, error, None, None)
        finally:
            self._close(run)

    def _on_event(self, run: LiveRun, event: RunEvent) -> None:
        data = _jsonable(dict(event.data))
        record = EventRecord(len(run.events), event.kind, event.node_id, data, event.t)
        run.events.append(record)
        run.unsaved += 1
        for queue in run.subscribers:
            queue.put_nowait(record)
        if record.kind == "token":
            run.tokens += int(data.get("n", 1)) if isinstance(data.get("n", 1), int) else 1
            if run.tokens > self.settings.max_run_tokens:
                self._stop(run, "the run exceeded the server's limit of "
                                f"{self.settings.max_run_tokens} generated tokens")
        elif record.kind in FLUSH_KINDS:
            self._flush(run)

    def _stop(self, run: LiveRun, reason: str) -> None:
        if run.stop_reason is None:
            run.stop_reason = reason
        run.cancel.set()

    def _flush(self, run: LiveRun) -> None:
        if run.unsaved:
            self.store.add_events(run.id, run.events[-run.unsaved:])
            run.unsaved = 0

    def _finish(self, run: LiveRun, status: str, outputs: dict[str, Any] | None,
                error: str | None, error_node: str | None,
                trace: dict[str, Any] | None) -> None:
        if status not in FINISHED:
            status, error = "failed", error or f"the executor answered status {status!r}"
        self._flush(run)
        self.store.finish_run(run.id, status, _jsonable(outputs), error, error_node, trace)

    def _close(self, run: LiveRun) -> None:
        self.live.pop(run.id, None)
        self.slots.release()
        for queue in run.subscribers:
            queue.put_nowait(None)


def _trace_dict(trace: Trace) -> dict[str, Any]:
    return _jsonable(trace.to_dict())


def _jsonable(value: Any) -> Any:
    """`value` with anything JSON cannot hold turned into its string."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return str(value)
