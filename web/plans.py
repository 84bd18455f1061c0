"""Compiled plans per stored graph version, compiled once (in a worker thread) and kept."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from web.store import GraphVersion


class PlanCache:
    def __init__(self, tokenizer: Any, capacity: int = 64) -> None:
        self.tokenizer = tokenizer
        self.capacity = capacity
        self._plans: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._lock = asyncio.Lock()

    async def plan(self, graph: GraphVersion) -> Any:
        """The Plan of `graph`; raises graph.GraphError when it does not compile."""
        key = (graph.id, graph.version)
        if key not in self._plans:
            self.remember(graph, await self.compile(graph.source))
        self._plans.move_to_end(key)
        return self._plans[key]

    async def compile(self, source: dict[str, Any]) -> Any:
        """Compile a workflow's JSON; raises graph.GraphError when it is invalid."""
        async with self._lock:  # one compile at a time: the tokenizer is shared
            return await asyncio.to_thread(self._compile, source)

    def remember(self, graph: GraphVersion, plan: Any) -> None:
        self._plans[(graph.id, graph.version)] = plan
        while len(self._plans) > self.capacity:
            self._plans.popitem(last=False)

    def forget(self, graph_id: str) -> None:
        for key in [k for k in self._plans if k[0] == graph_id]:
            del self._plans[key]

    def _compile(self, source: dict[str, Any]) -> Any:
        import compiler
        import graph

        try:
            return compiler.compile(graph.load(source), tokenizer=self.tokenizer)
        except graph.GraphError:
            raise
        except ValueError as exc:  # e.g. a template problem found only while compiling
            raise graph.GraphError([graph.Problem(path="$", message=str(exc))]) from exc
