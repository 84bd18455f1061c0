"""The route class of every API route (all but /health and the editor's page): before FastAPI
reads or parses anything, the server's key guard (`app.state.key_guard`, None without a key)
runs on the headers alone, so a request without the key is refused unread; then the
body is read under the size limit and, when it is JSON, parsed once here so that a parse
error names its position and a string that is not valid Unicode names its JSON path. Errors
are raised, so each route answers them in its own shape (JSON paths or OpenAI's envelope)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from web.deps import KeyGuard
from web.json_body import is_json, parse_json


class CheckedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            guard: KeyGuard | None = request.app.state.key_guard
            if guard is not None:
                guard.check_request(request)
            raw = await request.body()  # cached: FastAPI's handler reads the same bytes
            if raw and is_json(request.headers.get("content-type")):
                parse_json(raw)
            return await handler(request)

        return checked
