"""The error answers every route may give, declared once for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from web.schemas import ErrorsPublic, MessagePublic

_DESCRIPTIONS = {
    401: "Missing or wrong API key",
    404: "No such resource",
    408: "The request body did not arrive in time",
    409: "The resource is not in a state that allows this",
    413: "Request body too large",
    422: "Invalid input: every problem, with its JSON path and node id",
    429: "Too many runs in flight; see Retry-After",
    503: "The store cannot be used now (a full disk, a deleted or unreachable database): "
         "nothing was stored; see Retry-After",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"model": ErrorsPublic if code == 422 else MessagePublic,
               "description": _DESCRIPTIONS[code]}
        for code in codes
    }
