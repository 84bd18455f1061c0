"""A local Ray with two replicas of the embedded model, shared by this folder's tests that
need one and shut down after them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cluster import ReplicaPool, ReplicaSpec, shutdown_ray


@dataclass
class LivePool:
    pool: ReplicaPool
    loop: asyncio.AbstractEventLoop


@pytest.fixture(scope="module")
def live_pool() -> Iterator[LivePool]:
    loop = asyncio.new_event_loop()
    pool = ReplicaPool(ReplicaSpec(device="cpu"), replicas=2, num_cpus=2)
    try:
        loop.run_until_complete(pool.start())
        yield LivePool(pool, loop)
    finally:
        loop.run_until_complete(pool.shutdown())
        shutdown_ray()
        loop.close()
