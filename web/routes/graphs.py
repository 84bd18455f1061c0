"""/v1/graphs: upload (JSON body or file), versions, listing, deletion, the format's schema,
checking a workflow without storing it, and compiling a stored graph into its plan."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import graph
from compiler import Plan
from graph import MapNode, Node, Problem, Workflow
from web.checked_route import CheckedRoute
from web.deps import PlansDep, SettingsDep, StoreDep, ToolNamesDep
from web.errors import InvalidInput, shown_id
from web.json_body import check_text
from web.responses import errors
from web.schemas import (
    MAX_VERSION,
    CheckPublic,
    GraphDetailPublic,
    GraphPublic,
    GraphsPublic,
    GraphSummaryPublic,
    ProblemPublic,
    VersionPublic,
    VersionsPublic,
    timestamp,
)
from web.settings import Settings
from web.store import GraphVersion
from web.tool_check import missing_tools

router = APIRouter(prefix="/v1", tags=["graphs"], route_class=CheckedRoute)

WORKFLOW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A workflow in flowc's JSON format, as the body or as an uploaded file",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Workflow"}},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}}}},
        },
    }
}
Version = Annotated[int | None, Query(ge=1, le=MAX_VERSION,
                                      description="A version; the latest if unset")]


@router.post("/graphs", status_code=status.HTTP_201_CREATED, response_model=GraphPublic,
             responses=errors(413, 422), openapi_extra=WORKFLOW_BODY)
async def create_graph(request: Request, store: StoreDep, settings: SettingsDep,
                       plans: PlansDep, tools: ToolNamesDep) -> GraphPublic:
    """Validate and compile a workflow and store it as version 1 of a new graph."""
    source, workflow, warnings = await _read_workflow(request, settings, tools)
    plan = await _compile(plans, workflow)
    name = workflow.name
    stored = store.add_graph(name, source)
    plans.remember(stored, plan)
    return GraphPublic(id=stored.id, version=stored.version, name=name, warnings=warnings)


@router.put("/graphs/{graph_id}", response_model=GraphPublic,
            responses=errors(404, 413, 422), openapi_extra=WORKFLOW_BODY)
async def update_graph(graph_id: str, request: Request, store: StoreDep,
                       settings: SettingsDep, plans: PlansDep, tools: ToolNamesDep
                       ) -> GraphPublic:
    """Validate and compile a workflow and store it as the next version of a graph."""
    _found(store.get_graph(graph_id), graph_id)
    source, workflow, warnings = await _read_workflow(request, settings, tools)
    plan = await _compile(plans, workflow)
    name = workflow.name
    stored = _found(store.add_version(graph_id, name, source), graph_id)
    plans.remember(stored, plan)
    return GraphPublic(id=graph_id, version=stored.version, name=name, warnings=warnings)


@router.get("/graphs", response_model=GraphsPublic, responses=errors(422))
async def list_graphs(store: StoreDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                      offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0) -> GraphsPublic:
    data = [GraphSummaryPublic(id=g.id, name=g.name, latest_version=g.latest_version,
                               created_at=timestamp(g.created_at),
                               updated_at=timestamp(g.updated_at))
            for g in store.list_graphs(limit, offset)]
    return GraphsPublic(data=data, count=store.count_graphs())


@router.get("/graphs/{graph_id}", response_model=GraphDetailPublic, responses=errors(404, 422))
async def get_graph(graph_id: str, store: StoreDep, version: Version = None) -> GraphDetailPublic:
    found = _found(store.get_graph(graph_id, version), graph_id, version)
    return GraphDetailPublic(id=found.id, version=found.version, name=found.name,
                             created_at=timestamp(found.created_at), graph=found.source)


@router.get("/graphs/{graph_id}/versions", response_model=VersionsPublic,
            responses=errors(404))
async def list_versions(graph_id: str, store: StoreDep) -> VersionsPublic:
    """A graph's versions, oldest first."""
    versions = store.list_versions(graph_id)
    if versions is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no graph {shown_id(graph_id)}")
    data = [VersionPublic(version=v.version, name=v.name, created_at=timestamp(v.created_at))
            for v in versions]
    return VersionsPublic(data=data, count=len(data))


@router.post("/check", response_model=CheckPublic, responses=errors(413, 422),
             openapi_extra=WORKFLOW_BODY)
async def check_graph(request: Request, settings: SettingsDep, plans: PlansDep,
                      tools: ToolNamesDep) -> CheckPublic:
    """Validate and compile a workflow without storing it: 422 with every problem an upload
    would meet, else its warnings. The editor checks drafts with it as the user edits."""
    _, workflow, warnings = await _read_workflow(request, settings, tools)
    await _compile(plans, workflow)
    return CheckPublic(warnings=warnings)


