"""Estimates over the paths a run can take: a router takes one branch (expected: each equally
likely; worst case: the costliest), loops count by their bound, speculative prefill is a cost."""

from __future__ import annotations

import pytest
from compiler_graphs import TRIAGE

import compiler
from compiler.render import render
from graph.model import Workflow

LONG = "Write a detailed incident report with a timeline, the impact and the next steps. " * 3


def compile_spec(spec: dict) -> compiler.Plan:
    return compiler.compile(Workflow.model_validate({"flowc": 1, "name": "paths", **spec}))


def prompts(plan: compiler.Plan) -> dict[str, int]:
    return {s.id: s.prompt_tokens for s in plan.steps}


def test_a_router_takes_one_branch() -> None:
    plan = compile_spec({
        "defaults": {"max_tokens": 4},
        "nodes": [
            {"id": "route", "type": "llm", "output": "kind",
             "choices": ["a", "b and more"],
             "prompt": "Pick a or b."},
            {"id": "short", "type": "llm", "output": "x", "prompt": "Say hi."},
            {"id": "long", "type": "llm", "output": "y", "prompt": LONG},
        ],
        "edges": [{"from": "route", "to": "short", "when": "kind == 'a'"},
                  {"from": "route", "to": "long", "when": "else"}],
    })
    tokens, e = prompts(plan), plan.estimate
    tokens["route"] += 2  # "b and more" (3 tokens) scored after its prompt, less its last
    assert e.prefill_tokens_naive == sum(tokens.values())  # every call once
    assert e.worst_prefill_naive == tokens["route"] + tokens["long"]
    assert e.expected_prefill_naive == round(tokens["route"] + (tokens["short"]
                                                                + tokens["long"]) / 2)
    assert e.expected_prefill_planned <= e.expected_prefill_naive


def test_a_loop_counts_by_its_bound() -> None:
    plan = compile_spec({
        "defaults": {"max_tokens": 4},
        "limits": {"max_node_visits": 5},
        "nodes": [
            {"id": "start", "type": "set", "assign": {"n": "0"}},
            {"id": "work", "type": "llm", "output": "out", "prompt": LONG},
            {"id": "check", "type": "set", "assign": {"n": "n + 1"}},
        ],
        "edges": [{"from": "start", "to": "work"}, {"from": "work", "to": "check"},
                  {"from": "check", "to": "done", "when": "n >= 3"},
                  {"from": "check", "to": "work", "when": "else"}],
    })
    work, e = prompts(plan)["work"], plan.estimate
    assert e.prefill_tokens_naive == work  # one visit: what the plan used to say
    assert e.worst_prefill_naive == 5 * work
    expected_visits = (1 - 0.5**5) / (1 - 0.5)  # re-entered on one of two branches
    assert e.expected_prefill_naive == pytest.approx(expected_visits * work, abs=1)


def test_speculative_prefill_is_reported_as_a_cost() -> None:
    plan = compiler.compile(Workflow.model_validate(TRIAGE))
    speculative = [g for g in plan.prefix_groups if g.speculative]
    assert speculative
    e = plan.estimate
    assert e.speculative_prefill == sum(g.tokens for g in speculative)
    text = render(plan, "text")
    assert f"speculative     {e.speculative_prefill} tokens prefilled" in text
