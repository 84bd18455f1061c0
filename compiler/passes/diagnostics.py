"""Diagnostics: the graph layer's warnings, plus advice on prompts whose layout defeats
prefix sharing and on threads that fork."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass

from compiler.context import CompileContext
from compiler.plan import Diagnostic
from compiler.reach import Reach
from compiler.segments import content_pieces
from compiler.tokenizer import encode_dynamic, encode_static

MIN_ADVICE_TOKENS = 16  # static tokens after a leading dynamic piece worth moving


@dataclass(frozen=True)
class DiagnosticsPass:
    name: str = "diagnostics"

    def apply(self, ctx: CompileContext) -> CompileContext:
        found = [_from_problem(p) for p in ctx.warnings]
        found += _dynamic_first(ctx)
        found += _thread_forks(ctx)
        found += _choices_too_long(ctx)
        return dataclasses.replace(ctx, diagnostics=tuple(found))

    def summary(self, ctx: CompileContext) -> str:
        counts = defaultdict(int)
        for diagnostic in ctx.diagnostics:
            counts[diagnostic.severity] += 1
        return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "none"


def _from_problem(problem) -> Diagnostic:
    return Diagnostic("warning", "graph", problem.message, problem.node_id, problem.path)


def _dynamic_first(ctx: CompileContext) -> list[Diagnostic]:
    """Calls whose first dynamic piece opens a message and is followed by static
    instructions: each call prefills those anew, though moving them before the piece would
    let every call with the same instructions share them."""
    by_text: dict[str, list[tuple[str, str]]] = defaultdict(list)
    continuations = {step for thread in ctx.threads for step in thread.steps[1:]}
    for step_id in ctx.calls:
        if step_id not in continuations:
            found = _leading_dynamic(ctx.sites[step_id].node)
            if found is not None:
                by_text[found[1]].append((step_id, found[0]))
    texts = sorted(by_text)
    sizes = dict(zip(texts, map(len, encode_static(ctx.tokenizer, texts)), strict=True))
    advice = []
    for text, calls in by_text.items():
        runs = sum(ctx.runs[step_id] for step_id, _ in calls)
        if runs < 2 or sizes[text] < MIN_ADVICE_TOKENS:
            continue
        advice += [
            Diagnostic(
                "advice",
                "dynamic-first",
                f"node {step_id} starts its prompt with {piece}: move static instructions "
                f"first to share {sizes[text]} tokens across {runs} calls",
                node_id=step_id,
            )
            for step_id, piece in calls
        ]
    order = {step_id: i for i, step_id in enumerate(ctx.sites)}
    return sorted(advice, key=lambda d: order[d.node_id or ""])


def _leading_dynamic(node) -> tuple[str, str] | None:
    """(the dynamic piece, the static text after it) when the node's first dynamic piece
    opens its message."""
    for message in node.chat():
        pieces = content_pieces(message.content)
        if any(p.kind == "dynamic" for p in pieces):
            if pieces[0].kind != "dynamic":
                return None
            after = "".join(p.text for p in pieces[1:] if p.kind == "static").strip()
            return (pieces[0].text, after) if after else None
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


def _choices_too_long(ctx: CompileContext) -> list[Diagnostic]:
    """llm nodes whose `max_tokens` is shorter than one of their choices: that choice can never
    be the answer."""
    found = []
    for step_id, site in ctx.sites.items():
        node = site.node
        if node.type != "llm" or not node.choices:
            continue
        limit = node.max_tokens or ctx.workflow.defaults.max_tokens
        if limit is None:
            continue
        for choice in node.choices:
            size = len(encode_dynamic(ctx.tokenizer, choice))
            if size > limit:
                found.append(Diagnostic(
                    "warning", "choice-too-long",
                    f"node {step_id}: max_tokens={limit} cannot hold choice {choice!r} "
                    f"({size} tokens), so it is never picked: raise max_tokens to {size}",
                    node_id=step_id,
                ))
    return found
