"""ASGI middleware: limits on what a request body may be (413, 408) and request counting
by method and route, each label from a fixed set."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.metrics import Metrics


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE,
                         detail=f"the request body is over {max_bytes} bytes")


class BodyTooSlow(HTTPException):
    def __init__(self, timeout_s: float) -> None:
        super().__init__(status.HTTP_408_REQUEST_TIMEOUT,
                         detail=f"the request body did not arrive within {timeout_s:g} s")


LINGER_BYTES = 4 << 20  # read past the limit before a 413, so the client can read it
LINGER_S = 1.0


class BodyLimit:
    """Counts a request's body bytes as the app reads them, chunked or not: past `max_bytes`
    the read raises BodyTooLarge (413), and a declared Content-Length over it raises before
    anything is read; Content-Length is never trusted to be the size. A body not complete
    `timeout_s` after its headers raises BodyTooSlow (408). An answer given before the body
    was read in full (a 405, a 401) first drains a body of modest size; one still unread
    after that closes the connection, so the rest is never read."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        has_body = declared not in (b"", b"0") or b"transfer-encoding" in headers
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        read = {"bytes": 0, "done": not has_body, "slow": False}
        declared_too_large = (declared.isdigit()
                              and int(declared) > self.max_bytes + LINGER_BYTES)

        async def drain() -> None:
            """Read (and drop) what is left of the body, up to LINGER_BYTES past the limit and
            for LINGER_S at most: a client still sending then reads the answer instead of a
            connection reset by a close with unread bytes (a lingering close)."""
            try:
                async with asyncio.timeout(LINGER_S):
                    while read["bytes"] <= self.max_bytes + LINGER_BYTES and not read["done"]:
                        message = await receive()
                        read["bytes"] += len(message.get("body", b""))
                        read["done"] = (message["type"] != "http.request"
                                        or not message.get("more_body"))
            except TimeoutError:
                pass

        async def refuse() -> Message:
            """Raise BodyTooLarge once a little more of the body is drained; a larger body is
            cut off unread."""
            await drain()
            raise BodyTooLarge(self.max_bytes)

        async def counted() -> Message:
            if read["done"]:  # an empty body, or the end of the body was read
                return await receive()
            if declared.isdigit() and int(declared) > self.max_bytes:
                if declared_too_large:
                    raise BodyTooLarge(self.max_bytes)
                return await refuse()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                read["slow"] = True
                raise BodyTooSlow(self.timeout_s) from None
            read["bytes"] += len(message.get("body", b""))
            read["done"] = message["type"] != "http.request" or not message.get("more_body")
            if read["bytes"] > self.max_bytes:
                return await refuse()
            return message

        async def closing_early(message: Message) -> None:
            if message["type"] == "http.response.start" and not read["done"]:
                if not read["slow"] and not declared_too_large:
                    await drain()
                if not read["done"]:
                    message = {**message, "headers": [*message.get("headers", []),
                                                      (b"connection", b"close")]}
            await send(message)

        await self.app(scope, counted, closing_early)


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class CountRequests:
    """Counts every answered request by method (any other name is "other"), route template
    (a path no route matches is "unmatched") and status, so a client cannot add series."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        answered: dict[str, Any] = {"code": 500}

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            self.metrics.count_request(method, path, answered["code"])
