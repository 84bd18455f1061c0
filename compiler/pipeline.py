"""A pipeline is a tuple of passes run in order, with a hook called after each pass (what
`flowc compile --trace-passes` prints)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from compiler.context import CompileContext


class Pass(Protocol):
    name: str

    def apply(self, ctx: CompileContext) -> CompileContext: ...

    def summary(self, ctx: CompileContext) -> str: ...


PassHook = Callable[[Pass, CompileContext, float], None]


@dataclass(frozen=True)
class Pipeline:
    passes: tuple[Pass, ...]

    def run(self, ctx: CompileContext, hook: PassHook | None = None) -> CompileContext:
        for compiler_pass in self.passes:
            start = time.perf_counter()
            ctx = compiler_pass.apply(ctx)
            if hook is not None:
                hook(compiler_pass, ctx, time.perf_counter() - start)
        return ctx


def default_pipeline() -> Pipeline:
    from compiler.passes.dataflow import DataflowPass
    from compiler.passes.diagnostics import DiagnosticsPass
    from compiler.passes.estimate import EstimatePass
    from compiler.passes.prefixes import PrefixesPass
    from compiler.passes.schedule import SchedulePass
    from compiler.passes.segments import SegmentsPass
    from compiler.passes.structure import StructurePass
    from compiler.passes.validate import ValidatePass

    return Pipeline(
        (
            ValidatePass(),
            DataflowPass(),
            SegmentsPass(),
            PrefixesPass(),
            StructurePass(),
            SchedulePass(),
            EstimatePass(),
            DiagnosticsPass(),
        )
    )
