"""Runs of stored graphs: each an asyncio task driving the executor. Its events are kept in
memory while it lives, persisted to the store (at every node boundary and at the end) and
fanned out to subscribers; a subscriber that comes late gets the events so far first.
A run's last event is `run_end` (succeeded) or `error` (failed or cancelled). Its state after
each finished node is stored as a checkpoint, so an interrupted run resumes from there.

Invariants: a run's events have consecutive `seq` from 0 (a resumed run goes on from its
last stored one); every event reaches the store before the run is dropped from memory, so a
subscriber that finds no live run finds all of them stored. A final write the store refuses
is retried until it succeeds; meanwhile `get` answers the run's true final state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from compiler import Plan
from executor import Checkpoint, PlanRunner, RunEvent, Trace
from web.limits import Slots
from web.settings import Settings
from web.store import FINISHED, EventRecord, RunRecord, Store, new_id
from web.store_faults import StoreUnavailable

log = logging.getLogger("flowc.web.runs")
FLUSH_KINDS = ("run_start", "node_start", "node_end", "run_end", "error")
FINAL_WRITE_RETRIES_S = (0.05, 0.2, 0.5, 1.0, 2.0)  # then again at every lease renewal


@dataclass(frozen=True)
class FinalState:
    status: str
    outputs: dict[str, Any] | None
    error: str | None
    error_node: str | None
    trace: dict[str, Any] | None
    finished_at: float = field(default_factory=time.time)


@dataclass
class LiveRun:
    id: str
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    events: list[EventRecord] = field(default_factory=list)
    unsaved: int = 0  # events at the end of `events` not yet in the store
    subscribers: set[asyncio.Queue[EventRecord | None]] = field(default_factory=set)
    tokens: int = 0
    stop_reason: str | None = None  # set when the server, not a client, stopped it
    stop_status: str = "failed"  # the status a run stopped by the server ends with
    task: asyncio.Task[None] | None = None
    started: float = field(default_factory=time.monotonic)
    first_seq: int = 0  # of `events[0]`: a resumed run goes on after its stored events


class RunManager:
    def __init__(self, store: Store, runtime: PlanRunner, settings: Settings,
                 slots: Slots, owner: str) -> None:
        """`owner`: the lease under which this process stores its runs."""
        self.store, self.runtime = store, runtime
        self.settings, self.slots, self.owner = settings, slots, owner
        self.live: dict[str, LiveRun] = {}
        self.unsaved: dict[str, tuple[LiveRun, FinalState]] = {}  # final writes to retry

    @property
    def in_flight(self) -> int:
        return len(self.live)

    def start(self, graph_id: str, version: int, plan: Plan, inputs: dict[str, Any]) -> str:
        """Store a queued run and start it; raises SlotsFull (429) when no slot is free."""
        self.slots.acquire()
        run_id = new_id("run")
        try:
            self.store.add_run(run_id, graph_id, version, inputs, self.owner)
        except BaseException:
            self.slots.release()
            raise
        self._launch(LiveRun(run_id), plan, inputs, None)
        return run_id

    def resume(self, run_id: str, plan: Plan) -> bool:
        """Resume an interrupted run from its last checkpoint (from the start when it has
        none); False when the run is not interrupted. Raises SlotsFull (429)."""
        self.slots.acquire()
        try:
            if not self.store.claim_interrupted(run_id, self.owner):
                self.slots.release()
                return False
            saved = self.store.get_checkpoint(run_id)
            record = self.store.get_run(run_id)
            first_seq = self.store.last_seq(run_id) + 1
        except BaseException:
            self.slots.release()
            raise
        assert record is not None
        checkpoint = Checkpoint.from_dict(saved) if saved is not None else None
        self._launch(LiveRun(run_id, first_seq=first_seq), plan, record.inputs, checkpoint)
        return True

    def get(self, run_id: str) -> RunRecord | None:
        """The stored run, or its final state while the store refuses to take it."""
        record = self.store.get_run(run_id)
        pending = self.unsaved.get(run_id)
        if record is None or pending is None:
            return record
        final = pending[1]
        return dataclasses.replace(record, status=final.status, outputs=final.outputs,
                                   error=final.error, error_node=final.error_node,
                                   finished_at=final.finished_at)

    async def retry_unsaved(self) -> None:
        """Try again the final writes the store refused."""
        for run, final in list(self.unsaved.values()):
            if self._save_final(run, final):
                del self.unsaved[run.id]
                log.warning("run %s stored at last, as %s", run.id, final.status)

    def _launch(self, run: LiveRun, plan: Plan, inputs: dict[str, Any],
                resume: Checkpoint | None) -> None:
        self.live[run.id] = run
        run.task = asyncio.create_task(self._drive(run, plan, inputs, resume), name=run.id)

    def cancel(self, run_id: str) -> bool:
        run = self.live.get(run_id)
        if run is None:
            return False
        run.cancel.set()
        return True

    async def events(self, run_id: str, after: int = -1) -> AsyncIterator[EventRecord]:
        """Every event of the run with seq > after, then new ones until the run ends."""
        run = self.live.get(run_id)
        if run is None or after < run.first_seq - 1:
            for event in self.store.events(run_id, after):
                if run is not None and event.seq >= run.first_seq:
                    break
                yield event
            if run is None:
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

    def stop_all(self) -> None:
        """Stop every run in flight (the server's shutdown grace is over): each ends
        interrupted, its subscribers' last event an `error` that says so."""
        for run in self.live.values():
            self._stop(run, "the server shut down during the run", "interrupted")

    async def shutdown(self) -> None:
        """Stop every run; the store marks them interrupted."""
        tasks = [r.task for r in self.live.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.retry_unsaved()
        self.store.mark_interrupted(self.owner)

    async def _drive(self, run: LiveRun, plan: Plan, inputs: dict[str, Any],
                     resume: Checkpoint | None) -> None:
        try:
            self.store.set_status(run.id, "running")
            watchdog = asyncio.get_running_loop().call_later(
                self.settings.max_run_seconds, self._stop, run,
                f"the run exceeded the server's time limit of {self.settings.max_run_seconds} s")
            try:
                result = await self.runtime.run(
                    plan, inputs, on_event=lambda e: self._on_event(run, e), cancel=run.cancel,
                    on_checkpoint=lambda c: self._checkpoint(run, c), resume=resume)
            finally:
                watchdog.cancel()
            status, error = result.status, result.error
            if status == "cancelled" and run.stop_reason:
                status, error = run.stop_status, run.stop_reason
            await self._finish(run, status, result.outputs, error, result.error_node,
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
            await self._finish(run, "failed", None, error, None, None)
        finally:
            self._close(run)

    def _checkpoint(self, run: LiveRun, checkpoint: Checkpoint) -> None:
        self._flush(run)
        try:
            self.store.save_checkpoint(run.id, _jsonable(checkpoint.to_dict()))
        except StoreUnavailable as exc:  # the next node boundary tries again
            log.error("run %s: checkpoint not stored: %s", run.id, exc)

    def _on_event(self, run: LiveRun, event: RunEvent) -> None:
        data = _jsonable(dict(event.data))
        if event.kind == "error" and run.stop_reason and data.get("status") == "cancelled":
            data.update(status=run.stop_status, error=run.stop_reason)  # the server stopped it
        record = EventRecord(run.first_seq + len(run.events), event.kind, event.node_id, data,
                             event.t)
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

    def _stop(self, run: LiveRun, reason: str, status: str = "failed") -> None:
        if run.stop_reason is None:
            run.stop_reason, run.stop_status = reason, status
        run.cancel.set()

    def _flush(self, run: LiveRun) -> bool:
        """Store the events not stored yet; False when the store refused (kept for later)."""
        if run.unsaved:
            try:
                self.store.add_events(run.id, run.events[-run.unsaved:])
            except StoreUnavailable as exc:
                log.error("run %s: %d events not stored yet: %s", run.id, run.unsaved, exc)
                return False
            run.unsaved = 0
        return True

    async def _finish(self, run: LiveRun, status: str, outputs: dict[str, Any] | None,
                      error: str | None, error_node: str | None,
                      trace: dict[str, Any] | None) -> None:
        if status not in FINISHED:
            status, error = "failed", error or f"the executor answered status {status!r}"
        final = FinalState(status, _jsonable(outputs), error, error_node, trace)
        for delay in FINAL_WRITE_RETRIES_S:
            if self._save_final(run, final):
                return
            await asyncio.sleep(delay)
        if not self._save_final(run, final):
            log.error("run %s finished (%s) but the store refuses it: retrying at every "
                      "lease renewal", run.id, status)
            self.unsaved[run.id] = (run, final)

    def _save_final(self, run: LiveRun, final: FinalState) -> bool:
        if not self._flush(run):
            return False
        try:
            self.store.finish_run(run.id, final.status, final.outputs, final.error,
                                  final.error_node, final.trace, final.finished_at)
        except StoreUnavailable as exc:
            log.error("run %s: final state not stored yet: %s", run.id, exc)
            return False
        return True

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
