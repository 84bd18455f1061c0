"""Graphs, their versions, runs, their events and traces, kept in one SQL database.

Every method is one short transaction and returns plain records, never ORM objects, so
callers cannot touch the database by accident. Nothing is half-stored: a failed method
rolls back.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import sessionmaker

from web.db import EventRow, GraphRow, GraphVersionRow, RunRow, TraceRow, connect

FINISHED = ("succeeded", "failed", "cancelled", "interrupted")
IN_FLIGHT = ("queued", "running")


@dataclass(frozen=True)
class GraphRecord:
    id: str
    name: str
    latest_version: int
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class GraphVersion:
    id: str
    version: int
    name: str
    source: dict[str, Any]
    created_at: float


@dataclass(frozen=True)
class VersionRecord:
    version: int
    name: str
    created_at: float


@dataclass(frozen=True)
class RunRecord:
    id: str
    graph_id: str
    version: int
    status: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    error: str | None
    error_node: str | None
    created_at: float
    finished_at: float | None


@dataclass(frozen=True)
class EventRecord:
    seq: int
    kind: str
    node_id: str | None
    data: dict[str, Any]
    t: float


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


class Store:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(
                parents=True, exist_ok=True)
        self.engine = connect(url)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # graphs
    def add_graph(self, name: str, source: dict[str, Any]) -> GraphVersion:
        now = time.time()
        graph_id = new_id("g")
        with self._session.begin() as s:
            s.add(GraphRow(id=graph_id, name=name, latest_version=1, created_at=now,
                           updated_at=now))
            s.flush()
            s.add(GraphVersionRow(graph_id=graph_id, version=1, name=name, source=source,
                                  created_at=now))
        return GraphVersion(graph_id, 1, name, source, now)

    def add_version(self, graph_id: str, name: str, source: dict[str, Any]) -> GraphVersion | None:
        now = time.time()
        with self._session.begin() as s:
            graph = s.get(GraphRow, graph_id, with_for_update=True)
            if graph is None:
                return None
            graph.latest_version += 1
            graph.name, graph.updated_at = name, now
            s.add(GraphVersionRow(graph_id=graph_id, version=graph.latest_version, name=name,
                                  source=source, created_at=now))
            return GraphVersion(graph_id, graph.latest_version, name, source, now)

    def list_graphs(self, limit: int = 100, offset: int = 0) -> list[GraphRecord]:
        query = select(GraphRow).order_by(GraphRow.created_at, GraphRow.id)
        with self._session() as s:
            rows = s.scalars(query.limit(limit).offset(offset))
            return [_graph_record(r) for r in rows]

    def count_graphs(self) -> int:
        with self._session() as s:
            return int(s.scalar(select(func.count()).select_from(GraphRow)) or 0)

    def get_graph(self, graph_id: str, version: int | None = None) -> GraphVersion | None:
        with self._session() as s:
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
        with self._session() as s:
            if s.get(GraphRow, graph_id) is None:
                return None
            rows = s.scalars(select(GraphVersionRow).where(GraphVersionRow.graph_id == graph_id)
                             .order_by(GraphVersionRow.version))
            return [VersionRecord(r.version, r.name, r.created_at) for r in rows]

    def delete_graph(self, graph_id: str) -> bool:
        with self._session.begin() as s:
            s.execute(delete(GraphVersionRow).where(GraphVersionRow.graph_id == graph_id))
            return s.execute(delete(GraphRow).where(GraphRow.id == graph_id)).rowcount > 0

    # runs
    def add_run(self, run_id: str, graph_id: str, version: int, inputs: dict[str, Any],
                owner: str = "") -> None:
        with self._session.begin() as s:
            s.add(RunRow(id=run_id, graph_id=graph_id, version=version, status="queued",
                         owner=owner, inputs=inputs, created_at=time.time()))

    def set_status(self, run_id: str, status: str) -> None:
        with self._session.begin() as s:
            s.execute(update(RunRow).where(RunRow.id == run_id).values(status=status))

    def finish_run(self, run_id: str, status: str, outputs: dict[str, Any] | None,
                   error: str | None, error_node: str | None,
                   trace: dict[str, Any] | None) -> None:
        with self._session.begin() as s:
            s.execute(update(RunRow).where(RunRow.id == run_id).values(
                status=status, outputs=outputs, error=error, error_node=error_node,
                finished_at=time.time()))
            if trace is not None:
                s.merge(TraceRow(run_id=run_id, trace=trace))

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._session() as s:
            row = s.get(RunRow, run_id)
            return None if row is None else _run_record(row)

    def get_trace(self, run_id: str) -> dict[str, Any] | None:
        with self._session() as s:
            row = s.get(TraceRow, run_id)
            return None if row is None else row.trace

    def list_runs(self, graph_id: str | None = None, limit: int = 100,
                  offset: int = 0) -> list[RunRecord]:
        query = select(RunRow).order_by(RunRow.created_at, RunRow.id)
        if graph_id is not None:
            query = query.where(RunRow.graph_id == graph_id)
        with self._session() as s:
            return [_run_record(r) for r in s.scalars(query.limit(limit).offset(offset))]

    def count_runs(self, status: str | None = None, graph_id: str | None = None) -> int:
        query = select(func.count()).select_from(RunRow)
        if status is not None:
            query = query.where(RunRow.status == status)
        if graph_id is not None:
            query = query.where(RunRow.graph_id == graph_id)
        with self._session() as s:
            return int(s.scalar(query) or 0)

    def mark_interrupted(self, owner: str = "") -> int:
        """Runs `owner` left queued or running when it stopped: they will never finish."""
        with self._session.begin() as s:
            stale = RunRow.status.in_(IN_FLIGHT) & (RunRow.owner == owner)
            result = s.execute(update(RunRow).where(stale).values(
                status="interrupted", error="the server stopped during the run",
                finished_at=time.time()))
            return result.rowcount

    # events
    def add_events(self, run_id: str, events: Iterable[EventRecord]) -> None:
        rows = [EventRow(run_id=run_id, seq=e.seq, kind=e.kind, node_id=e.node_id,
                         data=e.data, t=e.t) for e in events]
        if rows:
            with self._session.begin() as s:
                s.add_all(rows)

    def events(self, run_id: str, after: int = -1) -> list[EventRecord]:
        query = select(EventRow).where(EventRow.run_id == run_id, EventRow.seq > after)
        with self._session() as s:
            return [EventRecord(r.seq, r.kind, r.node_id, r.data, r.t)
                    for r in s.scalars(query.order_by(EventRow.seq))]


def _graph_record(row: GraphRow) -> GraphRecord:
    return GraphRecord(row.id, row.name, row.latest_version, row.created_at, row.updated_at)


def _run_record(row: RunRow) -> RunRecord:
    return RunRecord(row.id, row.graph_id, row.version, row.status, row.inputs, row.outputs,
                     row.error, row.error_node, row.created_at, row.finished_at)

