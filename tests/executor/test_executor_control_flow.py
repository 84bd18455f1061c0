"""Routing, joins, loops, maps and reducers of the executor's dataflow.

These graphs have no llm node, so no model runs: `NoModelEngine` is a test double that only
answers `stats()` and fails any generation; it exercises routing logic alone. Everything that
calls a model is tested on the real engine in test_real_engine.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import compiler
from engine.api import EngineAPI, EngineStats
from executor import Executor, RunResult, Schedule, ToolRegistry
from graph import Workflow


class NoModelEngine(EngineAPI):
    """Test double for routing logic: no model, every model call is a test failure."""

    def __init__(self) -> None:
        self.counters = EngineStats()

    model_name = "none"
    tokenizer = None
    eos_token_ids = ()
    page_size = 16
    max_context = 2048

    def check(self, token_ids, sampling) -> None:
        raise AssertionError("no model call expected")

    def close(self) -> None:
        pass

    async def prefill(self, token_ids, priority=0):
        raise AssertionError("no model call expected")

    def release(self, handle) -> None:
        raise AssertionError("no model call expected")

    async def generate(self, token_ids, sampling, priority=0, request_id=None):
        raise AssertionError("no model call expected")

    def stream(self, token_ids, sampling, priority=0, request_id=None):
        raise AssertionError("no model call expected")

    async def score(self, token_ids, continuations, priority=0):
        raise AssertionError("no model call expected")

    def abort(self, request_id: str) -> None:
        pass

    def stats(self) -> EngineStats:
        return self.counters


def run(spec: dict[str, Any], inputs: dict[str, Any] | None = None,
        tools: ToolRegistry | None = None,
        schedule: Schedule = Schedule.PLANNED) -> RunResult:
    workflow = Workflow.model_validate({"flowc": 1, "name": "t", **spec})
    plan = compiler.compile(workflow)
    executor = Executor(plan, NoModelEngine(), tools=tools, schedule=schedule)
    return asyncio.run(executor.run(inputs or {}))


def ran(result: RunResult) -> list[str]:
    return [n.node_id for n in sorted(result.trace.nodes, key=lambda n: n.start)]


def setter(node_id: str, **assign: str) -> dict[str, Any]:
    return {"id": node_id, "type": "set", "assign": assign}


ROUTER = {
    "inputs": {"n": {"type": "integer", "default": 5}},
    "nodes": [
        setter("classify", label="'big' if n > 3 else 'small'"),
        setter("big", path="'big'"),
        setter("small", path="'small'"),
        setter("join", done="path ~ '!'"),
    ],
    "edges": [
        {"from": "classify", "to": "big", "when": "label == 'big'"},
        {"from": "classify", "to": "small", "when": "else"},
        {"from": "big", "to": "join"},
        {"from": "small", "to": "join"},
    ],
    "outputs": {"done": "{{ done }}"},
}


@pytest.mark.parametrize(("n", "taken"), [(5, "big"), (1, "small")])
def test_router_takes_one_branch_and_the_join_does_not_hang(n: int, taken: str) -> None:
    result = run(ROUTER, {"n": n})
    assert result.status == "succeeded", result.error
    assert result.outputs == {"done": f"{taken}!"}
    assert ran(result) == ["classify", taken, "join"]


def test_every_when_edge_that_holds_fires_and_else_only_when_none_did() -> None:
    spec = {
        "state": {"hits": {"reducer": "append"}},
        "nodes": [setter("start", x="2"), setter("a", hits="'a'"), setter("b", hits="'b'"),
                  setter("c", hits="'c'")],
        "edges": [
            {"from": "start", "to": "a", "when": "x > 1"},
            {"from": "start", "to": "b", "when": "x > 0"},
            {"from": "start", "to": "c", "when": "else"},
        ],
        "outputs": {"hits": "{{ hits }}"},
    }
    result = run(spec)
    assert result.status == "succeeded", result.error
    assert sorted(result.outputs["hits"]) == ["a", "b"]


def test_a_loop_repeats_through_its_back_edge_then_exits() -> None:
    spec = {
        "nodes": [setter("init", i="0"), setter("step", i="i + 1"), setter("done", out="i * 10")],
        "edges": [
            {"from": "init", "to": "step"},
            {"from": "step", "to": "step", "when": "i < 4"},
            {"from": "step", "to": "done", "when": "else"},
        ],
        "outputs": {"out": "{{ out }}"},
    }
    result = run(spec)
    assert result.status == "succeeded", result.error
    assert result.outputs == {"out": 40}
    assert [n.visit for n in result.trace.node("step")] == [1, 2, 3, 4]


def test_a_join_waits_for_a_loop_that_can_still_fire_into_it() -> None:
    spec = {
        "nodes": [setter("init", i="0"), setter("step", i="i + 1"), setter("side", s="'side'"),
                  setter("join", out="s ~ (i | string)")],
        "edges": [
            {"from": "init", "to": "step"},
            {"from": "step", "to": "step", "when": "i < 3"},
            {"from": "step", "to": "join", "when": "else"},
            {"from": "side", "to": "join"},
        ],
        "outputs": {"out": "{{ out }}"},
    }
    result = run(spec)
    assert result.status == "succeeded", result.error
    assert result.outputs == {"out": "side3"}
    assert len(result.trace.node("join")) == 1


def test_loop_limit_exceeded_names_the_node_and_keeps_the_trace() -> None:
    spec = {
        "limits": {"max_node_visits": 3},
        "nodes": [setter("init", i="0"), setter("spin", i="i + 1")],
        "edges": [{"from": "init", "to": "spin"},
                  {"from": "spin", "to": "spin", "when": "i < 100"}],
    }
    result = run(spec)
    assert result.status == "failed"
    assert result.error_node == "spin"
    assert "node 'spin'" in result.error and "max_node_visits (3)" in result.error
    assert len(result.trace.node("spin")) == 3
    assert result.state["i"] == 3


def test_map_runs_its_body_per_item_with_results_in_order() -> None:
    spec = {
        "inputs": {"xs": {"type": "array", "default": [3, 1, 2]}},
        "nodes": [{
            "id": "each", "type": "map", "over": "xs", "as": "x", "output": "ys",
            "max_concurrency": 2,
            "body": {"nodes": [setter("sq", y="x * x"), setter("tag", t="loop.index0")],
                     "edges": [{"from": "sq", "to": "tag"}],
                     "result": "{{ [y, t] }}"},
        }],
        "outputs": {"ys": "{{ ys }}"},
    }
    result = run(spec)
    assert result.status == "succeeded", result.error
    assert result.outputs == {"ys": [[9, 0], [1, 1], [4, 2]]}
    assert sorted(n.item for n in result.trace.node("each.sq")) == [(0,), (1,), (2,)]


def test_reducers_combine_writes_of_parallel_branches() -> None:
    spec = {
        "state": {"tags": {"reducer": "extend"}, "info": {"reducer": "merge"}},
        "nodes": [setter("a", tags="['a1', 'a2']", info="{'a': 1}"),
                  setter("b", tags="['b1']", info="{'b': 2}"),
                  setter("join", n="tags | length")],
        "edges": [{"from": "a", "to": "join"}, {"from": "b", "to": "join"}],
        "outputs": {"n": "{{ n }}", "info": "{{ info }}"},
    }
    result = run(spec)
    assert result.status == "succeeded", result.error
    assert result.outputs == {"n": 3, "info": {"a": 1, "b": 2}}


def test_tool_nodes_render_their_arguments_and_errors_name_the_node() -> None:
    tools = ToolRegistry.with_builtins()
    spec = {
        "inputs": {"expr": {"type": "string", "default": "6 * 7"}},
        "nodes": [{"id": "calc", "type": "tool", "tool": "calculator",
                   "args": {"expression": "{{ expr }}"}, "output": "answer"}],
        "outputs": {"answer": "{{ answer }}"},
    }
    assert run(spec, tools=tools).outputs == {"answer": 42}
    failed = run(spec, {"expr": "1 / 0"}, tools=tools)
    assert failed.status == "failed" and failed.error_node == "calc"
    assert "division by zero" in failed.error


def test_missing_and_badly_typed_inputs_are_clear_errors() -> None:
    spec = {
        "inputs": {"n": {"type": "integer"}},
        "nodes": [setter("double", m="n * 2")],
        "outputs": {"m": "{{ m }}"},
    }
    missing = run(spec)
    assert missing.status == "failed"
    assert missing.error == "missing required input 'n' (read by node 'double')"
    assert missing.error_node == "double"
    assert run(spec, {"n": "21"}).outputs == {"m": 42}
    bad = run(spec, {"n": "many"})
    assert bad.error == "input 'n' must be of type integer, got 'many'"
    unknown = run(spec, {"n": 1, "k": 2})
    assert "unknown input 'k'" in unknown.error


def test_the_baseline_runs_one_node_at_a_time_with_the_same_outputs() -> None:
    fast = run(ROUTER, {"n": 5})
    slow = run(ROUTER, {"n": 5}, schedule=Schedule.SEQUENTIAL)
    assert slow.outputs == fast.outputs
    spans = sorted(slow.trace.nodes, key=lambda n: n.start)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))


SLOW_AND_FAST = {
    "nodes": [
        {"id": "slow", "type": "tool", "tool": "wait", "args": {"seconds": 0.3}, "output": "s"},
        {"id": "fast", "type": "tool", "tool": "wait", "args": {"seconds": 0.01}, "output": "f"},
        {"id": "after_fast", "type": "set", "assign": {"g": "f + '!'"}},
        {"id": "join", "type": "set", "assign": {"j": "s + g"}},
    ],
    "edges": [{"from": "fast", "to": "after_fast"}, {"from": "slow", "to": "join"},
              {"from": "after_fast", "to": "join"}],
    "outputs": {"j": "{{ j }}"},
}


def waiting_tools() -> ToolRegistry:
    async def wait(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return f"{seconds:g}"

    tools = ToolRegistry()
    tools.register("wait", wait)
    return tools


@pytest.mark.parametrize("schedule", list(Schedule))
def test_every_schedule_gives_the_same_outputs(schedule: Schedule) -> None:
    result = run(SLOW_AND_FAST, tools=waiting_tools(), schedule=schedule)
    assert result.status == "succeeded", result.error
    assert result.outputs == {"j": "0.30.01!"}
    assert result.trace.schedule == schedule
    assert result.trace.to_dict()["schedule"] == str(schedule)


def test_dataflow_starts_a_node_once_its_inputs_are_done() -> None:
    result = run(SLOW_AND_FAST, tools=waiting_tools(), schedule=Schedule.DATAFLOW)
    slow, after_fast = result.trace.node("slow")[0], result.trace.node("after_fast")[0]
    assert after_fast.start < slow.end


def test_a_superstep_starts_after_every_node_of_the_previous_one_finished() -> None:
    result = run(SLOW_AND_FAST, tools=waiting_tools(), schedule=Schedule.SUPERSTEP)
    slow, fast = result.trace.node("slow")[0], result.trace.node("fast")[0]
    after_fast = result.trace.node("after_fast")[0]
    assert fast.start < slow.end  # one superstep: both submitted together
    assert after_fast.start >= slow.end


def test_cancelling_the_caller_stops_the_run_and_its_tools() -> None:
    started, finished = [], []

    async def wait_long(seconds: float) -> str:
        started.append(seconds)
        await asyncio.sleep(seconds)
        finished.append(seconds)
        return "late"

    tools = ToolRegistry()
    tools.register("wait_long", wait_long)
    spec = {"nodes": [{"id": "wait", "type": "tool", "tool": "wait_long",
                       "args": {"seconds": 0.5}, "output": "x"}]}
    plan = compiler.compile(Workflow.model_validate({"flowc": 1, "name": "t", **spec}))
    executor = Executor(plan, NoModelEngine(), tools=tools)

    async def give_up() -> None:
        task = asyncio.ensure_future(executor.run({}))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.6)

    asyncio.run(give_up())
    assert started == [0.5] and finished == []


@pytest.mark.parametrize(("flag", "expected"), [("yes", ["a"]), ("no", ["a", "b"])])
def test_when_edge_to_done_ends_the_branch_and_suppresses_else(flag: str, expected: list[str]):
    result = run({
        "inputs": {"flag": {"type": "string"}},
        "nodes": [{"id": "a", "type": "set", "assign": {"x": "flag"}},
                  {"id": "b", "type": "set", "assign": {"y": "1"}}],
        "edges": [{"from": "a", "to": "done", "when": "x == 'yes'"},
                  {"from": "a", "to": "b", "when": "else"}],
    }, {"flag": flag})
    assert result.status == "succeeded"
    assert ran(result) == expected
