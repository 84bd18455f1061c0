"""The workflow benchmark's workloads (benchmarks/workloads.py): every graph loads and compiles
with the default tokenizer at both sizes, has its intended shape, shares the prefix it is
meant to share (about the targeted size), and every instance's inputs pass the declared types."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from plan_checks import check_plan

import compiler
from compiler.plan import Plan
from graph import load_with_warnings, resolve_inputs
from graph.model import Workflow

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

from workloads import Size, Workload, workloads  # noqa: E402

NAMES = ["tree_of_thoughts", "map_reduce", "few_shot_classify", "agent_loop", "soar_triage",
         "debate"]
SIZES: list[Size] = ["small", "full"]
# the shared prefix each full workload aims at, in tokens (met within 25%)
FULL_PREFIX = {"tree_of_thoughts": 4000, "map_reduce": 1000, "few_shot_classify": 3000,
               "agent_loop": 1000, "soar_triage": 1500, "debate": 1000}
CASES = [(name, size) for size in SIZES for name in NAMES]


@cache
def _workloads(size: Size) -> dict[str, Workload]:
    return {w.name: w for w in workloads(size)}


@cache
def _compiled(name: str, size: Size, tokenizer: Any) -> tuple[Workflow, Plan]:
    workflow, warnings = load_with_warnings(_workloads(size)[name].workflow)
    assert warnings == []
    return workflow, compiler.compile(workflow, tokenizer)


def _nodes(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every node, map bodies included."""
    found = []
    for node in nodes:
        found.append(node)
        if node["type"] == "map":
            found += _nodes(node["body"]["nodes"])
    return found


def _shared_prefix(plan: Plan) -> int:
    """Tokens of the largest prefix the plan shares between calls, else of the longest static
    prefix of one call (a single-call graph shares its prefix across runs only)."""
    roots = [g.tokens for g in plan.prefix_groups if g.parent is None and not g.speculative]
    if roots:
        return max(roots)
    return max(s.call.static_prefix_tokens for s in plan.walk() if s.call is not None)


def test_workloads_are_the_six_in_order_and_deterministic():
    assert [w.name for w in workloads("small")] == NAMES
    assert workloads("small") == workloads("small")
    assert [w.name for w in workloads("full", ["debate", "map_reduce"])] == ["debate",
                                                                             "map_reduce"]
    with pytest.raises(ValueError, match="unknown workload"):
        workloads("small", ["nope"])


@pytest.mark.parametrize(("name", "size"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_workload_compiles_with_its_prefix_and_valid_instances(name, size, tokenizer):
    work = _workloads(size)[name]
    workflow, plan = _compiled(name, size, tokenizer)
    check_plan(plan)
    assert work.prefix_heavy and work.description and "\n" not in work.description
    for instance in work.instances:
        resolve_inputs(workflow.inputs, instance)
    prefix = _shared_prefix(plan)
    if size == "full":
        assert 0.75 * FULL_PREFIX[name] <= prefix <= 1.25 * FULL_PREFIX[name]
        assert workflow.limits.timeout_s >= 1800
    else:
        assert 150 <= prefix <= 600
    if plan.prefix_groups:
        assert plan.estimate.prefill_saved > 0


@pytest.mark.parametrize(("name", "size"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_calls_are_unconstrained_text_with_max_tokens_or_choices(name, size):
    nodes = _nodes(_workloads(size)[name].workflow["nodes"])
    for node in nodes:
        assert node["type"] != "select"
        if node["type"] == "llm":
            assert not {"regex", "json_schema"} & node.keys()
            if "choices" not in node:
                assert node["max_tokens"] <= (96 if size == "full" else 8)


def test_tree_of_thoughts_shape(tokenizer):
    for size, branches in (("full", 16), ("small", 3)):
        work = _workloads(size)["tree_of_thoughts"]
        nodes = {n["id"]: n for n in work.workflow["nodes"]}
        thoughts = [nodes[f"thought_{k}"] for k in range(1, branches + 1)]
        assert len(nodes) == 2 * branches + 1 and "answer" in nodes
        assert {t["temperature"] for t in thoughts} == {0.7}
        assert len({t["seed"] for t in thoughts}) == branches
        _, plan = _compiled("tree_of_thoughts", size, tokenizer)
        assert len(plan.stages[0]) == branches
        assert max(len(g.consumers) for g in plan.prefix_groups) == 2 * branches + 1
    full = {n["id"]: n for n in _workloads("full")["tree_of_thoughts"].workflow["nodes"]}
    assert full["thought_1"]["max_tokens"] == 64 and full["grade_1"]["max_tokens"] == 8


def test_map_reduce_shape(tokenizer):
    for size, chunks in (("full", 32), ("small", 3)):
        work = _workloads(size)["map_reduce"]
        assert len(work.instances[0]["chunks"]) == chunks
        _, plan = _compiled("map_reduce", size, tokenizer)
        [group] = plan.prefix_groups
        assert group.consumers == ("summarise_each.summarise", "combine")
        assert group.runs == chunks + 1


def test_few_shot_classify_shape(tokenizer):
    for size, runs in (("full", 256), ("small", 3)):
        work = _workloads(size)["few_shot_classify"]
        assert len(work.instances) == runs
        assert len({i["text"] for i in work.instances}) == runs
        [route] = work.workflow["nodes"]
        assert len(route["choices"]) == 5
        assert sum(m["role"] == "assistant" for m in route["messages"]) >= 4


def test_agent_loop_shape(tokenizer):
    for size, iterations in (("full", 8), ("small", 3)):
        work = _workloads(size)["agent_loop"]
        nodes = {n["id"]: n for n in work.workflow["nodes"]}
        assert nodes["calc"]["tool"] == "calculator"
        assert "step" in nodes["calc"]["args"]["expression"]  # never model output
        assert {nodes["setup"]["thread"], nodes["think"]["thread"]} == {"agent"}
        assert {"from": "observe", "to": "think", "when": f"step < {iterations}"} in \
            work.workflow["edges"]
        workflow, plan = _compiled("agent_loop", size, tokenizer)
        assert workflow.limits.max_node_visits >= 10
        [loop] = plan.loops
        assert set(loop.nodes) == {"think", "calc", "observe"}


def test_soar_triage_shape(tokenizer):
    for size, alerts in (("full", 64), ("small", 3)):
        work = _workloads(size)["soar_triage"]
        assert len({i["alert"] for i in work.instances}) == alerts
        _, plan = _compiled("soar_triage", size, tokenizer)
        routed = {r.target for r in plan.routes if r.source == "classify"}
        assert routed == {"contain", "investigate", "close"}
        assert all(r.when for r in plan.routes if r.source == "classify")
        assert plan.step("classify").node.choices


def test_debate_shape(tokenizer):
    for size, rounds in (("full", 4), ("small", 2)):
        work = _workloads(size)["debate"]
        ids = {n["id"] for n in work.workflow["nodes"]}
        assert ids == {f"agent_r{r}_{a}" for r in range(1, rounds + 1) for a in "abc"} | {"judge"}
        _, plan = _compiled("debate", size, tokenizer)
        assert [len(stage) for stage in plan.stages] == [3] * rounds + [1]
        assert len(plan.threads) == 3
