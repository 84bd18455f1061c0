"""Facts about a plan that several renderers show."""

from __future__ import annotations

import json
from collections.abc import Iterator

from compiler.plan import Plan, PrefixGroup, Route, Step

PREVIEW_CHARS = 60


def walk(steps: tuple[Step, ...], depth: int = 0) -> Iterator[tuple[Step, int]]:
    """Every step with its nesting depth, map bodies after their map step."""
    for step in steps:
        yield step, depth
        yield from walk(step.body, depth + 1)


def prefix_of(plan: Plan) -> dict[str, str]:
    """Each step's deepest shared (non-speculative) prefix group."""
    best: dict[str, PrefixGroup] = {}
    for group in plan.prefix_groups:
        if group.speculative:
            continue
        for consumer in group.consumers:
            if consumer not in best or group.tokens > best[consumer].tokens:
                best[consumer] = group
    return {step: group.id for step, group in best.items()}


def preview(group: PrefixGroup) -> str:
    """The group's text, quoted: its start, or for a nested group the part it adds."""
    text = "".join(s.text for s in group.segments)
    if len(text) <= PREVIEW_CHARS:
        return json.dumps(text, ensure_ascii=False)
    if group.parent is None:
        return json.dumps(text[:PREVIEW_CHARS], ensure_ascii=False)[:-1] + '…"'
    return '"…' + json.dumps(text[-PREVIEW_CHARS:], ensure_ascii=False)[1:]


def saved_percent(plan: Plan) -> float:
    naive = plan.estimate.prefill_tokens_naive
    return 100.0 * plan.estimate.prefill_saved / naive if naive else 0.0


def group_readiness(group: PrefixGroup) -> str:
    if group.speculative:
        return f"speculative while {group.speculate_with} runs"
    if group.ready_after:
        return "after " + ", ".join(group.ready_after)
    if group.waits_on:
        return "at start (reads " + ", ".join(group.waits_on) + ")"
    return "at start"


def stage_note(plan: Plan, number: int) -> str:
    """How a stage's members run: in parallel, or as alternatives a router picks from."""
    wave = plan.stages[number]
    together = plan.concurrent[number] if plan.concurrent else wave
    if len(together) > 1:
        return f"  parallel x{len(together)}"
    if len(wave) > 1:
        return "  (alternatives: a router picks)"
    return ""


def route_note(route: Route) -> str:
    """What a back edge or an edge to the end does: ending a map body's graph ends that item,
    not the run."""
    if route.back_edge:
        return "back edge"
    if not route.ends:
        return ""
    scope = route.source.rpartition(".")[0]
    return f"ends the item of {scope}" if scope else "ends the run"


def end_node(route: Route) -> str:
    """The end a route to `done` reaches, one per graph (`done`, `<map>.done`)."""
    scope = route.source.rpartition(".")[0]
    return f"{scope}.done" if scope else "done"
