"""`flowc compile` on every example workflow: its prefix groups save prefill tokens, and a
graph that branches gets parallel stages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from plan_checks import check_plan
from typer.testing import CliRunner

import compiler
from compiler.graphapi import load
from flowc.cli import app

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "graphs").glob("*.json"))


def _branches(workflow) -> bool:
    """Whether two top-level nodes can be active at once: several start nodes or a node with
    several unconditional out-edges."""
    starts = {n.id for n in workflow.nodes} - {e.to for e in workflow.edges}
    fan_out: dict[str, int] = {}
    for edge in workflow.edges:
        if edge.when is None:
            fan_out[edge.from_] = fan_out.get(edge.from_, 0) + 1
    return len(starts) > 1 or any(n > 1 for n in fan_out.values())


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_plan_saves_prefill_and_shows_parallel_stages(path, tokenizer):
    result = CliRunner().invoke(app, ["compile", str(path)])
    assert result.exit_code == 0, result.stderr
    saved = [int(n) for n in re.findall(r"saves (\d+) tokens", result.stdout)]
    assert saved and sum(saved) > 0, "no prefix group saves prefill tokens"
    workflow = load(path)
    plan = compiler.compile(workflow, tokenizer)
    check_plan(plan)
    assert plan.estimate.prefill_saved == sum(saved)
    if _branches(workflow):
        assert "parallel x" in result.stdout
        assert max(len(stage) for stage in plan.stages) > 1
