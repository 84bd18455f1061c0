"""The store's answers: plain, frozen records, never ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web.db import GraphRow, RunRow


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


def graph_record(row: GraphRow) -> GraphRecord:
    return GraphRecord(row.id, row.name, row.latest_version, row.created_at, row.updated_at)


def run_record(row: RunRow) -> RunRecord:
    return RunRecord(row.id, row.graph_id, row.version, row.status, row.inputs, row.outputs,
                     row.error, row.error_node, row.created_at, row.finished_at)

