"""`flowc run` end to end: inputs, JSON Lines batches on one engine, traces and EXPLAIN."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from executor_workflows import fan_out
from typer.testing import CliRunner

from flowc.cli import app

ALERTS = ["45 failed SSH logins from 203.0.113.7.", "powershell.exe spawned by winword.exe.",
          "3 GB sent to an unknown host at 02:14."]


def _write_workflow(tmp_path: Path) -> Path:
    path = tmp_path / "fan_out.json"
    spec = fan_out(uuid.uuid4().hex).model_dump(by_alias=True, exclude_none=True)
    path.write_text(json.dumps(spec))
    return path


def test_a_jsonl_batch_runs_on_one_engine_with_one_line_of_outputs_per_instance(
        tmp_path: Path) -> None:
    workflow = _write_workflow(tmp_path)
    batch = tmp_path / "alerts.jsonl"
    batch.write_text("".join(json.dumps({"alert": a}) + "\n" for a in ALERTS))
    trace = tmp_path / "trace.json"
    result = CliRunner().invoke(app, ["run", str(workflow), "--inputs-jsonl", str(batch),
                                      "--trace", str(trace), "--explain"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(ALERTS)
    assert all(line["severity"] in ("low", "medium", "high") for line in lines)
    traces = json.loads(trace.read_text())
    assert [t["status"] for t in traces] == ["succeeded"] * len(ALERTS)
    assert all(t["totals"]["cached_tokens"] >= 3 * 64 for t in traces)
    heads = [p for t in traces for p in t["prefixes"] if p["group_id"].endswith(".head")]
    assert len(heads) == len(ALERTS)  # the static head of each run's alert prefix
    assert sum(not p["shared"] for p in heads) == 1  # prefilled once for all runs
    assert result.stderr.count("EXPLAIN ANALYZE") == len(ALERTS)
    assert "prefill tokens: predicted naive" in result.stderr


def test_input_errors_are_reported_before_any_model_loads(tmp_path: Path) -> None:
    workflow = tmp_path / "needs.json"
    workflow.write_text(json.dumps({
        "flowc": 1, "name": "needs", "inputs": {"n": {"type": "integer"}},
        "nodes": [{"id": "double", "type": "set", "assign": {"m": "n * 2"}}],
    }))
    runner = CliRunner()
    missing = runner.invoke(app, ["run", str(workflow)])
    assert missing.exit_code == 1
    assert "missing required input 'n' (read by node 'double')" in missing.stderr
    typed = runner.invoke(app, ["run", str(workflow), "--input", "n=ten"])
    assert typed.exit_code == 1
    assert "input 'n' must be of type integer, got 'ten'" in typed.stderr
    syntax = runner.invoke(app, ["run", str(workflow), "--input", "n"])
    assert syntax.exit_code == 1 and "expected NAME=VALUE" in syntax.stderr
    no_call = runner.invoke(app, ["run", str(workflow), "-i", "n=2", "--model", "dummy:nope"])
    assert no_call.exit_code == 0 and json.loads(no_call.stdout) == {}  # no model needed
    calls = tmp_path / "calls.json"
    calls.write_text(json.dumps({
        "flowc": 1, "name": "calls",
        "nodes": [{"id": "say", "type": "llm", "output": "x", "prompt": "Hi"}],
    }))
    model = runner.invoke(app, ["run", str(calls), "--model", "dummy:nope"])
    assert model.exit_code == 1 and "cannot load model 'dummy:nope'" in model.stderr
    absent = runner.invoke(app, ["run", str(tmp_path / "absent.json")])
    assert absent.exit_code == 2 and "no such file" in absent.stderr
