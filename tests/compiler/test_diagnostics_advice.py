"""Advice on prompt layouts that defeat prefix sharing, and on forking threads."""

from __future__ import annotations

import re

from compiler_graphs import SUMMARY

import compiler
from graph.model import Workflow


def test_dynamic_first_prompt_gets_advice_with_the_tokens_it_would_share(tokenizer):
    plan = compiler.compile(Workflow.model_validate(SUMMARY), tokenizer)
    [advice] = [d for d in plan.diagnostics if d.code == "dynamic-first"]
    assert advice.node_id == "per_chunk.summarize" and advice.severity == "advice"
    match = re.fullmatch(
        r"node per_chunk\.summarize starts its prompt with \{\{ chunk \}\}: move static "
        r"instructions first to share (\d+) tokens across 3 calls",
        advice.message,
    )
    assert match
    prompt = SUMMARY["nodes"][0]["body"]["nodes"][0]["prompt"]
    instructions = tokenizer(prompt.removeprefix("{{ chunk }}").strip(), add_special_tokens=False)
    assert int(match.group(1)) == len(instructions["input_ids"])


def test_static_first_prompt_gets_no_advice(tokenizer):
    body = SUMMARY["nodes"][0]["body"]["nodes"][0]
    fixed = {**body, "prompt": "Summarize the text below in three short bullet points, keeping "
             "every number and every name exactly as written.\n\n{{ chunk }}"}
    data = {**SUMMARY, "nodes": [
        {**SUMMARY["nodes"][0], "body": {**SUMMARY["nodes"][0]["body"], "nodes": [fixed]}},
        SUMMARY["nodes"][1],
    ]}
    plan = compiler.compile(Workflow.model_validate(data), tokenizer)
    assert not [d for d in plan.diagnostics if d.code == "dynamic-first"]
    before = compiler.compile(Workflow.model_validate(SUMMARY), tokenizer)
    assert plan.estimate.prefill_saved > before.estimate.prefill_saved


def test_parallel_calls_on_one_thread_fork_it(tokenizer):
    data = {
        "flowc": 1, "name": "fork",
        "nodes": [
            {"id": "a", "type": "llm", "output": "x", "thread": "t", "prompt": "Start."},
            {"id": "b", "type": "llm", "output": "y", "thread": "t", "prompt": "Left."},
            {"id": "c", "type": "llm", "output": "z", "thread": "t", "prompt": "Right."},
        ],
        "edges": [{"from": "a", "to": "b"}, {"from": "a", "to": "c"}],
    }
    plan = compiler.compile(Workflow.model_validate(data), tokenizer)
    [fork] = [d for d in plan.diagnostics if d.code == "thread-fork"]
    assert fork.node_id == "c" and "b and c may run at the same time" in fork.message
