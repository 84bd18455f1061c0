"""Prefix groups: shared prefixes across calls, map bodies, threads and router targets."""

from __future__ import annotations

import pytest
from compiler_graphs import ALL, SUMMARY, THOUGHTS, TRIAGE
from plan_checks import check_plan, static_ids

import compiler
from compiler.radix import RadixTree
from graph.model import Workflow


def _plan(data, tokenizer):
    return compiler.compile(Workflow.model_validate(data), tokenizer)


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_test_workflow_gives_a_consistent_plan_that_saves_prefill(name, tokenizer):
    plan = _plan(ALL[name], tokenizer)
    check_plan(plan)
    assert plan.estimate.prefill_saved > 0


def test_parallel_thoughts_share_their_instructions_once(tokenizer):
    plan = _plan(THOUGHTS, tokenizer)
    group = next(g for g in plan.prefix_groups if len(g.consumers) == 4)
    assert group.consumers == ("think0", "think1", "think2", "think3")
    assert group.waits_on == ("problem",) and group.ready_after == ()
    assert group.release_after == ("think0", "think1", "think2", "think3")
    thoughts = [plan.step(f"think{i}") for i in range(4)]
    common = min(len(_common(static_ids(thoughts[0]), static_ids(t))) for t in thoughts)
    assert len(group.token_ids) == common  # the longest prefix all four share
    assert group.saved_tokens == (group.tokens - _parent_tokens(plan, group)) * 3


def test_a_map_body_counts_once_per_item(tokenizer):
    plan = _plan(SUMMARY, tokenizer)
    [group] = plan.prefix_groups
    assert group.consumers == ("per_chunk.summarize", "combine")
    assert group.runs == 3 + 1  # three chunks in the input's default, one combine
    assert group.saved_tokens == group.tokens * 3
    body_call = plan.step("per_chunk.summarize").call
    assert body_call is not None and body_call.segments[1].variables == ("chunk",)


def test_router_target_gets_a_speculative_prefix(tokenizer):
    plan = _plan(TRIAGE, tokenizer)
    [speculative] = [g for g in plan.prefix_groups if g.speculative]
    assert speculative.consumers == ("escalate",)
    assert speculative.speculate_with == "classify" and speculative.saved_tokens == 0
    escalate = plan.step("escalate").call
    assert escalate is not None and speculative.tokens == escalate.static_prefix_tokens
    assert plan.estimate.prefill_saved == sum(
        g.saved_tokens for g in plan.prefix_groups if not g.speculative
    )


def test_thread_call_extends_the_earlier_calls_prompt(tokenizer):
    plan = _plan(ALL["debate"], tokenizer)
    opening, closing = plan.step("open").call, plan.step("close_pro").call
    assert closing.segments[: len(opening.segments)] == opening.segments
    group = next(g for g in plan.prefix_groups if g.consumers == ("open", "close_pro"))
    assert group.segments == opening.segments
    assert [t.steps for t in plan.threads] == [("open", "close_pro")]


def test_radix_tree_splits_edges_and_counts_weights():
    tree = RadixTree()
    tree.insert([1, 2, 3, 4], "a")
    tree.insert([1, 2, 3, 9], "b", weight=3)
    tree.insert([1, 2], "c")
    nodes = {tuple(n.edge): n for n in tree.nodes()}
    assert set(nodes) == {(1, 2), (3,), (4,), (9,)}
    assert nodes[(1, 2)].weight == 5 and nodes[(3,)].weight == 4
    assert sorted(nodes[(1, 2)].consumers()) == ["a", "b", "c"]
    assert nodes[(9,)].depth == 4


def _common(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _parent_tokens(plan, group):
    if group.parent is None:
        return 0
    return next(g.tokens for g in plan.prefix_groups if g.id == group.parent)
