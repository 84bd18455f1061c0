"""A workflow on a `dummy:SHAPE` model with an exported tokenizer folder: what a GPU machine
without the default model's package runs."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from compiler import load_tokenizer
from flowc.cli import app

WORKFLOW = {
    "flowc": 1, "name": "tiny",
    "nodes": [{"id": "say", "type": "llm", "output": "said", "max_tokens": 3,
               "prompt": "Say something about {{ topic }}."}],
    "inputs": {"topic": {"type": "string", "default": "owls"}},
    "outputs": {"said": "{{ said }}"},
}


def test_an_exported_tokenizer_runs_a_dummy_model(tmp_path: Path) -> None:
    folder = tmp_path / "tokenizer"
    exported = CliRunner().invoke(app, ["export-tokenizer", str(folder)])
    assert exported.exit_code == 0, exported.output
    files = {p.name for p in folder.iterdir()}
    assert "tokenizer.json" in files and "tokenizer_config.json" in files
    assert sum(p.stat().st_size for p in folder.iterdir()) < 20e6  # carried to a GPU machine
    from transformers import AutoTokenizer

    default, exported_tokenizer = load_tokenizer(), AutoTokenizer.from_pretrained(str(folder))
    chat = [{"role": "user", "content": "Hi {{ x }}"}]
    assert exported_tokenizer.apply_chat_template(chat, tokenize=True) == \
        default.apply_chat_template(chat, tokenize=True)

    workflow = tmp_path / "tiny.json"
    workflow.write_text(json.dumps(WORKFLOW))
    trace = tmp_path / "trace.json"
    run = CliRunner().invoke(app, ["run", str(workflow), "--model", "dummy:qwen2.5-0.5b",
                                   "--tokenizer", str(folder), "--trace", str(trace)])
    assert run.exit_code == 0, run.output
    assert isinstance(json.loads(run.stdout)["said"], str)
    assert json.loads(trace.read_text())["nodes"][0]["generated_tokens"] == 3


def test_a_tokenizer_folder_needs_a_dummy_model(tmp_path: Path) -> None:
    workflow = tmp_path / "tiny.json"
    workflow.write_text(json.dumps(WORKFLOW))
    run = CliRunner().invoke(app, ["run", str(workflow), "--tokenizer", str(tmp_path)])
    assert run.exit_code == 2
    assert "dummy:SHAPE model only" in run.output and "Traceback" not in run.output
