"""The executor on the real engine (embedded default model, CPU float32): plan honoured,
batching, threads, seeds, the baseline, and errors that name their node."""

from __future__ import annotations

import asyncio
import time

import pytest
from executor_workflows import (
    fan_out,
    forked_thread,
    router,
    run_on,
    sampled,
    system,
    thread,
    workflow,
)

import compiler
from executor import Executor, ToolRegistry
from executor.trace import overlapping, shared_steps


@pytest.fixture(scope="module")
def fan_out_run(engine):
    flow = fan_out()
    return compiler.compile(flow, engine.tokenizer), run_on(engine, flow)


def test_prefix_tokens_served_from_cache_cover_the_predicted_saving(fan_out_run) -> None:
    plan, result = fan_out_run
    assert plan.estimate.prefill_saved > 100
    assert result.status == "succeeded", result.error
    trace = result.trace
    page_losses = 16 * len(trace.llm_calls)  # a partly filled last page is not shared
    assert trace.actual_saving >= plan.estimate.prefill_saved - page_losses
    assert [p.group_id for p in trace.prefixes if p.ready is not None]
    assert all(p.released is not None for p in trace.prefixes)
    assert result.outputs["severity"] in ("low", "medium", "high")
    severity, _, rest = result.outputs["report"].partition("/")
    assert rest.split(":")[0] in ("yes", "no")


def test_parallel_siblings_overlap_and_share_engine_steps(fan_out_run) -> None:
    _, result = fan_out_run
    calls = {n.node_id: n for n in result.trace.nodes if n.node_type == "llm"}
    assert len(calls) == 3
    pairs = [(a, b) for a in calls for b in calls if a < b]
    assert all(overlapping(calls[a], calls[b]) for a, b in pairs)
    assert all(shared_steps(calls[a], calls[b]) > 0 for a, b in pairs)
    one_by_one = sum(n.engine_steps[1] - n.engine_steps[0] for n in calls.values())
    assert result.trace.engine_steps < one_by_one


def test_router_targets_are_prefilled_while_the_router_runs(engine) -> None:
    flow = router()
    plan = compiler.compile(flow, engine.tokenizer)
    assert {g.speculate_with for g in plan.prefix_groups if g.speculative} == {"classify"}
    result = run_on(engine, flow)
    assert result.status == "succeeded", result.error
    classify = result.trace.node("classify")[0]
    speculative = [p for p in result.trace.prefixes if p.speculative]
    assert len(speculative) == 2
    assert all(classify.ready <= p.start <= classify.end for p in speculative)
    target = "network_expert" if result.outputs["label"] == "network" else "host_expert"
    taken = next(p for p in speculative if p.consumers == (target,))
    call = result.trace.node(target)[0]
    assert call.start >= taken.ready and call.cached_tokens >= 16 * (taken.tokens // 16)
    assert all(p.released is not None for p in speculative)


def test_the_baseline_gives_the_same_outputs_with_more_prefill(engine, baseline_engine) -> None:
    # a fixed prompt no other test uses: uncached, and the same greedy margins every time
    # (a fresh random one now and then puts two tokens within float32 rounding of each other)
    nonce = "baseline-comparison"
    planned = run_on(engine, fan_out(nonce))
    baseline = run_on(baseline_engine, fan_out(nonce), schedule="sequential")
    assert planned.status == baseline.status == "succeeded"
    assert baseline.outputs == planned.outputs
    assert baseline.trace.cached_tokens == 0
    assert baseline.trace.prefill_computed > planned.trace.prefill_computed + 100
    spans = sorted(baseline.trace.nodes, key=lambda n: n.start)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))


