"""/health (never behind the API key) and /metrics in Prometheus' text format."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from web.deps import ServicesDep
from web.schemas import HealthPublic, ReplicaPublic

health_router = APIRouter(tags=["health"])
metrics_router = APIRouter(tags=["health"])

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@health_router.get("/health", response_model=HealthPublic)
async def health(services: ServicesDep) -> HealthPublic:
    """Answers as soon as the model is loaded, and throughout any load."""
    pool = services.pool
    replicas = ([ReplicaPublic(**r.public()) for r in pool.replicas] if pool is not None
                else None)
    return HealthPublic(status="ok", model=services.model_name,
                        runs_in_flight=services.runs.in_flight,
                        uptime_s=round(time.monotonic() - services.started_at, 3),
                        replicas=replicas)


@metrics_router.get("/metrics", response_class=PlainTextResponse, responses={
    200: {"description": "Prometheus text format",
          "content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics(services: ServicesDep) -> PlainTextResponse:
    replicas = ([r.public() for r in services.pool.replicas] if services.pool is not None
                else [])
    text = services.metrics.render(services.engine.stats(), services.runs.in_flight,
                                   services.slots.in_use, replicas)
    return PlainTextResponse(text, media_type=PROMETHEUS_TEXT)
