"""Work off the event loop: a worker thread that sees the caller's context variables, from
workers that outlive the event loop that first used them."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from executor.offload import WORKERS, off_loop

budget: contextvars.ContextVar[str] = contextvars.ContextVar("budget", default="none")


async def _where(label: str) -> tuple[threading.Thread, str]:
    budget.set(label)
    return await off_loop(lambda: (threading.current_thread(), budget.get()))


def test_the_worker_sees_the_callers_context_variables() -> None:
    results = asyncio.run(_batch(8))
    assert [label for _, label in results] == [f"run {i}" for i in range(8)]
    assert threading.current_thread() not in {thread for thread, _ in results}


def test_workers_outlive_the_event_loop_that_started_them() -> None:
    started = asyncio.run(_every_worker())
    assert len(started) == WORKERS and all(thread.is_alive() for thread in started)
    for _ in range(3):  # no thread started again: every call lands on a running worker
        assert asyncio.run(_every_worker()) == started


async def _batch(size: int) -> list[tuple[threading.Thread, str]]:
    return await asyncio.gather(*(_where(f"run {i}") for i in range(size)))


async def _every_worker() -> set[threading.Thread]:
    """The workers' threads, each made to take one call (all wait until all have one)."""
    everyone = threading.Barrier(WORKERS, timeout=30)

    def meet() -> threading.Thread:
        everyone.wait()
        return threading.current_thread()

    return set(await asyncio.gather(*(off_loop(meet) for _ in range(WORKERS))))


def test_an_exception_reaches_the_caller() -> None:
    def fail() -> None:
        raise ValueError("bad template")

    with pytest.raises(ValueError, match="bad template"):
        asyncio.run(off_loop(fail))
