"""The workflow benchmark at its small size on the embedded model: the compiled plan (A) and
the superstep baseline (B) give the same greedy outputs, decode as many tokens, and the plan
computes no more prefill tokens than the baseline, nor less than the least the prompts it
sent need.

The engine runs in float64: A and B batch the same calls differently, and in float32 a
greedy choice between two logits within rounding of each other can go either way with the
batch's shape (the cascade and plain attention paths, and the matmuls, round differently).
In float64 such a near-tie would need logits equal to about 1e-15."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from fixed_length import FixedLengthEngine  # noqa: E402
from workflow_bench import SCHEDULES, run_executor  # noqa: E402
from workloads import workloads  # noqa: E402

import flowc  # noqa: E402
from graph import load  # noqa: E402


@pytest.fixture(scope="module")
def fixed():
    """An engine on the embedded model in float64, every free-text call decoding exactly its
    max_tokens."""
    from engine import AsyncEngine
    from engine.config import EngineConfig

    engine = AsyncEngine(EngineConfig(model="default", device="cpu", dtype="float64",
                                      num_pages=512, seed=0))
    yield FixedLengthEngine(engine)
    engine.close()


@pytest.fixture(scope="module")
def tools():
    return flowc.make_tools([ROOT / "examples" / "tools.py"])


def greedy(workflow: dict) -> dict:
    """The workflow with every call greedy (sampled calls differ only by seed anyway)."""
    nodes = [*workflow["nodes"]]
    for node in workflow["nodes"]:
        if node.get("type") == "map":
            nodes += node["body"]["nodes"]
    for node in nodes:
        node.pop("temperature", None)
    workflow.setdefault("defaults", {})["temperature"] = 0.0
    return workflow


@pytest.mark.parametrize("workload", workloads("small"), ids=lambda w: w.name)
def test_the_plan_gives_the_baselines_outputs_with_no_more_prefill(workload, fixed, tools):
    plan = flowc.compile(load(greedy(workload.workflow)), fixed.tokenizer)
    measured = {}
    for mode in ("A", "B"):
        asyncio.run(fixed.inner.clear_prefix_cache())
        measured[mode] = asyncio.run(
            run_executor(fixed, plan, tools, SCHEDULES[mode], workload.instances, seed=0))
    a, b = measured["A"], measured["B"]
    count = len(workload.instances)
    assert a["succeeded"] == b["succeeded"] == count, a["errors"] + b["errors"]
    assert a["outputs"] == b["outputs"]
    assert a["generated_tokens"] == b["generated_tokens"]
    assert a["prefill_computed"] <= b["prefill_computed"]
    # the floor for the prompts each mode actually sent holds (a floor above what the engine
    # computed would mean the floor or the engine's accounting is wrong)
    assert a["prefill_computed"] >= a["least_prefill"] > 0
    assert b["prefill_computed"] >= b["least_prefill"]
