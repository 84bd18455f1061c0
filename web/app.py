"""The FastAPI application: `create_app(settings, engine=None)`.

With no engine given, the app loads `settings.model` once at startup (the lifespan) and
closes it at shutdown. Runs left in flight by a process whose lease expired are marked
interrupted (see web/lease.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.api import EngineAPI, EngineError
from web.checked_route import CheckedRoute
from web.deps import KeyGuard
from web.drain import Drain
from web.editor import mount_editor
from web.errors import (
    InvalidInput,
    engine_error_response,
    http_error_response,
    invalid_input_response,
    store_unavailable_response,
    validation_error_response,
)
from web.metrics import Metrics
from web.middleware import BodyLimit, CountRequests
from web.responses import errors
from web.routes import examples, graphs, health, openai, responses, runs
from web.services import Services
from web.settings import Settings
from web.store_faults import StoreUnavailable

VERSION = "0.1.0"


def create_app(settings: Settings | None = None, engine: EngineAPI | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    metrics, drain = Metrics(), Drain()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await Services.start(settings, engine, metrics, drain)
        app.state.services = services
        sampler = asyncio.create_task(_sample_engine(services))
        try:
            yield
        finally:
            sampler.cancel()
            await services.stop()

    locked = settings.api_key is not None
    app = FastAPI(title="flowc", version=VERSION, lifespan=lifespan,
                  description="Upload, compile and run LLM workflows; OpenAI-compatible "
                              "completions on the same engine.",
                  # with a key the schema is served behind it and the browser docs are off
                  openapi_url=None if locked else "/openapi.json",
                  docs_url=None if locked else "/docs", redoc_url=None)
    app.add_exception_handler(InvalidInput, invalid_input_response)
    app.add_exception_handler(EngineError, engine_error_response)
    app.add_exception_handler(StoreUnavailable, store_unavailable_response)
    app.add_exception_handler(RequestValidationError, validation_error_response)
    app.add_exception_handler(StarletteHTTPException, http_error_response)
    app.state.drain = drain
    app.state.key_guard = KeyGuard(settings.api_key) if settings.api_key else None
    guarded = [Depends(app.state.key_guard)] if settings.api_key else []
    app.include_router(health.health_router)
    own = (health.metrics_router, graphs.router, examples.router, runs.router)
    if locked:
        own += (_schema_router(app),)
    routers = (*own, openai.router, responses.router)
    for router in routers:  # a route's own `responses=` take precedence
        stored = router in (graphs.router, runs.router)
        app.include_router(router, dependencies=guarded,
                           responses=_common_responses(bool(guarded), router in own, stored))
    app.state.route_methods = [(route.path_regex, route.methods) for router in
                               (health.health_router, *routers) for route in router.routes]
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       timeout_s=settings.read_timeout_s)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["*"], allow_headers=["*"])
    app.add_middleware(CountRequests, metrics=metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    mount_editor(app)
    return app


async def _sample_engine(services: Services, every_s: float = 1.0) -> None:
    """Feeds the tokens-per-second window between scrapes."""
    while True:
        services.metrics.sample(services.engine.stats())
        await asyncio.sleep(every_s)


def _schema_router(app: FastAPI) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=CheckedRoute)

    @router.get("/openapi.json")
    async def openapi_schema() -> JSONResponse:
        return JSONResponse(app.openapi())

    return router


def app_from_env() -> FastAPI:
    """For `uvicorn --factory web.app:app_from_env`: settings from FLOWC_* variables."""
    return create_app(Settings.from_env())


def _common_responses(guarded: bool, own: bool, stored: bool
                      ) -> dict[int | str, dict[str, Any]]:
    """What any route may answer: 401 behind a key; on flowc's own routes, 408, 413 and 422
    for a body that is slow, too large or not JSON (CheckedRoute reads every body); 503 where
    the store answers."""
    return errors(*([401] if guarded else []), *([408, 413, 422] if own else []),
                  *([503] if stored else []))


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the workflow format's definitions under components/schemas
    (the graph upload routes refer to #/components/schemas/Workflow)."""
    if app.openapi_schema:
        return app.openapi_schema
    import graph

    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    workflow = _rebase_refs(graph.json_schema())
    for name, definition in workflow.pop("$defs", {}).items():
        components[f"Workflow_{name}"] = definition
    workflow.pop("$schema", None)
    components["Workflow"] = workflow
    app.openapi_schema = schema
    return schema


def _rebase_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (v.replace("#/$defs/", "#/components/schemas/Workflow_")
                    if k == "$ref" and isinstance(v, str) else _rebase_refs(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase_refs(v) for v in node]
    return node
