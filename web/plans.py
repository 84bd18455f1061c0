"""Compiled plans per stored graph version, compiled once (in a worker thread) and kept."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from transformers import PreTrainedTokenizerBase

import compiler
import graph
from compiler import Plan
from graph import Workflow
from web.store import GraphVersion


class PlanCache:
    def __init__(self, tokenizer: PreTrainedTokenizerBase, capacity: int = 64) -> None:
        self.tokenizer = tokenizer
        self.capacity = capacity
        self._plans: OrderedDict[tuple[str, int], Plan] = OrderedDict()
        self._lock = asyncio.Lock()

    async def plan(self, version: GraphVersion) -> Plan:
        """The Plan of a stored graph version; raises graph.GraphError when it does not
        compile."""
        key = (version.id, version.version)
        if key not in self._plans:
            workflow = await asyncio.to_thread(graph.parse, version.source)
            self.remember(version, await self.compile(workflow))
        self._plans.move_to_end(key)
        return self._plans[key]

    async def compile(self, workflow: Workflow) -> Plan:
        """Compile a workflow; raises graph.GraphError when it is invalid."""
        async with self._lock:  # one compile at a time: the tokenizer is shared
            return await asyncio.to_thread(self._compile, workflow)

    def remember(self, version: GraphVersion, plan: Plan) -> None:
        self._plans[(version.id, version.version)] = plan
        while len(self._plans) > self.capacity:
            self._plans.popitem(last=False)

    def forget(self, graph_id: str) -> None:
        for key in [k for k in self._plans if k[0] == graph_id]:
            del self._plans[key]

    def _compile(self, workflow: Workflow) -> Plan:
        try:
            return compiler.compile(workflow, tokenizer=self.tokenizer)
        except graph.GraphError:
            raise
        except ValueError as exc:  # e.g. a template problem found only while compiling
            raise graph.GraphError([graph.Problem(path="$", message=str(exc))]) from exc
