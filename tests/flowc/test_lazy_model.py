"""The model loads only when a run reaches its first `llm` or `select` node: a run that fails,
or routes to its end, before one never loads it (the lazy engine's `model_loaded` says so, and
a `flowc run` process never imports torch)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import flowc

ROOT = Path(__file__).resolve().parents[2]

GATED = {
    "flowc": 1,
    "name": "gated_answer",
    "inputs": {"question": {"type": "string", "default": ""},
               "divisor": {"type": "integer", "default": 1}},
    "nodes": [
        {"id": "gate", "type": "set",
         "assign": {"asked": "question != ''", "share": "10 // divisor"}},
        {"id": "answer", "type": "llm", "max_tokens": 8, "output": "reply",
         "messages": [{"role": "user", "content": "{{ question }}"}]},
    ],
    "edges": [
        {"from": "gate", "to": "answer", "when": "asked"},
        {"from": "gate", "to": "done", "when": "else"},
    ],
    "outputs": {"asked": "{{ asked }}"},
}


@pytest.fixture
def engine():
    engine = flowc.make_engine(lazy=True)
    yield engine
    engine.close()


def test_a_run_that_routes_to_its_end_first_loads_no_model(engine) -> None:
    result = flowc.run(GATED, {"question": ""}, engine=engine)
    assert result.status == "succeeded" and result.outputs == {"asked": False}
    assert engine.model_loaded is False


def test_a_run_whose_first_node_fails_loads_no_model(engine) -> None:
    result = flowc.run(GATED, {"question": "Why?", "divisor": 0}, engine=engine)
    assert result.status == "failed" and result.error_node == "gate"
    assert engine.model_loaded is False


def test_the_first_llm_node_loads_the_model_and_answers(engine) -> None:
    result = flowc.run(GATED, {"question": "What is the capital of France?"}, engine=engine)
    assert result.status == "succeeded", result.error
    assert engine.model_loaded is True
    answer = result.trace.nodes[-1]
    assert answer.node_id == "answer" and answer.generated_tokens > 0
    assert engine.stats().steps > 0


def test_flowc_run_that_ends_before_its_llm_node_never_imports_torch(tmp_path) -> None:
    graph = tmp_path / "gated.json"
    graph.write_text(json.dumps(GATED))
    code = ("import sys\nfrom flowc.cli import main\n"
            f"try:\n    main(['run', {str(graph)!r}])\n"
            "except SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['{"asked": false}', "False"]
