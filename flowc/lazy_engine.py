"""An engine that loads its model when a run first needs it: a run that fails, or routes to its
end, before any `llm` or `select` node never loads the model.

Until then it answers from what it was given: the model's tokenizer (loaded without the model,
by the `tokenizers` library where the folder has a tokenizer.json: the plan is compiled and the
prompts rendered with it, the same ids as the model's own), its name and page size. Work ahead
of need (a prefill at a negative priority, as the executor's eager prefill of shared prefixes
asks) waits for the model without loading it; any other request loads it, on a worker thread so
the run's event loop (its tools, its other branches) goes on meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from engine import EngineError, EngineOverloadedError
from engine.api import (
    DEFAULT_PAGE_SIZE,
    ChoiceScores,
    EngineAPI,
    EngineStats,
    Generation,
    PrefixHandle,
    PromptScores,
    SamplingParams,
    StreamChunk,
)


def lazy_engine(model: str, open_engine: Callable[[], EngineAPI], page_size: int | None
                ) -> LazyEngine:
    """The lazy engine of `model` ("default" or a model folder): its tokenizer loads now."""
    from compiler import load_compile_tokenizer
    from engine import DEFAULT_MODEL_NAME

    default = model == "default"
    tokenizer = load_compile_tokenizer(None if default else model)
    name = DEFAULT_MODEL_NAME if default else Path(model).name
    return LazyEngine(open_engine, tokenizer, name, page_size or DEFAULT_PAGE_SIZE)


class LazyEngine(EngineAPI):
    def __init__(self, open_engine: Callable[[], EngineAPI], tokenizer: Any, model_name: str,
                 page_size: int) -> None:
        self._open_engine = open_engine
        self._tokenizer = tokenizer
        self._model_name = model_name
        self._page_size = page_size
        self._engine: EngineAPI | None = None
        self._lock = threading.Lock()
        self._loading: asyncio.Future[EngineAPI] | None = None
        self._wanted = asyncio.Event()  # set by the first request that needs the model
        self._closed = False

    @property
    def model_loaded(self) -> bool:
        """Whether a request has loaded the model yet."""
        return self._engine is not None

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        return self._opened().eos_token_ids

    @property
    def page_size(self) -> int:
        return self._page_size

    @property
    def max_context(self) -> int:
        return self._opened().max_context

    def check(self, token_ids: Sequence[int], sampling: SamplingParams) -> None:
        self._opened().check(token_ids, sampling)

    async def prefill(self, token_ids: Sequence[int], priority: int = 0) -> PrefixHandle:
        engine = await (self._loaded_by_others() if priority < 0 else self._load())
        return await engine.prefill(token_ids, priority)

    def release(self, handle: PrefixHandle) -> None:
        if self._engine is not None:  # a handle comes from the loaded engine only
            self._engine.release(handle)

    async def generate(self, token_ids: Sequence[int], sampling: SamplingParams,
                       priority: int = 0, request_id: str | None = None) -> Generation:
        engine = await self._load()
        return await engine.generate(token_ids, sampling, priority, request_id)

    async def stream(self, token_ids: Sequence[int], sampling: SamplingParams,
                     priority: int = 0, request_id: str | None = None
                     ) -> AsyncIterator[StreamChunk]:
        engine = await self._load()
        async for chunk in engine.stream(token_ids, sampling, priority, request_id):
            yield chunk

    async def score(self, token_ids: Sequence[int], continuations: Sequence[Sequence[int]],
                    priority: int = 0) -> ChoiceScores:
        engine = await self._load()
        return await engine.score(token_ids, continuations, priority)

    async def score_prompt(self, token_ids: Sequence[int], top_logprobs: int = 0
                           ) -> PromptScores:
        engine = await self._load()
        return await engine.score_prompt(token_ids, top_logprobs)

    def abort(self, request_id: str) -> None:
        if self._engine is not None:  # before loading, no request reached the model
            self._engine.abort(request_id)

    def stats(self) -> EngineStats:
        return self._engine.stats() if self._engine is not None else EngineStats()

    def close(self) -> None:
        self._closed = True
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
        if self._engine is not None:
            self._engine.close()

    def _opened(self) -> EngineAPI:
        """The engine, loaded now on the caller's thread if no request has loaded it."""
        with self._lock:
            if self._closed:
                raise EngineOverloadedError("the engine is closed")
            if self._engine is None:
                self._engine = self._load_model()
            if self._closed:  # closed while it loaded
                self._engine.close()
                raise EngineOverloadedError("the engine is closed")
            return self._engine

    def _load_model(self) -> EngineAPI:
        try:
            return self._open_engine()
        except (OSError, ValueError) as exc:
            raise EngineError(f"cannot load model {self._model_name!r}: {exc}") from exc

    def _load(self) -> asyncio.Future[EngineAPI]:
        """The engine, loaded on a worker thread by the first request that needs it."""
        if self._loading is None:
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._opened))
            self._wanted.set()
        return asyncio.shield(self._loading)

    async def _loaded_by_others(self) -> EngineAPI:
        await self._wanted.wait()
        return await self._load()
