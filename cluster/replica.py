"""One replica: an engine and its workflow runtime in a Ray actor's process (made remote by
`cluster.pool`). Runs stream their events back and end with their `RunResult`; OpenAI-style
requests reach the engine directly."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

from cluster.spec import ReplicaSpec
from compiler import Plan
from engine.api import (
    ChoiceScores,
    EngineAPI,
    EngineStats,
    Generation,
    PrefixHandle,
    PromptScores,
    SamplingParams,
    StreamChunk,
)
from executor import RunEvent, RunResult, Schedule, WorkflowRuntime, load_tools


class Replica:
    def __init__(self, spec: ReplicaSpec) -> None:
        from engine import AsyncEngine, EngineConfig

        self.engine: EngineAPI = AsyncEngine.from_config(EngineConfig(**spec.engine_options()))
        tools = load_tools(spec.tool_files, spec.allow_http)
        self.runtime = WorkflowRuntime(self.engine, tools, Schedule(spec.schedule))
        self._plans: dict[str, Plan] = {}  # one Plan object a key: its executor is reused
        self._cancels: dict[str, asyncio.Event] = {}

    def describe(self) -> dict[str, Any]:
        """What the front process needs to tokenize and check requests as the engine does."""
        engine = self.engine
        return {"pid": os.getpid(), "model_name": engine.model_name,
                "tokenizer": engine.tokenizer, "eos_token_ids": engine.eos_token_ids,
                "page_size": engine.page_size, "max_context": engine.max_context}

    async def run(self, run_id: str, key: str, plan: Plan, inputs: dict[str, Any], seed: int,
                  events: bool) -> AsyncIterator[RunEvent | RunResult]:
        """The run's events (when `events`), then its RunResult."""
        plan = self._plans.setdefault(key, plan)
        queue: asyncio.Queue[RunEvent] = asyncio.Queue()
        cancel = self._cancels[run_id] = asyncio.Event()
        task = asyncio.ensure_future(self.runtime.run(
            plan, inputs, seed=seed, on_event=queue.put_nowait if events else None,
            cancel=cancel))
        try:
            while not task.done():
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait([task, getter], return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield getter.result()
                else:
                    getter.cancel()
            while not queue.empty():
                yield queue.get_nowait()
            yield task.result()
        finally:
            self._cancels.pop(run_id, None)
            if not task.done():
                cancel.set()
                await asyncio.gather(task, return_exceptions=True)

    def cancel(self, run_id: str) -> None:
        event = self._cancels.get(run_id)
        if event is not None:
            event.set()

    def check(self, token_ids: Sequence[int], sampling: SamplingParams) -> None:
        self.engine.check(token_ids, sampling)

    async def prefill(self, token_ids: Sequence[int], priority: int) -> PrefixHandle:
        return await self.engine.prefill(token_ids, priority)

    def release(self, handle: PrefixHandle) -> None:
        self.engine.release(handle)

    async def generate(self, token_ids: Sequence[int], sampling: SamplingParams, priority: int,
                       request_id: str | None) -> Generation:
        return await self.engine.generate(token_ids, sampling, priority, request_id)

    async def stream(self, token_ids: Sequence[int], sampling: SamplingParams, priority: int,
                     request_id: str | None) -> AsyncIterator[StreamChunk]:
        async for chunk in self.engine.stream(token_ids, sampling, priority, request_id):
            yield chunk

    async def score(self, token_ids: Sequence[int], continuations: Sequence[Sequence[int]],
                    priority: int = 0) -> ChoiceScores:
        return await self.engine.score(token_ids, continuations, priority)

    async def score_prompt(self, token_ids: Sequence[int], top_logprobs: int) -> PromptScores:
        return await self.engine.score_prompt(token_ids, top_logprobs)

    def abort(self, request_id: str) -> None:
        self.engine.abort(request_id)

    def stats(self) -> EngineStats:
        return self.engine.stats()

    def close(self) -> None:
        self.engine.close()
