"""Everything a request handler may use, built once per server process in the app's
lifespan: settings, store, engine (the model is loaded once), tools, runs, plans, metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from transformers import PreTrainedTokenizerBase

from engine.api import EngineAPI
from executor import PlanRunner, WorkflowRuntime, load_tools
from web.limits import Slots
from web.metrics import Metrics
from web.plans import PlanCache
from web.runs import RunManager
from web.settings import Settings
from web.store import Store

if TYPE_CHECKING:
    from cluster import ReplicaPool

log = logging.getLogger("flowc.web")


@dataclass
class Services:
    settings: Settings
    store: Store
    engine: EngineAPI
    tokenizer: PreTrainedTokenizerBase
    model_name: str
    slots: Slots
    runs: RunManager
    plans: PlanCache
    metrics: Metrics = field(default_factory=Metrics)
    started_at: float = field(default_factory=time.monotonic)
    owns_engine: bool = False
    pool: ReplicaPool | None = None  # with replicas: the engines behind `engine` and `runs`

    @classmethod
    async def start(cls, settings: Settings, engine: EngineAPI | None = None,
                    metrics: Metrics | None = None) -> Services:
        store = Store(settings.database_url)
        interrupted = store.mark_interrupted(settings.server_name)
        if interrupted:
            log.warning("marked %d runs interrupted (the server stopped during them)",
                        interrupted)
        owns_engine = engine is None
        pool = None
        runtime: PlanRunner
        if engine is None and settings.replicas:
            pool, engine, runtime = await start_replicas(settings)
        else:
            if engine is None:
                engine = await build_engine(settings.model, settings.tokenizer)
            runtime = WorkflowRuntime(engine, load_tools(settings.tools))
        slots = Slots(settings.max_concurrent_runs, settings.retry_after_s)
        runs = RunManager(store, runtime, settings, slots)
        return cls(settings, store, engine, engine.tokenizer, engine.model_name, slots, runs,
                   PlanCache(engine.tokenizer), metrics or Metrics(), owns_engine=owns_engine,
                   pool=pool)

    async def stop(self) -> None:
        await self.runs.shutdown()
        if self.owns_engine:
            self.engine.close()
        if self.pool is not None:
            from cluster import shutdown_ray

            shutdown_ray()
        self.store.close()


async def build_engine(model: str, tokenizer: str | None = None) -> EngineAPI:
    """Load the model once, in a worker thread so the loop stays free; the engine starts its
    own thread."""
    from engine import AsyncEngine, EngineConfig

    config = EngineConfig(model=model, tokenizer=tokenizer)
    return await asyncio.to_thread(AsyncEngine.from_config, config)


async def start_replicas(settings: Settings) -> tuple[ReplicaPool, EngineAPI, PlanRunner]:
    """`settings.replicas` engines on Ray, each with the server's tools: the pool, an engine
    that routes requests by prompt prefix, and a runtime that routes runs by plan."""
    from cluster import ClusterRuntime, ReplicaPool, ReplicaSpec, RoutedEngine

    spec = ReplicaSpec(model=settings.model, tokenizer=settings.tokenizer,
                       tool_files=tuple(settings.tools))
    pool = ReplicaPool(spec, settings.replicas, settings.ray_address)
    await pool.start()
    return pool, RoutedEngine(pool), ClusterRuntime(pool)
