"""Checkpoints at node boundaries and runs resumed from them, on the real engine (greedy):
a run resumed from any of its checkpoints ends with the outputs of the uninterrupted run."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from executor_workflows import forked_thread, router, thread, workflow

import compiler
from executor import Checkpoint, Executor, ToolRegistry


def loop_with_state() -> Any:
    """A counter loop with an `append` state entry and a set node: visits and reducers."""
    return workflow({
        "state": {"seen": {"reducer": "append"}},
        "defaults": {"max_tokens": 3},
        "nodes": [
            {"id": "init", "type": "set", "assign": {"i": "0"}},
            {"id": "count", "type": "set", "assign": {"i": "i + 1"}},
            {"id": "note", "type": "tool", "tool": "echo", "args": {"text": "{{ i }}"},
             "output": "seen"},
            {"id": "say", "type": "llm", "output": "said", "prompt": "Say the number {{ i }}."},
        ],
        "edges": [{"from": "init", "to": "count"}, {"from": "count", "to": "note"},
                  {"from": "note", "to": "count", "when": "i < 3"},
                  {"from": "note", "to": "say", "when": "else"}],
        "outputs": {"seen": "{{ seen }}", "said": "{{ said }}", "i": "{{ i }}"},
    })


def checkpoints_of(executor: Executor, inputs: dict[str, Any]) -> tuple[Any, list[Checkpoint]]:
    taken: list[Checkpoint] = []
    result = asyncio.run(executor.run(inputs, on_checkpoint=taken.append))
    return result, taken


@pytest.mark.parametrize("make", [thread, forked_thread, router, loop_with_state],
                         ids=["thread", "forked_thread", "router", "loop"])
def test_resumed_from_every_checkpoint_ends_as_the_whole_run(engine: Any, make: Any) -> None:
    tools = ToolRegistry.with_builtins()
    tools.register("echo", lambda text: text)
    plan = compiler.compile(make(), engine.tokenizer)
    executor = Executor(plan, engine, tools)
    whole, taken = checkpoints_of(executor, {})
    assert whole.status == "succeeded", whole.error
    assert taken, "no checkpoint was taken"
    assert [len(c.done) for c in taken] == sorted(len(c.done) for c in taken)
    for checkpoint in taken:
        stored = Checkpoint.from_dict(json.loads(json.dumps(checkpoint.to_dict())))
        resumed = asyncio.run(executor.run({}, resume=stored))
        assert resumed.status == "succeeded", resumed.error
        assert resumed.outputs == whole.outputs, checkpoint.done
        ran = [n.node_id for n in resumed.trace.nodes]
        assert len(ran) == len(whole.trace.nodes) - len(checkpoint.done), (ran, checkpoint.done)


def test_a_resumed_run_keeps_its_token_budget(engine: Any) -> None:
    plan = compiler.compile(thread(), engine.tokenizer)
    executor = Executor(plan, engine)
    _, taken = checkpoints_of(executor, {})
    spent = taken[0].tokens_used
    assert spent > 0
    tight = Checkpoint.from_dict({**taken[0].to_dict(),
                                  "tokens_used": plan.interface.limits.max_tokens_total - 1})
    result = asyncio.run(executor.run({}, resume=tight))
    assert result.status == "failed" and "max_tokens_total" in (result.error or "")


@pytest.mark.parametrize("bad", [{}, {"format": 1}, {"format": 1, "values": {}, "threads": [],
                                                      "fired": {}, "triggered": [], "visits": {},
                                                      "done": [], "tokens_used": 0}, [1]])
def test_malformed_checkpoints_are_refused_by_name(bad: Any) -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        Checkpoint.from_dict(bad)