def test_a_thread_extends_its_kv_instead_of_prefilling_again(engine) -> None:
    result = run_on(engine, thread())
    assert result.status == "succeeded", result.error
    first, second = result.trace.node("first")[0], result.trace.node("second")[0]
    conversation = first.prompt_tokens + first.generated_tokens
    assert second.prompt_tokens > conversation
    assert second.cached_tokens >= 16 * ((conversation - 16) // 16)
    assert result.outputs["a"] and result.outputs["b"]


def test_a_fan_out_forks_the_thread_and_a_join_sees_both_branches(engine) -> None:
    result = run_on(engine, forked_thread())
    assert result.status == "succeeded", result.error
    pre, left, right, join = (result.trace.node(n)[0] for n in ("pre", "left", "right", "join"))
    shared = pre.prompt_tokens + pre.generated_tokens
    own = {n.node_id: n.prompt_tokens - shared for n in (left, right)}
    assert all(0 < extra < 20 for extra in own.values())  # neither sees the other's turn
    assert overlapping(left, right)
    assert all(n.cached_tokens >= 16 * ((shared - 16) // 16) for n in (left, right))
    both = shared + sum(own.values()) + left.generated_tokens + right.generated_tokens
    assert join.prompt_tokens > both


def test_the_same_seed_gives_the_same_outputs(engine) -> None:
    runs = [run_on(engine, sampled(), seed=7).outputs for _ in range(2)]
    assert runs[0] == runs[1]
    assert all(runs[0].values())


def test_an_llm_loop_past_its_visit_limit_fails_naming_the_node(engine) -> None:
    flow = workflow({
        "limits": {"max_node_visits": 2},
        "defaults": {"max_tokens": 2},
        "nodes": [{"id": "start", "type": "set", "assign": {"topic": "'firewalls'"}},
                  {"id": "think", "type": "llm", "output": "idea",
                   "prompt": "Say one word about {{ topic }}."}],
        "edges": [{"from": "start", "to": "think"},
                  {"from": "think", "to": "think", "when": "idea | length >= 0"}],
    })
    result = run_on(engine, flow)
    assert result.status == "failed" and result.error_node == "think"
    assert "node 'think'" in result.error and "max_node_visits (2)" in result.error
    assert [n.status for n in result.trace.node("think")] == ["succeeded", "succeeded"]


def _tool_flow(tool: str, timeout_s: float = 30) -> object:
    return workflow({
        "defaults": {"max_tokens": 3},
        "nodes": [{"id": "ask", "type": "llm", "output": "word", "prompt": "Say hello."},
                  {"id": "call", "type": "tool", "tool": tool, "args": {"text": "{{ word }}"},
                   "output": "out", "timeout_s": timeout_s}],
        "edges": [{"from": "ask", "to": "call"}],
    })


def test_tool_exceptions_and_timeouts_fail_the_run_naming_the_node(engine) -> None:
    tools = ToolRegistry()

    def explode(text: str) -> str:
        raise RuntimeError(f"cannot handle {len(text)} characters")

    async def dawdle(text: str) -> str:
        await asyncio.sleep(10)
        return text

    tools.register("explode", explode)
    tools.register("dawdle", dawdle)
    failed = run_on(engine, _tool_flow("explode"), tools=tools)
    assert failed.status == "failed" and failed.error_node == "call"
    assert "node 'call': tool 'explode': RuntimeError: cannot handle" in failed.error
    assert failed.state["word"]  # the state so far is kept
    assert [n.node_id for n in failed.trace.nodes] == ["ask", "call"]
    started = time.monotonic()
    slow = run_on(engine, _tool_flow("dawdle", timeout_s=0.3), tools=tools)
    assert time.monotonic() - started < 8
    assert slow.status == "failed" and slow.error_node == "call"
    assert "tool 'dawdle': timed out after 0.3 s" in slow.error


def test_missing_input_is_an_error_naming_the_input_and_its_reader(engine) -> None:
    flow = workflow({
        "inputs": {"alert": {"type": "string"}},
        "nodes": [{"id": "triage", "type": "llm", "output": "x", "prompt": "{{ alert }}"}],
    })
    result = run_on(engine, flow)
    assert result.status == "failed"
    assert result.error == "missing required input 'alert' (read by node 'triage')"
    assert result.error_node == "triage"


def test_an_unsatisfiable_constraint_fails_naming_the_node(engine) -> None:
    flow = workflow({
        "nodes": [{"id": "score", "type": "llm", "output": "n", "prompt": "Pick a number.",
                   "json_schema": {"type": "integer", "minimum": 5, "maximum": 1}}],
    })
    result = run_on(engine, flow)
    assert result.status == "failed" and result.error_node == "score"
    assert result.error.startswith("node 'score': constraint cannot be satisfied")
    assert "minimum greater than maximum" in result.error
    empty = workflow({
        "nodes": [{"id": "nothing", "type": "llm", "output": "x", "prompt": "Say hi.",
                   "regex": "[^\\s\\S]", "max_tokens": 4}],
    })
    result = run_on(engine, empty)
    assert result.status == "failed" and result.error_node == "nothing"
    assert "does not match its regex" in result.error
    assert "allowed no output" in result.error


def test_a_cancelled_run_stops_and_names_the_node_in_flight(engine) -> None:
    flow = workflow({
        "nodes": [{"id": "story", "type": "llm", "output": "story", "max_tokens": 400,
                   "messages": [system(), {"role": "user",
                                           "content": "Write a very long report on SSH."}]}],
    })
    plan = compiler.compile(flow, engine.tokenizer)
    executor = Executor(plan, engine)

    async def cancel_after_first_tokens():
        cancel = asyncio.Event()

        def on_event(event):
            if event.kind == "token" and event.data["tokens"] >= 2:
                cancel.set()

        return await executor.run({}, on_event=on_event, cancel=cancel)

    result = asyncio.run(cancel_after_first_tokens())
    assert result.status == "cancelled" and result.error_node == "story"
    assert result.error == "run cancelled while running node 'story'"
    record = result.trace.node("story")[0]
    assert record.status == "cancelled"
    assert engine.stats().running == 0 or _drained(engine)


def _drained(engine) -> bool:
    for _ in range(50):
        if engine.stats().running == 0:
            return True
        time.sleep(0.1)
    return False
