"""Estimates: prefill tokens without and with prefix sharing, decode tokens (upper bound)
and the predicted critical path of the top-level DAG."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from compiler.context import CompileContext
from compiler.cost import call_tokens, decode_estimate, scored_tokens
from compiler.paths import visits
from compiler.plan import CallSite, Estimate


@dataclass(frozen=True)
class EstimatePass:
    name: str = "estimate"

    def apply(self, ctx: CompileContext) -> CompileContext:
        assert ctx.schedule is not None
        tokens = {s: float(self._prefill(ctx, s, c)) for s, c in ctx.calls.items()}
        naive = round(sum(ctx.runs[s] * t for s, t in tokens.items()))
        saved = sum(g.saved_tokens for g in ctx.prefix_groups if not g.speculative)
        decode = sum(
            ctx.runs[step_id] * decode_estimate(ctx.workflow, ctx.tokenizer, site.node)
            for step_id, site in ctx.sites.items()
        )
        path = _critical_path(ctx)
        cost = ctx.schedule.priority[path[0]] if path else 0.0
        seen = visits(ctx, tokens)
        spent, wasted = _speculative(ctx, seen.expected)
        estimate = Estimate(
            naive, naive - saved, decode, tuple(path), round(cost, 6),
            expected_prefill_naive=round(_naive(tokens, seen.expected)),
            expected_prefill_planned=round(_planned(ctx, tokens, seen.expected)),
            worst_prefill_naive=round(_naive(tokens, seen.worst)),
            worst_prefill_planned=round(_planned(ctx, tokens, seen.worst)),
            speculative_prefill=round(spent), speculative_wasted=round(wasted),
        )
        return dataclasses.replace(ctx, estimate=estimate)

    @staticmethod
    def _prefill(ctx: CompileContext, step_id: str, call: CallSite) -> int:
        """A call's prompt, plus the choices scored after it."""
        node = ctx.sites[step_id].node
        return call_tokens(call, ctx.dynamic_tokens) + scored_tokens(ctx.tokenizer, node)

    def summary(self, ctx: CompileContext) -> str:
        e = ctx.estimate
        assert e is not None
        return (
            f"prefill {e.prefill_tokens_naive} -> {e.prefill_tokens_planned} tokens, "
            f"decode {e.decode_tokens}, critical path {len(e.critical_path)} steps"
        )


def _naive(tokens: Mapping[str, float], weights: Mapping[str, float]) -> float:
    return sum(t * weights[s] for s, t in tokens.items())


def _planned(ctx: CompileContext, tokens: Mapping[str, float],
             weights: Mapping[str, float]) -> float:
    """Naive minus each shared group's added tokens for every consumer call after the first
    (its calls scaled by how often its consumers run on these paths)."""
    parents = {g.id: g for g in ctx.prefix_groups}
    saved = 0.0
    for group in ctx.prefix_groups:
        if group.speculative or group.runs < 2:
            continue
        scale = (sum(weights[c] for c in group.consumers)
                 / max(1, sum(ctx.runs[c] for c in group.consumers)))
        added = group.tokens - (parents[group.parent].tokens if group.parent else 0)
        saved += added * max(0.0, group.runs * scale - 1.0)
    return _naive(tokens, weights) - saved


def _speculative(ctx: CompileContext, weights: Mapping[str, float]) -> tuple[float, float]:
    """Tokens prefilled speculatively while routers run, and those of branches not taken."""
    spent = wasted = 0.0
    for group in ctx.prefix_groups:
        if group.speculative and group.speculate_with is not None:
            router = weights.get(group.speculate_with, 0.0)
            taken = min(router, sum(weights.get(c, 0.0) for c in group.consumers))
            spent += group.tokens * router
            wasted += group.tokens * (router - taken)
    return spent, wasted


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
