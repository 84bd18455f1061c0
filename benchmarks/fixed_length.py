"""An EngineAPI that makes every free-text generation run to its `max_tokens` (EOS ignored),
so a benchmark's modes decode the same number of tokens whatever the model says.
Constrained requests (choices, regex, JSON schema) are passed through unchanged. While
`floor` is set, every prompt, scored continuation and generation goes into it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from least_prefill import PrefillFloor

from engine.api import (
    ChoiceScores,
    EngineAPI,
    EngineStats,
    Generation,
    PrefixHandle,
    SamplingParams,
    StreamChunk,
)

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def fixed_length(sampling: SamplingParams) -> SamplingParams:
    constrained = (sampling.regex is not None or sampling.json_schema is not None
                   or sampling.choices is not None)
    if constrained:
        return sampling
    return dataclasses.replace(sampling, ignore_eos=True, stop=(), stop_token_ids=())


class FixedLengthEngine(EngineAPI):
    def __init__(self, engine: EngineAPI) -> None:
        self.inner = engine
        self.floor: PrefillFloor | None = None

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.inner.tokenizer

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        return self.inner.eos_token_ids

    @property
    def page_size(self) -> int:
        return self.inner.page_size

    @property
    def max_context(self) -> int:
        return self.inner.max_context

    def check(self, token_ids: Sequence[int], sampling: SamplingParams) -> None:
        self.inner.check(token_ids, fixed_length(sampling))

    async def prefill(self, token_ids: Sequence[int], priority: int = 0) -> PrefixHandle:
        return await self.inner.prefill(token_ids, priority)

    def release(self, handle: PrefixHandle) -> None:
        self.inner.release(handle)

    async def generate(self, token_ids: Sequence[int], sampling: SamplingParams,
                       priority: int = 0, request_id: str | None = None) -> Generation:
        if self.floor is not None:
            self.floor.prompt(token_ids)
        generation = await self.inner.generate(token_ids, fixed_length(sampling), priority,
                                               request_id)
        if self.floor is not None:
            self.floor.generation(token_ids, generation.token_ids)
        return generation

    async def stream(self, token_ids: Sequence[int], sampling: SamplingParams, priority: int = 0,
                     request_id: str | None = None) -> AsyncIterator[StreamChunk]:
        if self.floor is not None:
            self.floor.prompt(token_ids)
        async for chunk in self.inner.stream(token_ids, fixed_length(sampling), priority,
                                             request_id):
            if chunk.finished is not None and self.floor is not None:
                self.floor.generation(token_ids, chunk.finished.token_ids)
            yield chunk

    async def score(self, token_ids: Sequence[int], continuations: Sequence[Sequence[int]],
                    priority: int = 0) -> ChoiceScores:
        if self.floor is not None:
            self.floor.prompt(token_ids)
            self.floor.continuations(continuations)
        return await self.inner.score(token_ids, continuations, priority)

    def abort(self, request_id: str) -> None:
        self.inner.abort(request_id)

    def stats(self) -> EngineStats:
        return self.inner.stats()

    def close(self) -> None:
        self.inner.close()
