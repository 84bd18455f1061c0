"""One real engine on the embedded default model (CPU, float32) for the whole session, and a
second one over the same loaded weights with its prefix cache off (the baseline)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

CPU = {"model": "default", "device": "cpu", "dtype": "float32", "num_pages": 512, "seed": 0}


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    from engine import AsyncEngine
    from engine.config import EngineConfig

    async_engine = AsyncEngine(EngineConfig(**CPU))
    yield async_engine
    async_engine.close()


@pytest.fixture(scope="session")
def baseline_engine(engine: Any) -> Iterator[Any]:
    from engine import AsyncEngine
    from engine.config import EngineConfig

    async_engine = AsyncEngine(EngineConfig(**CPU, enable_prefix_cache=False),
                               loaded=engine.engine.loaded)
    yield async_engine
    async_engine.close()
