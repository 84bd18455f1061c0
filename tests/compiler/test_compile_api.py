"""`compiler.compile`: invalid workflows, warnings, the pass hook and tokenizer arguments."""

from __future__ import annotations

import pytest
from compiler_graphs import THOUGHTS

import compiler
from graph.errors import GraphError
from graph.model import Workflow


def test_invalid_workflow_raises_graph_error_with_every_problem(tokenizer):
    data = {"flowc": 1, "name": "bad", "nodes": [
        {"id": "a", "type": "llm", "output": "x", "prompt": "Use {{ missing }}."},
        {"id": "b", "type": "llm", "output": "y", "prompt": "And {{ absent }}."},
    ]}
    with pytest.raises(GraphError) as caught:
        compiler.compile(Workflow.model_validate(data), tokenizer)
    nodes = sorted(p.node_id for p in caught.value.problems)
    assert nodes == ["a", "b"]
    assert any("missing" in p.message for p in caught.value.problems)


def test_graph_warnings_become_diagnostics(tokenizer):
    data = {"flowc": 1, "name": "warned", "nodes": [
        {"id": "a", "type": "llm", "output": "x", "prompt": "Hi."},
        {"id": "b", "type": "llm", "output": "y", "prompt": "Again."},
        {"id": "c", "type": "llm", "output": "z", "prompt": "Never."},
    ], "edges": [{"from": "a", "to": "b"}, {"from": "c", "to": "c", "when": "z == 'x'"}]}
    plan = compiler.compile(Workflow.model_validate(data), tokenizer)
    [warning] = [d for d in plan.diagnostics if d.severity == "warning"]
    assert warning.node_id == "c" and warning.path == "nodes[2]"
    assert "unreachable" in warning.message


def test_trace_hook_sees_every_pass_in_order(tokenizer):
    seen: list[tuple[str, str]] = []
    compiler.compile(Workflow.model_validate(THOUGHTS), tokenizer,
                     trace=lambda p, ctx, seconds: seen.append((p.name, p.summary(ctx))))
    assert [name for name, _ in seen] == [
        "validate", "dataflow", "segments", "prefixes", "structure", "schedule", "estimate",
        "diagnostics",
    ]
    assert dict(seen)["prefixes"].startswith("1 prefix groups")


def test_tokenizer_may_be_a_folder_path(tiny_tokenizer_dir, tokenizer):
    workflow = Workflow.model_validate(THOUGHTS)
    tiny = compiler.compile(workflow, str(tiny_tokenizer_dir))
    default = compiler.compile(workflow, tokenizer)
    assert tiny.tokenizer == tiny_tokenizer_dir.name != default.tokenizer
    assert tiny.step("think0").call.segments[0].token_ids != default.step(
        "think0").call.segments[0].token_ids
