"""Invariants every compiled plan must satisfy (used by example and property tests)."""

from __future__ import annotations

import networkx as nx

from compiler.plan import Plan, Step


def all_steps(steps: tuple[Step, ...]) -> list[Step]:
    found = []
    for step in steps:
        found.append(step)
        found += all_steps(step.body)
    return found


def static_ids(step: Step) -> tuple[int, ...]:
    assert step.call is not None
    return tuple(t for s in step.call.segments if s.kind == "static" for t in s.token_ids)


def check_schedule(plan: Plan) -> None:
    """Every dependency precedes its step, in the same scope, with a higher priority; deps
    are the real edges."""
    forward = {(r.source, r.target) for r in plan.routes if not r.back_edge}
    for steps in _scopes(plan.steps):
        seen: dict[str, Step] = {}
        for step in steps:
            for dep in step.deps:
                assert dep in seen, f"{step.id} runs before its dependency {dep}"
                assert (dep, step.id) in forward
                assert seen[dep].priority > step.priority  # upward rank grows upstream
            seen[step.id] = step


def check_stages(plan: Plan) -> None:
    """Stages cover every top-level step once and are antichains of the static DAG."""
    dag = nx.DiGraph()
    dag.add_nodes_from(s.id for s in plan.steps)
    for step in plan.steps:
        dag.add_edges_from((dep, step.id) for dep in step.deps)
    staged = [step for wave in plan.stages for step in wave]
    assert sorted(staged) == sorted(s.id for s in plan.steps)
    closure = nx.transitive_closure_dag(dag)
    for wave in plan.stages:
        for a in wave:
            for b in wave:
                assert a == b or not closure.has_edge(a, b), f"{a} precedes {b} in one stage"
    for step in plan.steps:
        assert step.id in plan.stages[step.stage]
    assert len(plan.concurrent) == len(plan.stages)
    for wave, together in zip(plan.stages, plan.concurrent, strict=True):
        assert set(together) <= set(wave) and len(together) != 1


def check_prefix_groups(plan: Plan) -> None:
    """A group's static ids (and its segments) are a prefix of each consumer's."""
    steps = {s.id: s for s in all_steps(plan.steps)}
    for group in plan.prefix_groups:
        assert group.consumers and group.tokens > 0
        ids = group.token_ids
        for consumer in group.consumers:
            step = steps[consumer]
            assert static_ids(step)[: len(ids)] == ids, f"{group.id} vs {consumer}"
            for mine, theirs in zip(group.segments[:-1], step.call.segments, strict=False):
                assert mine == theirs
    shared = [g for g in plan.prefix_groups if not g.speculative]
    assert sum(g.saved_tokens for g in shared) == plan.estimate.prefill_saved
    assert plan.estimate.prefill_tokens_planned <= plan.estimate.prefill_tokens_naive


def check_plan(plan: Plan) -> None:
    check_schedule(plan)
    check_stages(plan)
    check_prefix_groups(plan)


def _scopes(steps: tuple[Step, ...]):
    yield steps
    for step in steps:
        if step.body:
            yield from _scopes(step.body)
