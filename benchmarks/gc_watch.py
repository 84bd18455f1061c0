"""How long Python's cycle collector stopped the process while a benchmark run was timed.

A collection holds the GIL, so it stalls the event loop and the engine's step thread alike; a
full (generation 2) collection scans every object the process holds that is not frozen.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass


@dataclass
class GcWatch:
    seconds: float = 0.0
    full_collections: int = 0
    _started: float = 0.0

    def __enter__(self) -> GcWatch:
        self.seconds, self.full_collections = 0.0, 0
        gc.callbacks.append(self._on_collect)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._on_collect)

    def _on_collect(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.full_collections += info["generation"] == 2
