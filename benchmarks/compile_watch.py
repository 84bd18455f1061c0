"""What a benchmark run compiled or captured on the GPU while it was being timed.

Triton calls `knobs.runtime.jit_post_compile_hook` whenever a kernel variant is built or loaded
from its on-disk cache for the first time in the process; the engine's decode graphs are
counted before and after. A run that finds either non-empty paid for it inside its latency.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from engine import LLMEngine


@dataclass
class CompileWatch:
    engine: LLMEngine | None
    compiled: list[str] = field(default_factory=list)
    _graphs: int = 0
    _started: float = 0.0

    def __enter__(self) -> CompileWatch:
        self.compiled.clear()
        self._started = time.perf_counter()
        self._graphs = self._graph_count()
        knobs = _triton_runtime_knobs()
        if knobs is not None:
            knobs.jit_post_compile_hook = self._on_compile
        return self

    def __exit__(self, *_: object) -> None:
        knobs = _triton_runtime_knobs()
        if knobs is not None:
            knobs.jit_post_compile_hook = None

    @property
    def graphs_captured(self) -> int:
        return self._graph_count() - self._graphs

    def _on_compile(self, *, repr: str, **_: Any) -> bool:
        # `repr` names the kernel, its launch options and each argument's specialized type.
        at = time.perf_counter() - self._started
        self.compiled.append(f"{at:.2f}s {repr}")
        return False

    def _graph_count(self) -> int:
        graphs = getattr(self.engine.runner, "decode_graphs", None) if self.engine else None
        return len(graphs.graphs) if graphs is not None else 0


def _triton_runtime_knobs() -> Any:
    try:
        from triton import knobs
    except ImportError:
        return None
    return knobs.runtime
