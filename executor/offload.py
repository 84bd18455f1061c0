"""Work that must not hold the event loop: rendering templates (within their budget) and
tokenizing what they render run in a worker thread, so the server's other requests, streams
and runs go on meanwhile. The thread sees the run's render budget (context variables are
copied into it).

The workers belong to the process, not to an event loop: a loop's default executor starts its
threads on first use, and a new thread waits for the GIL (held by the engine's step thread
for up to a switch interval) before its start returns, on the loop's thread. A process that
runs workflows under one `asyncio.run` after another (the library's `flowc.run`, a
benchmark) would pay that on the critical path of every batch."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

WORKERS = min(32, (os.cpu_count() or 1) + 4)  # what asyncio's default executor would start
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


async def off_loop(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` in a worker thread; its arguments must not change while it
    runs (pass a scope's `snapshot()`, not the scope)."""
    call = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_workers(), call)


def _workers() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="flowc-render")
    return _pool


def _forget_workers() -> None:
    """A forked child has none of its parent's threads."""
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_workers)
