"""Request and response bodies of the graph, run and health routes (pydantic, the boundary).

Families: `...Create` is what a client sends, `...Public` what the service answers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_VERSION = 2**31 - 1  # versions are 32-bit in every store
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]


def timestamp(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


class ProblemPublic(BaseModel):
    path: str = Field(description="JSON path of the offending value, e.g. nodes[2].prompt")
    node_id: str | None = None
    message: str
    severity: Literal["error", "warning"] = "error"


class ErrorsPublic(BaseModel):
    """A 422 answer: every problem found, not only the first."""

    errors: list[ProblemPublic]


class MessagePublic(BaseModel):
    detail: str


class GraphPublic(BaseModel):
    id: str
    version: int
    name: str
    warnings: list[ProblemPublic] = Field(default_factory=list)


class GraphSummaryPublic(BaseModel):
    id: str
    name: str
    latest_version: int
    created_at: datetime
    updated_at: datetime


class GraphsPublic(BaseModel):
    data: list[GraphSummaryPublic]
    count: int


class GraphDetailPublic(BaseModel):
    id: str
    version: int
    name: str
    created_at: datetime
    graph: dict[str, Any] = Field(description="The workflow in flowc's JSON format")


class VersionPublic(BaseModel):
    version: int
    name: str
    created_at: datetime


class VersionsPublic(BaseModel):
    data: list[VersionPublic]
    count: int


class CheckPublic(BaseModel):
    """A valid workflow checked without being stored: its warnings (a 422 lists errors)."""

    valid: Literal[True] = True
    warnings: list[ProblemPublic]


class ExamplePublic(BaseModel):
    name: str = Field(description="The example's file name without .json")
    title: str = Field(description="The workflow's name")
    description: str


class ExamplesPublic(BaseModel):
    data: list[ExamplePublic]
    count: int


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    inputs: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION,
                                description="Graph version; latest if unset")


class RunCreatedPublic(BaseModel):
    run_id: str
    status: RunStatus


class RunPublic(BaseModel):
    id: str
    graph_id: str
    version: int
    status: RunStatus
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None = None
    error: str | None = None
    error_node: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    trace: dict[str, Any] | None = None


class RunsPublic(BaseModel):
    data: list[RunPublic]
    count: int


class ReplicaPublic(BaseModel):
    """One engine replica of `flowc serve --replicas N`."""

    replica: int
    pid: int
    state: Literal["starting", "alive", "dead"]
    load: int  # runs and requests in flight on it
    restarts: int  # times its slot's replica died and was replaced
    prompt_tokens: int
    cached_tokens: int  # prompt tokens served from its prefix cache
    generated_tokens: int


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]  # degraded: the store cannot be used (answered 503)
    model: str
    runs_in_flight: int
    uptime_s: float
    storage: str = "ok"  # else what is wrong with the store
    unsaved_runs: int = 0  # finished runs whose final state the store has not taken yet
    replicas: list[ReplicaPublic] | None = None  # with --replicas: each replica's state
