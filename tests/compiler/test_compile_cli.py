"""`flowc compile`: formats, output file, tokenizer folder, pass tracing and exit codes."""

from __future__ import annotations

import json

import pytest
from compiler_graphs import THOUGHTS, TRIAGE
from typer.testing import CliRunner

from flowc.cli import app

PASSES = ("validate", "dataflow", "segments", "prefixes", "structure", "schedule", "estimate",
          "diagnostics")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def triage_file(tmp_path):
    path = tmp_path / "triage.json"
    path.write_text(json.dumps(TRIAGE))
    return path


def test_text_plan_on_stdout(runner, triage_file, tokenizer):
    result = runner.invoke(app, ["compile", str(triage_file)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("PLAN triage")
    assert "PREFIX GROUPS" in result.stdout


@pytest.mark.parametrize("fmt, start", [("json", "{"), ("dot", "digraph"), ("html", "<!DOCTYPE")])
def test_other_formats_to_a_file(runner, triage_file, tmp_path, fmt, start):
    out = tmp_path / f"plan.{fmt}"
    result = runner.invoke(app, ["compile", str(triage_file), "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and out.read_text().startswith(start)


def test_trace_passes_prints_each_pass_with_time_and_summary(runner, triage_file):
    result = runner.invoke(app, ["compile", str(triage_file), "--trace-passes"])
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("pass ")]
    assert [line.split()[1] for line in lines] == list(PASSES)
    assert all(" ms " in line for line in lines)
    assert "1 speculative" in lines[3]


def test_any_tokenizer_folder(runner, tmp_path, tiny_tokenizer_dir):
    path = tmp_path / "thoughts.json"
    path.write_text(json.dumps(THOUGHTS))
    result = runner.invoke(
        app, ["compile", str(path), "--tokenizer", str(tiny_tokenizer_dir), "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["tokenizer"] == tiny_tokenizer_dir.name
    first = plan["steps"][0]["call"]["segments"][0]
    assert first["text"].startswith("system: You are a careful security analyst.")


def test_invalid_graph_exits_1_with_every_error_on_stderr(runner, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"flowc": 1, "name": "bad", "nodes": [
        {"id": "a", "type": "llm", "output": "x"},
        {"id": "b", "type": "tool", "output": "y"},
    ]}))
    result = runner.invoke(app, ["compile", str(path)])
    assert result.exit_code == 1 and result.stdout == ""
    errors = result.stderr.strip().splitlines()
    assert len(errors) >= 2
    assert any("nodes[0]" in e and "prompt" in e for e in errors)
    assert any("nodes[1]" in e and "tool" in e for e in errors)


def test_bad_json_exits_1(runner, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{ not json")
    result = runner.invoke(app, ["compile", str(path)])
    assert result.exit_code == 1 and result.stderr.strip()


@pytest.mark.parametrize("args, message", [
    (["--format", "xml"], "unknown format 'xml'"),
    (["--tokenizer", "/nonexistent/tok"], "--tokenizer /nonexistent/tok: no such folder"),
])
def test_usage_errors_exit_2(runner, triage_file, args, message):
    result = runner.invoke(app, ["compile", str(triage_file), *args])
    assert result.exit_code == 2 and message in result.stderr


def test_missing_file_exits_2(runner, tmp_path):
    result = runner.invoke(app, ["compile", str(tmp_path / "absent.json")])
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_unwritable_output_exits_2(runner, triage_file, tmp_path):
    result = runner.invoke(app, ["compile", str(triage_file), "-o", str(tmp_path / "no" / "x")])
    assert result.exit_code == 2 and "cannot write" in result.stderr


def test_a_tokenizer_file_that_does_not_parse_exits_2(runner, triage_file, tmp_path,
                                                       tiny_tokenizer_dir):
    folder = tmp_path / "broken_tokenizer"
    folder.mkdir()
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        if (tiny_tokenizer_dir / name).is_file():
            (folder / name).write_bytes((tiny_tokenizer_dir / name).read_bytes())
    (folder / "tokenizer.json").write_text('{"version": "1.0", "model": ')
    result = runner.invoke(app, ["compile", str(triage_file), "--tokenizer", str(folder)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --tokenizer ")
    assert "cannot load a tokenizer" in lines[0] and "Traceback" not in result.output
