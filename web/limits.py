"""Admission control: a fixed number of generation slots (runs and completion requests in
flight). A request that finds none free is answered 429 with Retry-After, never queued
without bound."""

from __future__ import annotations

from fastapi import HTTPException, status


class SlotsFull(HTTPException):
    def __init__(self, limit: int, retry_after_s: int) -> None:
        super().__init__(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"the server is busy: {limit} runs and completions are in flight; "
                   f"retry in {retry_after_s} s",
            headers={"Retry-After": str(retry_after_s)},
        )


class Slots:
    """Counts generation work in flight. Single event loop: no lock needed."""

    def __init__(self, limit: int, retry_after_s: int = 2) -> None:
        if limit < 1:
            raise ValueError(f"the concurrency limit must be at least 1, got {limit}")
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.in_use = 0

    def acquire(self, count: int = 1) -> None:
        """Take `count` slots (a request that makes several generations takes one for each)
        or raise SlotsFull (a 429)."""
        if count < 1:
            raise ValueError(f"take at least one slot, not {count}")
        if self.in_use + count > self.limit:
            raise SlotsFull(self.limit, self.retry_after_s)
        self.in_use += count

    def release(self, count: int = 1) -> None:
        if not 0 < count <= self.in_use:
            raise RuntimeError(f"released {count} slots but {self.in_use} are in use")
        self.in_use -= count
