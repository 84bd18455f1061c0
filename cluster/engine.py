"""`RoutedEngine`: the `EngineAPI` of a replica pool, for the OpenAI-compatible endpoints.

Each request goes to the replica its prompt's head routes to (`routing.prompt_key`), so
prompts that start alike meet their cached prefix. Requests and prefix handles remember their
replica, so `abort` and `release` reach the right one. Requests are not run again when a
replica dies: a caller that streamed part of a reply cannot take it back.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from typing import Any

from cluster.pool import ReplicaPool, ReplicaState
from cluster.routing import prompt_key
from engine.api import (
    ChoiceScores,
    EngineAPI,
    EngineStats,
    Generation,
    PrefixHandle,
    PromptScores,
    RequestError,
    SamplingParams,
    StreamChunk,
)


class RoutedEngine(EngineAPI):
    def __init__(self, pool: ReplicaPool) -> None:
        self.pool = pool
        self.described: dict[str, Any] = pool.describe
        self._where: dict[str, ReplicaState] = {}  # request id -> its replica
        self._handles: dict[int, tuple[ReplicaState, PrefixHandle]] = {}
        self._ids = itertools.count()
        self._closed = False

    @property
    def model_name(self) -> str:
        return str(self.described["model_name"])

    @property
    def tokenizer(self) -> Any:
        return self.described["tokenizer"]

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        return tuple(self.described["eos_token_ids"])

    @property
    def page_size(self) -> int:
        return int(self.described["page_size"])

    @property
    def max_context(self) -> int:
        return int(self.described["max_context"])

    def check(self, token_ids: Sequence[int], sampling: SamplingParams) -> None:
        """The replica's own check (grammars included), on the replica the prompt routes to."""
        ids = list(token_ids)
        try:
            self.pool.ask(self._key(ids), "check", ids, sampling)
        except RequestError:
            raise
        except Exception:  # no replica answered: the request itself finds one or fails there
            return

    async def prefill(self, token_ids: Sequence[int], priority: int = 0) -> PrefixHandle:
        ids = list(token_ids)
        replica, handle = await self.pool.call(
            self._key(ids), lambda r: self._prefill_on(r, ids, priority))
        local = PrefixHandle(next(self._ids), handle.token_ids, handle.cached_tokens)
        self._handles[local.handle_id] = (replica, handle)
        return local

    def release(self, handle: PrefixHandle) -> None:
        kept = self._handles.pop(handle.handle_id, None)
        if kept is not None:
            kept[0].actor.release.remote(kept[1])

    async def generate(self, token_ids: Sequence[int], sampling: SamplingParams,
                       priority: int = 0, request_id: str | None = None) -> Generation:
        ids, request_id = list(token_ids), request_id or f"routed-{next(self._ids)}"

        async def on(replica: ReplicaState) -> Generation:
            self._where[request_id] = replica
            try:
                return await replica.actor.generate.remote(ids, sampling, priority, request_id)
            finally:
                self._where.pop(request_id, None)

        return await self.pool.call(self._key(ids), on)

    async def stream(self, token_ids: Sequence[int], sampling: SamplingParams,
                     priority: int = 0, request_id: str | None = None
                     ) -> AsyncIterator[StreamChunk]:
        ids, request_id = list(token_ids), request_id or f"routed-{next(self._ids)}"

        async def on(replica: ReplicaState) -> AsyncIterator[StreamChunk]:
            self._where[request_id] = replica
            try:
                async for ref in replica.actor.stream.remote(ids, sampling, priority,
                                                             request_id):
                    yield await ref
            finally:
                self._where.pop(request_id, None)

        async for chunk in self.pool.stream(self._key(ids), on):
            yield chunk

    async def score(self, token_ids: Sequence[int], continuations: Sequence[Sequence[int]],
                    priority: int = 0) -> ChoiceScores:
        ids, tails = list(token_ids), [list(c) for c in continuations]
        return await self.pool.call(
            self._key(ids), lambda r: _awaited(r.actor.score.remote(ids, tails, priority)))

    async def score_prompt(self, token_ids: Sequence[int], top_logprobs: int = 0
                           ) -> PromptScores:
        ids = list(token_ids)
        return await self.pool.call(
            self._key(ids), lambda r: _awaited(r.actor.score_prompt.remote(ids, top_logprobs)))

    def abort(self, request_id: str) -> None:
        replica = self._where.get(request_id)
        if replica is not None:
            replica.actor.abort.remote(request_id)

    def stats(self) -> EngineStats:
        return self.pool.stats()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.pool.stop()

    def _key(self, token_ids: Sequence[int]) -> str:
        return prompt_key(token_ids, self.page_size)

    async def _prefill_on(self, replica: ReplicaState, ids: list[int], priority: int
                          ) -> tuple[ReplicaState, PrefixHandle]:
        return replica, await replica.actor.prefill.remote(ids, priority)


async def _awaited(ref: Any) -> Any:
    return await ref


__all__ = ["RoutedEngine"]
