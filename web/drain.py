"""Graceful shutdown. When the server is asked to stop it stops accepting connections and
calls `Drain.begin(grace_s)`; work in flight has `grace_s` seconds to end by itself. Then
`over` is set: runs still going are stopped, and every open stream sends its final event
(a run's `error` event, an OpenAI error chunk and `[DONE]`) and ends; a request waiting for
a whole generation is answered 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class ShuttingDown(Exception):
    """Raised into a stream when the grace is over."""

    def __init__(self) -> None:
        super().__init__("the server is shutting down: retry on a running server")


class Drain:
    def __init__(self) -> None:
        self.over = asyncio.Event()
        self._on_over: list[Callable[[], None]] = []

    def on_over(self, callback: Callable[[], None]) -> None:
        self._on_over.append(callback)

    def begin(self, grace_s: float) -> None:
        asyncio.get_running_loop().call_later(grace_s, self._end)

    def _end(self) -> None:
        self.over.set()
        for callback in self._on_over:
            callback()

    async def before_over(self, work: Awaitable[Result]) -> Result:
        """The result of `work`, or ShuttingDown (and `work` cancelled) once the grace is
        over."""
        task, over = asyncio.ensure_future(work), asyncio.ensure_future(self.over.wait())
        try:
            await asyncio.wait((task, over), return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                raise ShuttingDown()
            return task.result()
        finally:
            over.cancel()
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def until_over(self, items: AsyncIterator[Item]) -> AsyncIterator[Item]:
        """`items` until the grace is over, then ShuttingDown; `items` is closed either way."""
        over = asyncio.ensure_future(self.over.wait())
        step: asyncio.Future[Item] | None = None
        try:
            while True:
                step = asyncio.ensure_future(anext(items))
                await asyncio.wait((step, over), return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    raise ShuttingDown()
                try:
                    item = step.result()
                except StopAsyncIteration:
                    return
                yield item
        finally:
            over.cancel()
            if step is not None and not step.done():
                step.cancel()
                await asyncio.gather(step, return_exceptions=True)
            if isinstance(items, AsyncGenerator):
                await items.aclose()
