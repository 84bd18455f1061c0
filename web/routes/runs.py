"""Runs: start a run of a stored graph, read it, stream its events (SSE), cancel it, resume
it after an interruption."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, status
from fastapi.responses import StreamingResponse

from compiler import Plan
from graph import InputError, resolve_inputs
from web.checked_route import CheckedRoute
from web.deps import PlansDep, RunsDep, StoreDep
from web.errors import InvalidInput, shown_id
from web.responses import errors
from web.routes.graphs import compiled
from web.schemas import (
    ProblemPublic,
    RunCreate,
    RunCreatedPublic,
    RunPublic,
    RunsPublic,
    timestamp,
)
from web.store import EventRecord, RunRecord, Store

router = APIRouter(prefix="/v1", tags=["runs"], route_class=CheckedRoute)

SSE_CONTENT = {"text/event-stream": {"schema": {
    "type": "object", "required": ["data"],
    "properties": {"id": {"type": "string"}, "data": {"type": "string"},
                   "event": {"enum": ["run_start", "node_start", "token", "node_end", "run_end",
                                      "error"]}}}}}


@router.post("/graphs/{graph_id}/runs", status_code=status.HTTP_202_ACCEPTED,
             response_model=RunCreatedPublic, responses=errors(404, 413, 422, 429))
async def start_run(graph_id: str, body: RunCreate, store: StoreDep, plans: PlansDep,
                    runs: RunsDep) -> RunCreatedPublic:
    """Start a run of a stored graph with `inputs`; follow it at /v1/runs/{run_id}."""
    found = store.get_graph(graph_id, body.version)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no graph {shown_id(graph_id)}"
                            + (f" with version {body.version}" if body.version else ""))
    plan = await compiled(plans, found)
    _check_inputs(plan, body.inputs)
    run_id = runs.start(found.id, found.version, plan, body.inputs)
    return RunCreatedPublic(run_id=run_id, status="queued")


@router.get("/runs", response_model=RunsPublic, responses=errors(422))
async def list_runs(store: StoreDep, graph_id: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0) -> RunsPublic:
    """Runs, oldest first, without their traces."""
    data = [run_public(r, None) for r in store.list_runs(graph_id, limit, offset)]
    return RunsPublic(data=data, count=store.count_runs(graph_id=graph_id))


@router.get("/runs/{run_id}", response_model=RunPublic, responses=errors(404))
async def get_run(run_id: str, store: StoreDep, runs: RunsDep) -> RunPublic:
    """A run's status, outputs, error and (once finished) trace."""
    record = runs.get(run_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no run {shown_id(run_id)}")
    return run_public(record, store.get_trace(run_id))


EVENT_ID = r"^(-1|[0-9]{1,9})$"  # an event's seq as SSE sends it; plain digits only


@router.get("/runs/{run_id}/events", response_class=StreamingResponse,
            responses={200: {"description": "Server-sent events: one per run event",
                             "content": SSE_CONTENT}, **errors(404)})
async def run_events(run_id: str, store: StoreDep, runs: RunsDep,
                     last_event_id: Annotated[str | None, Header(pattern=EVENT_ID)] = None
                     ) -> StreamingResponse:
    """The run's events as server-sent events, from the first (or after Last-Event-ID) to
    run_end. Each has `id` (its seq), `event` (its kind) and JSON `data`."""
    _run(store, run_id)
    after = -1 if last_event_id is None else int(last_event_id)
    return StreamingResponse(_sse(runs.events(run_id, after)), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/runs/{run_id}/cancel", status_code=status.HTTP_202_ACCEPTED,
             response_model=RunCreatedPublic, responses=errors(404, 409))
async def cancel_run(run_id: str, store: StoreDep, runs: RunsDep) -> RunCreatedPublic:
    """Ask a run in flight to stop; it ends with status "cancelled"."""
    record = _run(store, run_id)
    if not runs.cancel(run_id):
        raise HTTPException(status.HTTP_409_CONFLICT,
                            detail=f"run {shown_id(run_id)} already finished: {record.status}")
    return RunCreatedPublic(run_id=run_id, status=record.status)  # type: ignore[arg-type]


@router.post("/runs/{run_id}/resume", status_code=status.HTTP_202_ACCEPTED,
             response_model=RunCreatedPublic, responses=errors(404, 409, 429))
async def resume_run(run_id: str, store: StoreDep, plans: PlansDep,
                     runs: RunsDep) -> RunCreatedPublic:
    """Resume an interrupted run from its last finished node (its stored checkpoint), under
    the same id: its events go on after the ones stored, and its outputs are those the
    uninterrupted run would have given under greedy decoding. Nodes that were running when
    it stopped run again, whole."""
    record = _run(store, run_id)
    if record.status != "interrupted":
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"run {run_id!r} is "
                            f"{record.status}: only an interrupted run can be resumed")
    found = store.get_graph(record.graph_id, record.version)
    if found is None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"run {run_id!r} cannot be "
                            f"resumed: its graph {record.graph_id!r} version {record.version} "
                            "was deleted")
    if not runs.resume(run_id, await compiled(plans, found)):
        raise HTTPException(status.HTTP_409_CONFLICT,
                            detail=f"run {run_id!r} is no longer interrupted")
    return RunCreatedPublic(run_id=run_id, status="queued")


def run_public(record: RunRecord, trace: dict[str, Any] | None) -> RunPublic:
    return RunPublic(id=record.id, graph_id=record.graph_id, version=record.version,
                     status=record.status,  # type: ignore[arg-type]
                     inputs=record.inputs, outputs=record.outputs, error=record.error,
                     error_node=record.error_node, created_at=timestamp(record.created_at),
                     finished_at=timestamp(record.finished_at), trace=trace)


def _run(store: Store, run_id: str) -> RunRecord:
    record = store.get_run(run_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no run {shown_id(run_id)}")
    return record


def _check_inputs(plan: Plan, inputs: dict[str, Any]) -> None:
    """The executor's own input checks, answered 422 before a run is stored."""
    try:
        resolve_inputs(plan.interface.inputs, inputs)
    except InputError as exc:
        raise InvalidInput([ProblemPublic(path=f"inputs.{exc.name}", node_id=exc.node_id,
                                          message=str(exc))]) from exc


async def _sse(events: AsyncIterator[EventRecord]) -> AsyncIterator[str]:
    async for event in events:
        payload = {"seq": event.seq, "kind": event.kind, "node_id": event.node_id,
                   "data": event.data, "t": event.t}
        yield f"id: {event.seq}\nevent: {event.kind}\ndata: {json.dumps(payload)}\n\n"
