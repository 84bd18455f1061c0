"""Invalid input, answered 422 with every problem: `{"errors": [{path, node_id, message}]}`.
FastAPI's own request validation errors get the same shape, and so do the requests the engine
refuses (`engine.api.RequestError`); an engine that cannot take a request now answers 503, and
so does a store that cannot be written (a full disk, a deleted or unreachable database)."""

from __future__ import annotations

from fastapi import Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.api import EngineError, EngineOverloadedError
from web.schemas import ErrorsPublic, ProblemPublic
from web.store_faults import StoreUnavailable

RETRY_ENGINE_S = 1
RETRY_STORE_S = 5
SHOWN_ID_CHARS = 64


def shown_id(identifier: str) -> str:
    """An id quoted in a message, cut to `SHOWN_ID_CHARS` (an answer never echoes a whole
    hostile id back)."""
    if len(identifier) > SHOWN_ID_CHARS:
        return repr(identifier[:SHOWN_ID_CHARS]) + f"... ({len(identifier)} characters)"
    return repr(identifier)


class InvalidInput(Exception):
    def __init__(self, problems: list[ProblemPublic]) -> None:
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems

    @classmethod
    def one(cls, path: str, message: str) -> InvalidInput:
        return cls([ProblemPublic(path=path, message=message)])


def invalid_input_response(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    return _errors(exc.problems)


def validation_error_response(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [ProblemPublic(path=_path(error.get("loc", ())), message=str(error.get("msg")))
                for error in exc.errors()]
    return _errors(problems)


def engine_error_response(_request: Request, exc: Exception) -> JSONResponse:
    """The engine's refusal, once for every route: overloaded is 503, the rest is the
    request's fault (422)."""
    assert isinstance(exc, EngineError)
    if isinstance(exc, EngineOverloadedError):
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": str(RETRY_ENGINE_S)})
    return _errors([ProblemPublic(path="$", message=str(exc))])


def store_unavailable_response(_request: Request, exc: Exception) -> JSONResponse:
    """Nothing was stored: the client may send the same request again later."""
    assert isinstance(exc, StoreUnavailable)
    return JSONResponse({"detail": f"{exc}; nothing was stored, retry later"},
                        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(RETRY_STORE_S)})


def _errors(problems: list[ProblemPublic]) -> JSONResponse:
    body = ErrorsPublic(errors=problems).model_dump(mode="json")
    return JSONResponse(body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _path(loc: tuple | list) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "$"


async def http_error_response(request: Request, exc: Exception) -> Response:
    """FastAPI's answer, except that a 405 lists in Allow every method the path takes
    (one route per method would otherwise name only the first)."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code != status.HTTP_405_METHOD_NOT_ALLOWED:
        return await http_exception_handler(request, exc)
    path = request.url.path
    methods = {m for pattern, route_methods in request.app.state.route_methods
               if pattern.match(path) for m in route_methods}
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                        headers={"Allow": ", ".join(sorted(methods))})
