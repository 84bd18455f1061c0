"""The time and size budget of one rendering: a deadline that the sandbox checks at every
call, attribute, operator, filter and loop iteration, and a size that bounds the output as it
is produced and every value made on the way. Exceeding either stops the rendering there.

The budget in force is a context variable: a run sets its workflow's limits once
(`render_budget`), and each rendering takes a fresh deadline from them (`rendering`), in
whichever thread it runs."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT_S = 2.0
DEFAULT_MAX_CHARS = 1_000_000
YIELD_EVERY_S = 0.0005


class RenderLimitExceeded(Exception):
    """A rendering ran past its time or size budget; the message names the limit."""


class OutputBoundExceeded(RenderLimitExceeded):
    """A rendering's output ran past the bound its caller set, below the budget's."""


@dataclass(frozen=True)
class RenderBudget:
    """The limits of every rendering: `timeout_s` of work and `max_chars` of output (and of
    any one string, list or mapping made on the way)."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    max_chars: int = DEFAULT_MAX_CHARS


@dataclass
class Meter:
    """One rendering's use of its budget; its output may be bounded tighter (`max_output`)."""

    budget: RenderBudget
    max_output: int
    deadline: float
    written: int = field(default=0)
    next_yield: float = field(default=0.0)

    def check_time(self) -> None:
        """Stop past the deadline; and, every YIELD_EVERY_S, hand the interpreter lock to
        any thread waiting for it (the event loop's, when rendering in a worker thread),
        which would otherwise wait for the interpreter's switch interval at each turn."""
        now = time.monotonic()
        if now > self.deadline:
            raise RenderLimitExceeded(
                f"rendering took longer than limits.render_timeout_s "
                f"({self.budget.timeout_s:g} s) and was stopped")
        if now >= self.next_yield:
            time.sleep(0)
            self.next_yield = now + YIELD_EVERY_S

    def check_size(self, value: Any) -> Any:
        """`value`, after checking that it is not larger than the budget allows."""
        if isinstance(value, str | bytes | list | tuple | dict | set) and \
                len(value) > self.budget.max_chars:
            raise RenderLimitExceeded(self._too_large(f"a value of {len(value):,} items"))
        return value

    def check_width(self, width: int, what: str = "a width") -> None:
        """A width, count or length a call is about to fill."""
        if width > self.budget.max_chars:
            raise RenderLimitExceeded(self._too_large(f"{what} of {width:,}"))

    def write(self, chunk: Sized) -> None:
        self.written += len(chunk)
        if self.written > self.max_output < self.budget.max_chars:
            raise OutputBoundExceeded(f"the output exceeds {self.max_output:,} characters")
        if self.written > self.max_output:
            raise RenderLimitExceeded(self._too_large("the output"))

    def _too_large(self, what: str) -> str:
        return (f"{what} exceeds limits.max_render_chars ({self.budget.max_chars:,} "
                f"characters); stopped")


DEFAULT_BUDGET = RenderBudget()
_BUDGET: ContextVar[RenderBudget] = ContextVar("flowc_render_budget", default=DEFAULT_BUDGET)
_METER: ContextVar[Meter | None] = ContextVar("flowc_render_meter", default=None)


@contextmanager
def render_budget(budget: RenderBudget) -> Iterator[None]:
    """Renderings in this context (and in tasks and threads started from it) use `budget`."""
    token = _BUDGET.set(budget)
    try:
        yield
    finally:
        _BUDGET.reset(token)


@contextmanager
def rendering(max_output: int | None = None) -> Iterator[Meter]:
    """A fresh meter for one rendering: the budget's deadline from now, and its size (or
    `max_output` for the output, when smaller)."""
    budget = _BUDGET.get()
    bound = budget.max_chars if max_output is None else min(max_output, budget.max_chars)
    meter = Meter(budget, bound, time.monotonic() + budget.timeout_s)
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


def current_meter() -> Meter | None:
    """The meter of the rendering in progress in this context, if any."""
    return _METER.get()
