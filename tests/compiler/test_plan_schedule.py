"""Schedule, stages, priorities, loops and estimates."""

from __future__ import annotations

from compiler_graphs import AGENT, SUMMARY, THOUGHTS, TRIAGE

import compiler
from compiler.cost import DECODE_TOKENS_PER_S, PREFILL_TOKENS_PER_S
from graph.model import Workflow


def _plan(data, tokenizer):
    return compiler.compile(Workflow.model_validate(data), tokenizer)


def test_branches_run_in_one_stage_and_joins_wait(tokenizer):
    plan = _plan(THOUGHTS, tokenizer)
    assert plan.stages == (("think0", "think1", "think2", "think3"), ("judge",))
    assert plan.step("judge").deps == ("think0", "think1", "think2", "think3")


def test_priority_is_the_upward_rank(tokenizer):
    plan = _plan(TRIAGE, tokenizer)
    explain, escalate = plan.step("explain"), plan.step("escalate")
    own = explain.prompt_tokens / PREFILL_TOKENS_PER_S + explain.decode_tokens / DECODE_TOKENS_PER_S
    assert abs(explain.priority - (own + escalate.priority)) < 1e-5
    assert plan.estimate.critical_path == ("explain", "escalate")
    assert plan.estimate.critical_path_cost == explain.priority


def test_map_body_is_nested_and_costed_into_its_map(tokenizer):
    plan = _plan(SUMMARY, tokenizer)
    [per_chunk, combine] = plan.steps
    assert [s.id for s in per_chunk.body] == ["per_chunk.summarize"]
    assert per_chunk.priority > combine.priority
    assert abs(per_chunk.priority - per_chunk.body[0].priority - combine.priority) < 1e-5


def test_cycles_become_loops_and_back_edges_leave_the_dag(tokenizer):
    plan = _plan(AGENT, tokenizer)
    assert [loop.nodes for loop in plan.loops] == [("think", "act")]
    assert plan.loops[0].max_visits == 6
    assert plan.step("think").loop == 0 and plan.step("answer").loop is None
    assert plan.step("think").deps == ("start",)
    back = [(r.source, r.target) for r in plan.routes if r.back_edge]
    assert back == [("act", "think")]


def test_estimates_add_up(tokenizer):
    plan = _plan(SUMMARY, tokenizer)
    summarize, combine = plan.step("per_chunk.summarize"), plan.step("combine")
    assert plan.estimate.prefill_tokens_naive == 3 * summarize.prompt_tokens + combine.prompt_tokens
    assert plan.estimate.decode_tokens == 3 * 64 + 128


def test_editor_layout_never_changes_the_plan(tokenizer):
    moved = {**THOUGHTS, "layout": {"judge": {"x": 10, "y": 20}}}
    assert _plan(moved, tokenizer).to_dict() == _plan(THOUGHTS, tokenizer).to_dict()


def test_router_alternatives_share_a_stage_but_never_run_together(tokenizer):
    plan = _plan(AGENT, tokenizer)
    number = plan.step("answer").stage
    assert set(plan.stages[number]) == {"act", "answer"}
    assert plan.concurrent[number] == ()
    triage = _plan(TRIAGE, tokenizer)
    assert triage.concurrent == (("classify", "explain"), ("escalate", "close"))
