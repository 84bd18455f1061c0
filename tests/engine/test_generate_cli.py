"""`flowc generate`: only the completion on stdout, messages on stderr."""

from __future__ import annotations

from typer.testing import CliRunner

from engine.api import SamplingParams
from engine.config import EngineConfig
from engine.engine import LLMEngine
from flowc.cli import app

QUESTION = "What is the capital of France?"


def test_generate_prints_only_the_completion(default_loaded):
    result = CliRunner().invoke(app, ["generate", QUESTION, "--max-tokens", "10",
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.stderr
    tok = default_loaded.tokenizer
    text = tok.apply_chat_template([{"role": "user", "content": QUESTION}],
                                   add_generation_prompt=True, tokenize=False)
    engine = LLMEngine(EngineConfig(device="cpu", num_pages=16), loaded=default_loaded)
    expected = engine.generate([tok.encode(text, add_special_tokens=False)],
                               SamplingParams(max_tokens=10))[0].text
    assert "Paris" in expected
    assert result.stdout == expected + "\n"


def test_generate_refuses_bad_input_on_stderr():
    runner = CliRunner()
    empty = runner.invoke(app, ["generate", "   "])
    assert empty.exit_code == 2 and empty.stdout == "" and "empty" in empty.stderr
    missing = runner.invoke(app, ["generate", "hi", "--model", "/no/such/model.gguf"])
    assert missing.exit_code == 1 and missing.stdout == "" and "not found" in missing.stderr
