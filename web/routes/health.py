"""/health (never behind the API key) and /metrics in Prometheus' text format."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response, status
from fastapi.responses import PlainTextResponse

from web.checked_route import CheckedRoute
from web.deps import ServicesDep
from web.errors import RETRY_STORE_S
from web.schemas import HealthPublic, ReplicaPublic
from web.services import Services

health_router = APIRouter(tags=["health"])
metrics_router = APIRouter(tags=["health"], route_class=CheckedRoute)

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@health_router.get("/health", response_model=HealthPublic, responses={503: {
    "model": HealthPublic, "description": "The store cannot be used now; see Retry-After"}})
async def health(services: ServicesDep, response: Response) -> HealthPublic:
    """Answers as soon as the model is loaded, and throughout any load; 503 (status
    "degraded") while the store cannot be written."""
    problem = services.store.health()
    if problem is not None:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers["Retry-After"] = str(RETRY_STORE_S)
    return HealthPublic(status="ok" if problem is None else "degraded",
                        model=services.model_name, runs_in_flight=services.runs.in_flight,
                        uptime_s=round(time.monotonic() - services.started_at, 3),
                        storage=problem or "ok", unsaved_runs=len(services.runs.unsaved),
                        replicas=_replicas(services))


def _replicas(services: Services) -> list[ReplicaPublic] | None:
    pool = services.pool
    return [ReplicaPublic(**r.public()) for r in pool.replicas] if pool is not None else None


@metrics_router.get("/metrics", response_class=PlainTextResponse, responses={
    200: {"description": "Prometheus text format",
          "content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics(services: ServicesDep) -> PlainTextResponse:
    replicas = ([r.public() for r in services.pool.replicas] if services.pool is not None
                else [])
    text = services.metrics.render(services.engine.stats(), services.runs.in_flight,
                                   services.slots.in_use, replicas)
    return PlainTextResponse(text, media_type=PROMETHEUS_TEXT)
