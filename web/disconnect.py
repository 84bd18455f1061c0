"""Work that ends with its client: a non-streaming answer is computed in a task that the
client's disconnect cancels, so its engine requests are aborted and its slots freed (a
stream notices its client itself, when a write fails)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from fastapi import HTTPException, Request

T = TypeVar("T")
CLIENT_CLOSED = 499  # nginx's status for a request its client abandoned; nobody receives it


class ClientDisconnected(HTTPException):
    def __init__(self) -> None:
        super().__init__(CLIENT_CLOSED, detail="the client closed the connection")


async def unless_disconnected(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """The result of `work`; raise ClientDisconnected if the client leaves first (`work`
    is cancelled then, and has finished its clean-up when this returns)."""
    task = asyncio.create_task(work)
    gone = asyncio.create_task(_disconnect(request))
    try:
        await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait((task,))
    if task.cancelled():
        raise ClientDisconnected
    return task.result()


async def _disconnect(request: Request) -> None:
    """Returns when the client disconnects (the body has been read: nothing else comes)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
