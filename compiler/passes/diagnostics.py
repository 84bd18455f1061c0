"""Diagnostics: the graph layer's warnings, plus advice on prompts whose layout defeats
prefix sharing and on threads that fork."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass

from compiler.context import CompileContext
from compiler.plan import CallSite, Diagnostic
from compiler.reach import Reach

MIN_ADVICE_TOKENS = 16  # static tokens after a leading dynamic piece worth moving


@dataclass(frozen=True)
class DiagnosticsPass:
    name: str = "diagnostics"

    def apply(self, ctx: CompileContext) -> CompileContext:
        found = [_from_problem(p) for p in ctx.warnings]
        found += _dynamic_first(ctx)
        found += _thread_forks(ctx)
        return dataclasses.replace(ctx, diagnostics=tuple(found))

    def summary(self, ctx: CompileContext) -> str:
        counts = defaultdict(int)
        for diagnostic in ctx.diagnostics:
            counts[diagnostic.severity] += 1
        return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "none"


def _from_problem(problem) -> Diagnostic:
    return Diagnostic("warning", "graph", problem.message, problem.node_id, problem.path)


def _dynamic_first(ctx: CompileContext) -> list[Diagnostic]:
    """Calls whose static instructions follow a dynamic piece: each call prefills them anew,
    though moving them before the piece would let all such calls share them."""
    followers: dict[tuple[int, ...], list[tuple[str, CallSite, int]]] = defaultdict(list)
    continuations = {step for thread in ctx.threads for step in thread.steps[1:]}
    for step_id, call in ctx.calls.items():
        if step_id in continuations:
            continue
        index = _first_dynamic(call)
        if index is None or index + 1 >= len(call.segments):
            continue
        after = call.segments[index + 1]
        if after.kind == "static" and len(after.token_ids) >= MIN_ADVICE_TOKENS:
            followers[after.token_ids].append((step_id, call, index))
    advice = []
    for token_ids, calls in followers.items():
        runs = sum(ctx.runs[step_id] for step_id, _, _ in calls)
        if runs < 2:
            continue
        for step_id, call, index in calls:
            piece = call.segments[index].text
            advice.append(
                Diagnostic(
                    "advice",
                    "dynamic-first",
                    f"node {step_id} starts its prompt with {piece}: move static instructions "
                    f"first to share {len(token_ids)} tokens across {runs} calls",
                    node_id=step_id,
                )
            )
    order = {step_id: i for i, step_id in enumerate(ctx.sites)}
    return sorted(advice, key=lambda d: order[d.node_id or ""])


def _first_dynamic(call: CallSite) -> int | None:
    for index, segment in enumerate(call.segments):
        if segment.kind == "dynamic":
            return index
    return None


def _thread_forks(ctx: CompileContext) -> list[Diagnostic]:
    """Calls of one thread that may run at the same time fork the conversation."""
    found = []
    reach = {name: Reach(scope.dag) for name, scope in ctx.scopes.items()}
    for thread in ctx.threads:
        scope = ctx.sites[thread.steps[0]].scope
        for first, second in zip(thread.steps, thread.steps[1:], strict=False):
            if not reach[scope].precedes(first, second):
                found.append(
                    Diagnostic(
                        "advice",
                        "thread-fork",
                        f"thread {thread.name} forks: {first} and {second} may run at the same "
                        "time, each continuing the conversation on its own copy",
                        node_id=second,
                    )
                )
    return found
