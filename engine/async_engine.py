"""`AsyncEngine`: the `EngineAPI` callers use, over one `LLMEngine` stepped in a background
thread.

Every call into the `LLMEngine` runs on that thread (submitted as a command), so the engine
stays single-threaded. Each request's outputs reach its caller's event loop through an
`asyncio.Queue`; a bad request raises its `RequestError` in the caller, a failing step fails
the requests it was running and the loop carries on. Closing aborts every request still
known, and anything submitted after raises `EngineOverloadedError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from engine import heap
from engine.api import (
    ChoiceScores,
    EngineAPI,
    EngineOverloadedError,
    EngineStats,
    Generation,
    PrefixHandle,
    PromptScores,
    RequestError,
    SamplingParams,
    StreamChunk,
)
from engine.config import EngineConfig
from engine.engine import LLMEngine
from engine.requests import StepOutput

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from engine.models.loader import LoadedModel

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[StreamChunk | BaseException]


class AsyncEngine(EngineAPI):
    def __init__(self, config: EngineConfig | None = None, *, engine: LLMEngine | None = None,
                 loaded: LoadedModel | None = None) -> None:
        self.engine = engine if engine is not None else LLMEngine(config, loaded=loaded)
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._subscribers: dict[str, _Subscriber] = {}
        self._live_handles: set[int] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._stats = self.engine.stats()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="flowc-engine", daemon=True)
        self._thread.start()
        self._settled = self.engine.warmup_s > 0  # a serving start, warmed up
        if self._settled:
            heap.settle()

    @classmethod
    def from_config(cls, config: EngineConfig | None = None) -> AsyncEngine:
        return cls(config)

    @property
    def model_name(self) -> str:
        return self.engine.model_name

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.engine.tokenizer

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        return self.engine.eos_token_ids

    @property
    def page_size(self) -> int:
        return self.engine.page_size

    @property
    def max_context(self) -> int:
        return self.engine.max_context

    def check(self, token_ids: Seq[int], sampling: SamplingParams) -> None:
        if self._closed:
            raise EngineOverloadedError("the engine is closed")
        self.engine.check(token_ids, sampling)

    # -- the background loop ------------------------------------------------------------------
    def _run(self) -> None:
        while not self._closed:
            self._wake.clear()
            self._run_commands()
            if self.engine.has_unfinished():
                self._step()
            else:
                self._stats = self.engine.stats()
                self._wake.wait()
        self._run_commands()  # submitted before closing: they are aborted next
        self._abort_all()

    def _run_commands(self) -> None:
        while True:
            try:
                self._commands.get_nowait()()
            except queue.Empty:
                return

    def _abort_all(self) -> None:
        """Closing: every request still known ends with finish_reason "abort"."""
        for request_id in list(self.engine.requests):
            self.engine.abort(request_id)
        for out in self.engine.step():
            self._deliver(out)
        self._stats = self.engine.stats()

    def _step(self) -> None:
        try:
            outputs = self.engine.step()
        except Exception as error:  # a broken step fails its requests, not the engine
            log.exception("engine step failed")
            for request_id in list(self.engine.requests):
                self.engine.abort(request_id)
                self._send(request_id, error, last=True)
            self.engine.step()  # drain the abort outputs
            return
        self._stats = self.engine.stats()  # before delivering: a woken caller reads fresh counters
        for out in outputs:
            self._deliver(out)

    def _deliver(self, out: StepOutput) -> None:
        item = out.error if out.error is not None else StreamChunk(out.token_ids, out.text,
                                                                   out.finished)
        self._send(out.request_id, item, last=out.finished is not None)

    def _send(self, request_id: str, item: StreamChunk | BaseException, last: bool) -> None:
        sub = self._subscribers.pop(request_id, None) if last else \
            self._subscribers.get(request_id)
        if sub is None:
            return
        try:
            sub.loop.call_soon_threadsafe(sub.queue.put_nowait, item)
        except RuntimeError:  # the caller's loop is gone
            self._subscribers.pop(request_id, None)
            self.engine.abort(request_id)

    def _call(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Run `fn` on the engine thread; await its result (or its exception)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def command() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as error:
                    future.set_exception(error)

        self._post(command)
        return asyncio.wrap_future(future)

    def _post(self, command: Callable[[], None]) -> None:
        with self._lock:  # a command is queued before closing, or refused
            if self._closed:
                raise EngineOverloadedError("the engine is closed")
            self._commands.put(command)
        self._wake.set()

    # -- EngineAPI ----------------------------------------------------------------------------
    async def _submit(self, add: Callable[[str], str], request_id: str | None
                      ) -> tuple[str, asyncio.Queue]:
        [queued] = await self._submit_many(lambda ids: [add(ids[0])], [request_id])
        return queued

    async def _submit_many(self, add: Callable[[list[str]], list[str]],
                           request_ids: Seq[str | None]) -> list[tuple[str, asyncio.Queue]]:
        """Subscribe to requests under `request_ids` (None: a fresh id), then `add` them
        together on the engine thread."""
        ids = [rid or f"async-{next(self._ids)}" for rid in request_ids]
        loop = asyncio.get_running_loop()
        subs = [_Subscriber(loop, asyncio.Queue()) for _ in ids]

        def register() -> list[str]:
            self._subscribers.update(zip(ids, subs, strict=True))
            try:
                return add(ids)
            except BaseException:
                for rid in ids:
                    self._subscribers.pop(rid, None)
                raise

        await self._call(register)
        return [(rid, sub.queue) for rid, sub in zip(ids, subs, strict=True)]

    async def _chunks(self, request_id: str, chunks: asyncio.Queue) -> AsyncIterator[StreamChunk]:
        finished = False
        try:
            while not finished:
                item = await chunks.get()
                if isinstance(item, BaseException):
                    raise item
                finished = item.finished is not None
                yield item
        finally:
            if not finished and not self._closed:
                self.abort(request_id)

    async def stream(self, token_ids: Seq[int], sampling: SamplingParams, priority: int = 0,
                     request_id: str | None = None) -> AsyncIterator[StreamChunk]:
        ids = list(token_ids)
        request_id, chunks = await self._submit(
            lambda rid: self.engine.add_request(ids, sampling, priority, rid), request_id)
        async for chunk in self._chunks(request_id, chunks):
            yield chunk

    async def generate(self, token_ids: Seq[int], sampling: SamplingParams, priority: int = 0,
                       request_id: str | None = None) -> Generation:
        async for chunk in self.stream(token_ids, sampling, priority, request_id):
            if chunk.finished is not None:
                return chunk.finished
        raise RuntimeError("the request ended without a result")

    async def _wait(self, request_id: str, chunks: asyncio.Queue) -> Generation:
        async for chunk in self._chunks(request_id, chunks):
            if chunk.finished is not None:
                return chunk.finished
        raise RuntimeError("the request ended without a result")

    async def prefill(self, token_ids: Seq[int], priority: int = 0) -> PrefixHandle:
        ids = list(token_ids)
        request_id, chunks = await self._submit(
            lambda rid: self.engine.add_prefill(ids, priority, rid), None)
        finished = await self._wait(request_id, chunks)
        if finished.finish_reason != "stop":  # only closing aborts a prefill
            raise EngineOverloadedError("the engine closed before the prefill finished")
        handle = await self._call(lambda: self.engine.handles.pop(request_id))
        with self._lock:
            self._live_handles.add(handle.handle_id)
        return handle

    def release(self, handle: PrefixHandle) -> None:
        with self._lock:
            if handle.handle_id not in self._live_handles:
                raise RequestError(f"prefix handle {handle.handle_id} is not pinned "
                                   "(released twice?)")
            self._live_handles.discard(handle.handle_id)
        self._post(lambda: self.engine.release(handle))

    async def score(self, token_ids: Seq[int], continuations: Seq[Seq[int]],
                    priority: int = 0) -> ChoiceScores:
        prefix, conts = list(token_ids), [list(c) for c in continuations]
        if not conts:
            return ChoiceScores([], 0)

        def add(ids: list[str]) -> list[str]:
            return [ids[0], *self.engine.add_score_group(prefix, conts, priority, ids[1:],
                                                         root_id=ids[0])]

        queued = await self._submit_many(add, [None] * (len(conts) + 1))
        root, *scored = await asyncio.gather(*(self._wait(rid, chunks)
                                              for rid, chunks in queued))
        return ChoiceScores([sum(g.logprobs or []) for g in scored], root.cached_tokens)

    async def score_prompt(self, token_ids: Seq[int], top_logprobs: int = 0) -> PromptScores:
        ids = list(token_ids)
        if len(ids) < 2:
            return PromptScores([], [] if top_logprobs else None)
        request_id, chunks = await self._submit(
            lambda rid: self.engine.add_score(ids[:1], ids[1:], 0, rid, top_logprobs), None)
        scored = await self._wait(request_id, chunks)
        return PromptScores(list(scored.logprobs or []), scored.top_logprobs)

    async def clear_prefix_cache(self) -> int:
        """Forget every cached prefix not in use; return the pages freed."""
        return await self._call(self.engine.clear_prefix_cache)

    def abort(self, request_id: str) -> None:
        self._post(lambda: self.engine.abort(request_id))

    def stats(self) -> EngineStats:
        return self._stats

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        self._thread.join(timeout=30)
        if self._settled:
            heap.unsettle()

    async def __aenter__(self) -> AsyncEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
