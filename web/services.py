"""Everything a request handler may use, built once per server process in the app's
lifespan: settings, store, engine (the model is loaded once), tools, runs, plans, metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from engine.api import EngineAPI
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
    tokenizer: Any
    model_name: str
    slots: Slots
    runs: RunManager
    plans: PlanCache
    metrics: Metrics = field(default_factory=Metrics)
    started_at: float = field(default_factory=time.monotonic)
    owns_engine: bool = False

    @classmethod
    async def start(cls, settings: Settings, engine: EngineAPI | None = None,
                    metrics: Metrics | None = None) -> Services:
        store = Store(settings.database_url)
        interrupted = store.mark_interrupted(settings.server_name)
        if interrupted:
            log.warning("marked %d runs interrupted (the server stopped during them)",
                        interrupted)
        owns_engine = engine is None
        if engine is None:
            engine = await build_engine(settings.model)
        tokenizer = getattr(engine, "tokenizer", None)
        if tokenizer is None:
            raise RuntimeError(f"model {settings.model!r} comes without a tokenizer: the "
                               "service needs one to compile graphs and apply chat templates")
        model_name = str(getattr(engine, "model_name", settings.model))
        slots = Slots(settings.max_concurrent_runs, settings.retry_after_s)
        runs = RunManager(store, engine, tokenizer, load_tools(settings.tools), settings, slots)
        return cls(settings, store, engine, tokenizer, model_name, slots, runs,
                   PlanCache(tokenizer), metrics or Metrics(), owns_engine=owns_engine)

    async def stop(self) -> None:
        await self.runs.shutdown()
        if self.owns_engine:
            close = getattr(self.engine, "close", None) or getattr(self.engine, "shutdown", None)
            if close is not None:
                result = close()
                if asyncio.iscoroutine(result):
                    await result
        self.store.close()


async def build_engine(model: str) -> EngineAPI:
    """Load the model once (in a worker thread, so the loop stays free) and start the engine."""
    from engine.config import EngineConfig
    from engine.engine import AsyncEngine

    engine = await asyncio.to_thread(AsyncEngine.from_config, EngineConfig(model=model))
    start = getattr(engine, "start", None)
    if start is not None:
        result = start()
        if asyncio.iscoroutine(result):
            await result
    return engine


def load_tools(paths: list[str]) -> Any:
    from engine.tools import ToolRegistry

    registry = ToolRegistry.with_builtins()
    for path in paths:
        registry.load_module(path)
    return registry
