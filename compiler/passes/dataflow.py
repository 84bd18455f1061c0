"""Reads and writes of every step, from the jinja2 AST of its templates and expressions."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass

from compiler.context import CompileContext, Flow
from compiler.graphapi import reads_of, writes_of
from compiler.sites import runs_per_call


@dataclass(frozen=True)
class DataflowPass:
    name: str = "dataflow"

    def apply(self, ctx: CompileContext) -> CompileContext:
        flows: dict[str, Flow] = {}
        writers: dict[str, list[str]] = defaultdict(list)
        runs: dict[str, int] = {}
        for step_id, site in ctx.sites.items():
            writes = tuple(sorted(writes_of(site.node)))
            flows[step_id] = Flow(tuple(sorted(reads_of(site.node))), writes)
            runs[step_id] = runs_per_call(ctx.workflow, site)
            if not site.maps:
                for variable in writes:
                    writers[variable].append(step_id)
        frozen_writers = {v: tuple(steps) for v, steps in writers.items()}
        return dataclasses.replace(ctx, flows=flows, writers=frozen_writers, runs=runs)

    def summary(self, ctx: CompileContext) -> str:
        reads = sum(len(f.reads) for f in ctx.flows.values())
        return f"{reads} reads, {len(ctx.writers)} variables written at top level"
