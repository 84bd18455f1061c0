"""Every llm/select step's call site as static and dynamic segments, thread history first:
a call on a `thread` continues the conversation of the earlier calls on that thread that
precede it in the graph (their prompts, then their outputs as assistant replies)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass

from compiler.context import CompileContext
from compiler.cost import token_estimates
from compiler.graphapi import ancestors, topological_sort
from compiler.plan import CallSite
from compiler.segments import Piece, Turn, prompt_pieces, tokenize_pieces
from compiler.sites import NodeSite, is_call
from compiler.tokenizer import encode_static


@dataclass(frozen=True)
class SegmentsPass:
    name: str = "segments"

    def apply(self, ctx: CompileContext) -> CompileContext:
        histories = _thread_histories(ctx)
        pieces: dict[str, list[Piece]] = {}
        for step_id, site in ctx.sites.items():
            if is_call(site.node):
                history = histories.get(step_id, ())
                pieces[step_id] = prompt_pieces(ctx.tokenizer, site.node.chat(), history)
        statics = sorted({p.text for ps in pieces.values() for p in ps if p.kind == "static"})
        ids = dict(zip(statics, encode_static(ctx.tokenizer, statics), strict=True))
        calls = {}
        for step_id, call_pieces in pieces.items():
            segments = tokenize_pieces(call_pieces, ids)
            calls[step_id] = CallSite(
                segments,
                thread=ctx.sites[step_id].node.thread,
                static_prefix_tokens=_leading_static_tokens(segments),
            )
        estimates = token_estimates(ctx.workflow, ctx.tokenizer, ctx.sites, calls.values())
        return dataclasses.replace(ctx, calls=calls, dynamic_tokens=estimates)

    def summary(self, ctx: CompileContext) -> str:
        segments = sum(len(c.segments) for c in ctx.calls.values())
        static = sum(len(s.token_ids) for c in ctx.calls.values() for s in c.segments)
        return f"{len(ctx.calls)} call sites, {segments} segments, {static} static tokens"


def _leading_static_tokens(segments) -> int:
    count = 0
    for segment in segments:
        if segment.kind != "static":
            break
        count += len(segment.token_ids)
    return count


def _thread_histories(ctx: CompileContext) -> dict[str, tuple[Turn, ...]]:
    members: dict[tuple[str, str], list[NodeSite]] = defaultdict(list)
    for site in ctx.sites.values():
        if is_call(site.node) and site.node.thread:
            members[(site.scope, site.node.thread)].append(site)
    histories: dict[str, tuple[Turn, ...]] = {}
    for (scope, _), sites in members.items():
        if len(sites) < 2:
            continue
        dag = ctx.scopes[scope].dag
        position = {n: i for i, n in enumerate(topological_sort(dag))}
        ordered = sorted(sites, key=lambda s: position[s.step_id])
        for index, site in enumerate(ordered):
            before = ancestors(dag, site.step_id)
            histories[site.step_id] = tuple(
                Turn(tuple(_message(m) for m in earlier.node.chat()), earlier.node.output)
                for earlier in ordered[:index]
                if earlier.step_id in before
            )
    return histories


def _message(message) -> dict[str, str]:
    return {"role": message.role, "content": message.content}
