"""Graphs, their versions, runs, their events and traces, kept in one SQL database.

Every method is one short transaction and returns plain records, never ORM objects, so
callers cannot touch the database by accident. Nothing is half-stored: a failed method
rolls back. An outage of the database (a full disk, a deleted file, a server that cannot be
reached) raises StoreUnavailable and is remembered as `problem` until a write succeeds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from web.db import (
    CheckpointRow,
    EventRow,
    GraphRow,
    GraphVersionRow,
    LeaseRow,
    RunRow,
    TraceRow,
    connect,
    create_tables,
)
from web.records import (
    EventRecord,
    GraphRecord,
    GraphVersion,
    RunRecord,
    VersionRecord,
    graph_record,
    run_record,
)
from web.store_faults import StoreUnavailable, describe, is_outage, sqlite_file

FINISHED = ("succeeded", "failed", "cancelled", "interrupted")
IN_FLIGHT = ("queued", "running")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


class Store:
    def __init__(self, url: str) -> None:
        self._file = sqlite_file(url)
        if self._file is not None:
            self._file.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = connect(url)
        if self._file is not None:
            self._file.check()
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.problem: str | None = None  # the last outage, until a write succeeds

    def close(self) -> None:
        self.engine.dispose()

    def health(self) -> str | None:
        """The database's outage, if any (checks that a SQLite file is still there)."""
        try:
            with self._guard():
                pass
        except StoreUnavailable as exc:
            return str(exc)
        return self.problem

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            if self._file is not None and self._file.check():
                self.engine.dispose()  # another file stands at the path now: use that one
                create_tables(self.engine)
            yield
        except StoreUnavailable as exc:
            self.problem = str(exc)
            raise
        except DBAPIError as exc:
            if not is_outage(exc):
                raise
            self.problem = describe(exc)
            raise StoreUnavailable(self.problem) from exc

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._guard(), self._session.begin() as session:
            yield session
        self.problem = None

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._guard(), self._session() as session:
            yield session

    # graphs
    def add_graph(self, name: str, source: dict[str, Any]) -> GraphVersion:
        now = time.time()
        graph_id = new_id("g")
        with self._write() as s:
            s.add(GraphRow(id=graph_id, name=name, latest_version=1, created_at=now,
                           updated_at=now))
            s.flush()
            s.add(GraphVersionRow(graph_id=graph_id, version=1, name=name, source=source,
                                  created_at=now))
        return GraphVersion(graph_id, 1, name, source, now)

    def add_version(self, graph_id: str, name: str, source: dict[str, Any]) -> GraphVersion | None:
        now = time.time()
        with self._write() as s:
            # one statement takes the next number: concurrent servers never share one
            version = s.scalar(update(GraphRow).where(GraphRow.id == graph_id).values(
                latest_version=GraphRow.latest_version + 1, name=name, updated_at=now,
            ).returning(GraphRow.latest_version))
            if version is None:
                return None
            s.add(GraphVersionRow(graph_id=graph_id, version=version, name=name, source=source,
                                  created_at=now))
            return GraphVersion(graph_id, version, name, source, now)

    def list_graphs(self, limit: int = 100, offset: int = 0) -> list[GraphRecord]:
        query = select(GraphRow).order_by(GraphRow.created_at, GraphRow.id)
        with self._read() as s:
            rows = s.scalars(query.limit(limit).offset(offset))
            return [graph_record(r) for r in rows]

    def count_graphs(self) -> int:
        with self._read() as s:
            return int(s.scalar(select(func.count()).select_from(GraphRow)) or 0)

    def get_graph(self, graph_id: str, version: int | None = None) -> GraphVersion | None:
        with self._read() as s:
            graph = s.get(GraphRow, graph_id)
            if graph is None:
                return None
            row = s.scalars(select(GraphVersionRow).where(
                GraphVersionRow.graph_id == graph_id,
                GraphVersionRow.version == (version or graph.latest_version))).first()
            if row is None:
                return None
            return GraphVersion(graph_id, row.version, row.name, row.source, row.created_at)

    def list_versions(self, graph_id: str) -> list[VersionRecord] | None:
        """A graph's versions, oldest first; None when there is no such graph."""
        with self._read() as s:
            if s.get(GraphRow, graph_id) is None:
                return None
            rows = s.scalars(select(GraphVersionRow).where(GraphVersionRow.graph_id == graph_id)
                             .order_by(GraphVersionRow.version))
            return [VersionRecord(r.version, r.name, r.created_at) for r in rows]

    def delete_graph(self, graph_id: str) -> bool:
        with self._write() as s:
            s.execute(delete(GraphVersionRow).where(GraphVersionRow.graph_id == graph_id))
            return s.execute(delete(GraphRow).where(GraphRow.id == graph_id)).rowcount > 0

    # runs
    def add_run(self, run_id: str, graph_id: str, version: int, inputs: dict[str, Any],
                owner: str = "") -> None:
        with self._write() as s:
            s.add(RunRow(id=run_id, graph_id=graph_id, version=version, status="queued",
                         owner=owner, inputs=inputs, created_at=time.time()))

    def set_status(self, run_id: str, status: str) -> None:
        with self._write() as s:
            s.execute(update(RunRow).where(RunRow.id == run_id).values(status=status))

    def finish_run(self, run_id: str, status: str, outputs: dict[str, Any] | None,
                   error: str | None, error_node: str | None,
                   trace: dict[str, Any] | None, finished_at: float | None = None) -> None:
        with self._write() as s:
            s.execute(update(RunRow).where(RunRow.id == run_id).values(
                status=status, outputs=outputs, error=_text(error), error_node=_text(error_node),
                finished_at=finished_at or time.time()))
            if trace is not None:
                s.merge(TraceRow(run_id=run_id, trace=trace))
            s.execute(delete(CheckpointRow).where(CheckpointRow.run_id == run_id))

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._read() as s:
            row = s.get(RunRow, run_id)
            return None if row is None else run_record(row)

    def get_trace(self, run_id: str) -> dict[str, Any] | None:
        with self._read() as s:
            row = s.get(TraceRow, run_id)
            return None if row is None else row.trace

    def list_runs(self, graph_id: str | None = None, limit: int = 100,
                  offset: int = 0) -> list[RunRecord]:
        query = select(RunRow).order_by(RunRow.created_at, RunRow.id)
        if graph_id is not None:
            query = query.where(RunRow.graph_id == graph_id)
        with self._read() as s:
            return [run_record(r) for r in s.scalars(query.limit(limit).offset(offset))]

    def count_runs(self, status: str | None = None, graph_id: str | None = None) -> int:
        query = select(func.count()).select_from(RunRow)
        if status is not None:
            query = query.where(RunRow.status == status)
        if graph_id is not None:
            query = query.where(RunRow.graph_id == graph_id)
        with self._read() as s:
            return int(s.scalar(query) or 0)

    def mark_interrupted(self, owner: str = "") -> int:
        """Runs `owner` left queued or running when it stopped: they will never finish."""
        with self._write() as s:
            stale = RunRow.status.in_(IN_FLIGHT) & (RunRow.owner == owner)
            return _interrupt(s, stale, time.time())

    def interrupt_orphans(self, now: float) -> int:
        """Runs in flight whose owner holds no unexpired lease will never finish: mark them
        interrupted, and forget the expired leases."""
        with self._write() as s:
            alive = select(LeaseRow.id).where(LeaseRow.expires_at > now)
            orphans = RunRow.status.in_(IN_FLIGHT) & RunRow.owner.not_in(alive)
            count = _interrupt(s, orphans, now)
            s.execute(delete(LeaseRow).where(LeaseRow.expires_at <= now))
            return count

    # leases
    def renew_lease(self, lease_id: str, server: str, expires_at: float) -> None:
        with self._write() as s:
            s.merge(LeaseRow(id=lease_id, server=server, expires_at=expires_at))

    def drop_lease(self, lease_id: str) -> None:
        with self._write() as s:
            s.execute(delete(LeaseRow).where(LeaseRow.id == lease_id))

    # checkpoints and resumption
    def save_checkpoint(self, run_id: str, state: dict[str, Any]) -> None:
        with self._write() as s:
            s.merge(CheckpointRow(run_id=run_id, state=state, t=time.time()))

    def get_checkpoint(self, run_id: str) -> dict[str, Any] | None:
        with self._read() as s:
            row = s.get(CheckpointRow, run_id)
            return None if row is None else row.state

    def claim_interrupted(self, run_id: str, owner: str) -> bool:
        """Make an interrupted run `owner`'s queued run again; False when it is not
        interrupted (any more: two servers never both claim it)."""
        with self._write() as s:
            claimed = s.execute(update(RunRow).where(
                RunRow.id == run_id, RunRow.status == "interrupted").values(
                status="queued", owner=owner, error=None, error_node=None, finished_at=None))
            return claimed.rowcount == 1

    # events
    def add_events(self, run_id: str, events: Iterable[EventRecord]) -> None:
        rows = [EventRow(run_id=run_id, seq=e.seq, kind=e.kind, node_id=e.node_id,
                         data=e.data, t=e.t) for e in events]
        if rows:
            with self._write() as s:
                s.add_all(rows)

    def last_seq(self, run_id: str) -> int:
        """The seq of the run's last stored event; -1 when it has none."""
        with self._read() as s:
            last = s.scalar(select(func.max(EventRow.seq)).where(EventRow.run_id == run_id))
            return -1 if last is None else int(last)

    def events(self, run_id: str, after: int = -1) -> list[EventRecord]:
        query = select(EventRow).where(EventRow.run_id == run_id, EventRow.seq > after)
        with self._read() as s:
            return [EventRecord(r.seq, r.kind, r.node_id, r.data, r.t)
                    for r in s.scalars(query.order_by(EventRow.seq))]


def _interrupt(session: Session, which: Any, now: float) -> int:
    result = session.execute(update(RunRow).where(which).values(
        status="interrupted", error="the server stopped during the run", finished_at=now))
    return result.rowcount


def _text(value: str | None) -> str | None:
    """`value` as every database's text column holds it: PostgreSQL's refuse NUL, so it is
    written as the four characters \\x00 (JSON columns keep it, escaped)."""
    return value.replace("\x00", "\\x00") if value is not None else None
