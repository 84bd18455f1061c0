"""Everything a request handler may use, built once per server process in the app's
lifespan: settings, store, engine (the model is loaded once), tools, runs, plans, metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from transformers import PreTrainedTokenizerBase

from engine.api import EngineAPI
from executor import WorkflowRuntime, load_tools
from web.drain import Drain
from web.limits import Slots
from web.metrics import Metrics
from web.plans import PlanCache
from web.runs import RunManager
from web.settings import Settings
from web.store import Store

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
    drain: Drain = field(default_factory=Drain)
    started_at: float = field(default_factory=time.monotonic)
    owns_engine: bool = False

    @classmethod
    async def start(cls, settings: Settings, engine: EngineAPI | None = None,
                    metrics: Metrics | None = None, drain: Drain | None = None) -> Services:
        store = Store(settings.database_url)
        interrupted = store.mark_interrupted(settings.server_name)
        if interrupted:
            log.warning("marked %d runs interrupted (the server stopped during them)",
                        interrupted)
        owns_engine = engine is None
        if engine is None:
            engine = await build_engine(settings.model, settings.tokenizer)
        slots = Slots(settings.max_concurrent_runs, settings.retry_after_s)
        runtime = WorkflowRuntime(engine, load_tools(settings.tools))
        runs = RunManager(store, runtime, settings, slots)
        drain = drain or Drain()
        drain.on_over(runs.stop_all)
        return cls(settings, store, engine, engine.tokenizer, engine.model_name, slots, runs,
                   PlanCache(engine.tokenizer), metrics or Metrics(), drain,
                   owns_engine=owns_engine)

    async def stop(self) -> None:
        await self.runs.shutdown()
        if self.owns_engine:
            self.engine.close()
        self.store.close()


async def build_engine(model: str, tokenizer: str | None = None) -> EngineAPI:
    """Load the model once, in a worker thread so the loop stays free; the engine starts its
    own thread."""
    from engine import AsyncEngine, EngineConfig

    config = EngineConfig(model=model, tokenizer=tokenizer)
    return await asyncio.to_thread(AsyncEngine.from_config, config)
