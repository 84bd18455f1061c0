"""Work that must not hold the event loop: rendering templates (within their budget) and
tokenizing what they render run in a worker thread, so the server's other requests, streams
and runs go on meanwhile. The thread sees the run's render budget (context variables are
copied into it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


async def off_loop(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` in a worker thread; its arguments must not change while it
    runs (pass a scope's `snapshot()`, not the scope)."""
    return await asyncio.to_thread(function, *args, **kwargs)
