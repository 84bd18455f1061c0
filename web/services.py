"""Everything a request handler may use, built once per server process in the app's
lifespan: settings, store, engine (the model is loaded once), tools, runs, plans, metrics,
and the lease under which the process owns its runs."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from transformers import PreTrainedTokenizerBase

from engine.api import EngineAPI
from executor import PlanRunner, WorkflowRuntime, load_tools
from web.drain import Drain
from web.lease import Lease
from web.limits import Slots
from web.metrics import Metrics
from web.plans import PlanCache
from web.runs import RunManager
from web.settings import Settings
from web.store import Store
from web.store_faults import StoreUnavailable

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
    lease: Lease
    metrics: Metrics = field(default_factory=Metrics)
    drain: Drain = field(default_factory=Drain)
    started_at: float = field(default_factory=time.monotonic)
    owns_engine: bool = False
    keeper: asyncio.Task[None] | None = None
    pool: ReplicaPool | None = None  # with replicas: the engines behind `engine` and `runs`

    @classmethod
    async def start(cls, settings: Settings, engine: EngineAPI | None = None,
                    metrics: Metrics | None = None, drain: Drain | None = None) -> Services:
        store = Store(settings.database_url)
        owns_engine = engine is None
        pool = None
        runtime: PlanRunner
        if engine is None and settings.replicas:
            pool, engine, runtime = await start_replicas(settings)
        else:
            if engine is None:
                engine = await build_engine(settings.model, settings.tokenizer)
            runtime = WorkflowRuntime(engine, load_tools(settings.tools, settings.allow_http))
        lease = Lease(store, settings.server_name, settings.lease_s)
        interrupted = lease.take()
        if interrupted:
            log.warning("marked %d runs interrupted (their server stopped during them)",
                        interrupted)
        slots = Slots(settings.max_concurrent_runs, settings.retry_after_s)
        runs = RunManager(store, runtime, settings, slots, lease.id)
        drain = drain or Drain()
        drain.on_over(runs.stop_all)
        services = cls(settings, store, engine, engine.tokenizer, engine.model_name, slots,
                       runs, PlanCache(engine.tokenizer), lease, metrics or Metrics(), drain,
                       owns_engine=owns_engine, pool=pool)
        services.keeper = asyncio.create_task(lease.keep(runs.retry_unsaved))
        return services

    async def stop(self) -> None:
        if self.keeper is not None:
            self.keeper.cancel()
        try:
            await self.runs.shutdown()
        except StoreUnavailable as exc:  # their lease runs out: the next server marks them
            log.error("could not mark this server's runs interrupted: %s", exc)
        self.lease.give_up()
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
                       tool_files=tuple(settings.tools),
                       allow_http=tuple(settings.allow_http))
    pool = ReplicaPool(spec, settings.replicas, settings.ray_address)
    await pool.start()
    return pool, RoutedEngine(pool), ClusterRuntime(pool)
