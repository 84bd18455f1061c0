"""OpenAI's error envelope on the OpenAI-compatible routes: `{"error": {"message", "type",
"param", "code"}}` with OpenAI's statuses, so its clients raise their typed exceptions.

`OpenAIRoute` is the route class of the OpenAI router: whatever a handler or its dependencies
raise (invalid bodies, the engine's refusals, a missing key, a full server) is answered in
this shape there, while flowc's own routes keep their JSON-path errors. Inside a stream the
same body goes out as one `data:` event before the stream ends (`stream_error`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from engine.api import (
    ConstraintError,
    EngineError,
    EngineOverloadedError,
    PromptTooLongError,
    RequestError,
)
from web.checked_route import CheckedRoute
from web.drain import ShuttingDown
from web.errors import RETRY_ENGINE_S, InvalidInput

log = logging.getLogger("flowc.web.openai")

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          408: "invalid_request_error",
          413: "invalid_request_error", 429: "rate_limit_error", 503: "server_error",
          500: "server_error"}
_CODES = {401: "invalid_api_key", 404: "not_found", 408: "request_timeout",
          413: "request_too_large", 429: "rate_limit_exceeded",
          503: "engine_overloaded", 500: "internal_error"}


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorPublic(BaseModel):
    """OpenAI's error envelope."""

    error: ErrorDetail


OPENAI_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIErrorPublic, "description": description} for status, description in (
        (400, "Invalid request (param names the field; code context_length_exceeded for an "
              "over-long prompt)"),
        (401, "Missing or wrong API key"), (404, "No such model"),
        (408, "The request body did not arrive in time"), (413, "Request body too large"),
        (429, "Too many requests in flight; see Retry-After"),
        (503, "The engine cannot take the request now (see Retry-After), or the server is "
              "shutting down"))}


class OpenAIError(Exception):
    """An answer in OpenAI's error shape."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param
        self.code = code if code is not None else _CODES.get(status)
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": _TYPES.get(self.status, "error"),
                          "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def invalid(param: str, message: str, code: str | None = None) -> OpenAIError:
    """A 400 naming the request field at fault."""
    return OpenAIError(400, message, param=param, code=code)


def context_too_long(prompt_tokens: int, max_tokens: int, context: int) -> OpenAIError:
    """Worded so that clients recognise a context overflow by its message too (LangChain looks
    for "prompt is too long", litellm for "maximum context length")."""
    return OpenAIError(
        400, f"The prompt is too long: this model's maximum context length is {context} tokens, "
             f"and you requested {prompt_tokens + max_tokens} tokens ({prompt_tokens} in the "
             f"messages, {max_tokens} in the completion). Please reduce the length of the "
             "messages or completion.", param="messages", code="context_length_exceeded")


def as_openai_error(exc: Exception) -> OpenAIError:
    """The envelope of any exception a handler may raise (unknown ones are a 500)."""
    if isinstance(exc, OpenAIError):
        return exc
    if isinstance(exc, RequestValidationError):
        return _validation(exc)
    if isinstance(exc, InvalidInput):
        problem = exc.problems[0]
        return invalid(problem.path, "; ".join(p.message for p in exc.problems))
    if isinstance(exc, PromptTooLongError):
        return OpenAIError(400, str(exc), param="messages", code="context_length_exceeded")
    if isinstance(exc, ConstraintError):
        return OpenAIError(400, str(exc), param="response_format", code="invalid_grammar")
    if isinstance(exc, RequestError):
        return OpenAIError(400, str(exc))
    if isinstance(exc, ShuttingDown):
        return OpenAIError(503, str(exc), code="server_shutting_down")
    if isinstance(exc, EngineOverloadedError):
        return OpenAIError(503, str(exc), headers={"Retry-After": str(RETRY_ENGINE_S)})
    if isinstance(exc, HTTPException):
        return OpenAIError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))
    if isinstance(exc, EngineError):
        return OpenAIError(500, str(exc))
    log.error("an OpenAI request failed", exc_info=exc)
    return OpenAIError(500, "internal error")


def stream_error(exc: Exception) -> dict[str, Any]:
    """The `data:` event that ends a stream which failed after its first byte."""
    return as_openai_error(exc).body()


def _validation(exc: RequestValidationError) -> OpenAIError:
    errors = exc.errors()
    first = errors[0] if errors else {}
    locs = [[str(p) for p in e.get("loc", ()) if p != "body"] for e in errors] or [[]]
    # the errors of one union's branches share the field's path: that is the param
    param = _param(os.path.commonprefix(locs) or locs[0])
    if first.get("type") == "extra_forbidden":
        return invalid(param, f"'{param}' is not supported by this server: remove it")
    if first.get("type") == "json_invalid":
        return invalid("", str(first.get("msg")))
    message = "; ".join(f"{_param(loc) or 'body'}: {e.get('msg')}"
                        for loc, e in zip(locs, errors, strict=False))
    return invalid(param, message)


def _param(loc: list[str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path


class OpenAIRoute(CheckedRoute):
    """A route whose every error is answered in OpenAI's envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # every failure becomes an envelope
                return as_openai_error(exc).response()

        return answer

