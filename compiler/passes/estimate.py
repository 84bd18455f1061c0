"""Estimates: prefill tokens without and with prefix sharing, decode tokens (upper bound)
and the predicted critical path of the top-level DAG."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from compiler.context import CompileContext
from compiler.cost import call_tokens, decode_estimate
from compiler.plan import Estimate


@dataclass(frozen=True)
class EstimatePass:
    name: str = "estimate"

    def apply(self, ctx: CompileContext) -> CompileContext:
        assert ctx.schedule is not None
        naive = sum(
            ctx.runs[step_id] * call_tokens(call, ctx.dynamic_tokens)
            for step_id, call in ctx.calls.items()
        )
        saved = sum(g.saved_tokens for g in ctx.prefix_groups if not g.speculative)
        decode = sum(
            ctx.runs[step_id] * decode_estimate(ctx.workflow, ctx.tokenizer, site.node)
            for step_id, site in ctx.sites.items()
        )
        path = _critical_path(ctx)
        cost = ctx.schedule.priority[path[0]] if path else 0.0
        estimate = Estimate(naive, naive - saved, decode, tuple(path), round(cost, 6))
        return dataclasses.replace(ctx, estimate=estimate)

    def summary(self, ctx: CompileContext) -> str:
        e = ctx.estimate
        assert e is not None
        return (
            f"prefill {e.prefill_tokens_naive} -> {e.prefill_tokens_planned} tokens, "
            f"decode {e.decode_tokens}, critical path {len(e.critical_path)} steps"
        )


def _critical_path(ctx: CompileContext) -> list[str]:
    """Follow the highest upward rank from the top-level start with the highest rank."""
    assert ctx.schedule is not None
    dag = ctx.scopes[""].dag
    priority = ctx.schedule.priority
    order = {step_id: i for i, step_id in enumerate(ctx.schedule.order)}

    def best(candidates):
        return min(candidates, key=lambda s: (-priority[s], order[s]), default=None)

    step = best(n for n in dag.nodes if dag.in_degree(n) == 0)
    path = []
    while step is not None:
        path.append(step)
        step = best(dag.successors(step))
    return path