@router.delete("/graphs/{graph_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=errors(404), response_class=Response)
async def delete_graph(graph_id: str, store: StoreDep, plans: PlansDep) -> Response:
    """Delete a graph and all its versions; its runs stay readable."""
    if not store.delete_graph(graph_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no graph {shown_id(graph_id)}")
    plans.forget(graph_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/schema", response_model=dict[str, Any])
async def workflow_schema() -> dict[str, Any]:
    """The JSON Schema of flowc's workflow format."""
    return graph.json_schema()


PLAN_CONTENT = {
    "application/json": {"schema": {"type": "object"}},
    "text/plain": {"schema": {"type": "string"}},
    "text/vnd.graphviz": {"schema": {"type": "string"}},
    "text/html": {"schema": {"type": "string"}},
}


@router.post("/graphs/{graph_id}/compile", responses={
    200: {"description": "The plan, as JSON or rendered", "content": PLAN_CONTENT},
    **errors(404, 422)})
async def compile_graph(graph_id: str, store: StoreDep, plans: PlansDep, version: Version = None,
                        format: Literal["json", "text", "dot", "html"] = "json") -> Response:
    """Compile a stored graph into its execution plan."""
    found = _found(store.get_graph(graph_id, version), graph_id, version)
    plan = await compiled(plans, found)
    if format == "json":
        return JSONResponse(plan.to_dict())
    from compiler.render import render

    text = render(plan, format)
    if format == "html":
        return HTMLResponse(text)
    media = "text/vnd.graphviz" if format == "dot" else "text/plain"
    return PlainTextResponse(text, media_type=media)


async def compiled(plans: PlansDep, found: GraphVersion) -> Plan:
    """The plan of a stored graph version; a compile error becomes InvalidInput (422)."""
    try:
        return await plans.plan(found)
    except graph.GraphError as exc:
        raise InvalidInput([problem_public(p) for p in exc.problems]) from exc


async def _compile(plans: PlansDep, workflow: Workflow) -> Plan:
    try:
        return await plans.compile(workflow)
    except graph.GraphError as exc:
        raise InvalidInput([problem_public(p) for p in exc.problems]) from exc


def _found(found: GraphVersion | None, graph_id: str,
           version: int | None = None) -> GraphVersion:
    if found is None:
        what = f"no graph {shown_id(graph_id)}" + (f" with version {version}" if version else "")
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=what)
    return found


async def _read_workflow(request: Request, settings: Settings, tools: list[str]
                         ) -> tuple[dict[str, Any], Workflow, list[ProblemPublic]]:
    """The uploaded workflow as stored JSON, as a model, and its warnings; InvalidInput if
    bad (or if it names a tool this server lacks and the server is strict)."""
    raw = await _upload_bytes(request)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput.one("$", f"the workflow is not UTF-8 text: {exc.reason} at byte "
                                    f"{exc.start}") from exc
    try:
        workflow, warnings = graph.load_with_warnings(text)
    except graph.GraphError as exc:
        raise InvalidInput([problem_public(p) for p in exc.problems]) from exc
    nodes = count_nodes(workflow.nodes)
    if nodes > settings.max_graph_nodes:
        raise InvalidInput([ProblemPublic(
            path="nodes", message=f"the graph has {nodes} nodes; this server takes at most "
                                  f"{settings.max_graph_nodes}")])
    source = json.loads(text)
    check_text(source)  # a JSON body was checked already; a file or other type is here
    missing = missing_tools(workflow, tools, settings.strict_tools)
    if settings.strict_tools and missing:
        raise InvalidInput(missing)
    return source, workflow, [problem_public(p) for p in warnings] + missing


async def _upload_bytes(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return await request.body()
    try:
        form = await request.form()
    except (StarletteHTTPException, ValueError) as exc:
        raise InvalidInput.one("$", "the body is not valid multipart form data") from exc
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise InvalidInput([ProblemPublic(
            path="file", message="upload the workflow as a file in the form field 'file'")])
    return await upload.read()


def count_nodes(nodes: Sequence[Node]) -> int:
    total = 0
    for node in nodes:
        total += 1
        if isinstance(node, MapNode):
            total += count_nodes(node.body.nodes)
    return total


def problem_public(problem: Problem) -> ProblemPublic:
    return ProblemPublic(path=problem.path or "$", node_id=problem.node_id,
                         message=problem.message, severity=problem.severity)
