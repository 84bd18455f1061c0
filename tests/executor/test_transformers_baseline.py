"""The transformers baseline engine (benchmarks/transformers_engine.py) on the embedded
default model, CPU float32: it answers like flowc's engine, keeps to its choices, and runs a
workflow through the executor."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from executor_workflows import workflow

import compiler
from engine.api import ConstraintError, PromptTooLongError, SamplingParams
from executor import Executor

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from transformers_engine import TransformersEngine  # noqa: E402


@pytest.fixture(scope="module")
def hf_engine(engine: Any) -> Iterator[TransformersEngine]:
    """Over the same checkpoint folder flowc's session engine loaded."""
    baseline = TransformersEngine.from_folder(engine.engine.loaded.folder, "cpu", "float32")
    yield baseline
    baseline.close()


def chat(tokenizer: Any, text: str) -> list[int]:
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
    return tokenizer(prompt, add_special_tokens=False).input_ids


def test_greedy_generation_equals_flowc_token_for_token(engine, hf_engine) -> None:
    prompt = chat(hf_engine.tokenizer, "What is the capital of France?")
    sampling = SamplingParams(max_tokens=16)
    ours = asyncio.run(engine.generate(prompt, sampling))
    theirs = asyncio.run(hf_engine.generate(prompt, sampling))
    assert theirs.token_ids == ours.token_ids
    assert (theirs.text, theirs.finish_reason) == (ours.text, ours.finish_reason) == (
        "The capital of France is Paris.", "stop")
    assert theirs.cached_tokens == 0 and theirs.prompt_tokens == len(prompt)
    assert theirs.first_token_s > 0 and theirs.decode_s >= 0


def test_choices_constrain_the_output_and_scores_equal_flowc(engine, hf_engine) -> None:
    tokenizer = hf_engine.tokenizer
    prompt = chat(tokenizer, "Is port 22 used by SSH? Answer yes or no.")
    choices = ("maybe not", "yes", "no")
    result = asyncio.run(hf_engine.generate(prompt, SamplingParams(max_tokens=8,
                                                                   choices=choices)))
    assert result.text in choices and result.finish_reason == "stop"
    options = [tokenizer.encode(c, add_special_tokens=False) for c in choices]
    theirs = asyncio.run(hf_engine.score(prompt, options)).logprobs
    assert theirs == pytest.approx(asyncio.run(engine.score(prompt, options)).logprobs,
                                   abs=1e-3)
    with pytest.raises(ConstraintError, match="not supported"):
        hf_engine.check(prompt, SamplingParams(regex="yes|no"))
    with pytest.raises(PromptTooLongError):
        hf_engine.check(prompt, SamplingParams(max_tokens=hf_engine.max_context))


def test_a_workflow_runs_on_the_baseline_with_flowcs_outputs(engine, hf_engine) -> None:
    flow = workflow({
        "inputs": {"port": {"type": "integer", "default": 22}},
        "defaults": {"max_tokens": 8},
        "nodes": [
            {"id": "name", "type": "llm", "output": "service", "thread": "chat",
             "prompt": "Which service listens on port {{ port }}?"},
            {"id": "safe", "type": "llm", "output": "safe", "choices": ["yes", "no"],
             "prompt": "Is it safe to expose port {{ port }} to the internet?"},
            {"id": "why", "type": "llm", "output": "why", "thread": "chat",
             "prompt": "Why?", "stop": ["\n"]},
        ],
        "edges": [{"from": "name", "to": "why"}],
        "outputs": {"service": "{{ service }}", "safe": "{{ safe }}", "why": "{{ why }}"},
    })
    plan = compiler.compile(flow, hf_engine.tokenizer)
    steps_before = hf_engine.stats().steps
    result = asyncio.run(Executor(plan=plan, engine=hf_engine).run({}))
    assert result.status == "succeeded", result.error
    assert result.outputs["safe"] in ("yes", "no")
    assert result.trace.cached_tokens == 0
    # a step per generated token; 'safe' scores with one forward over its prompt and one more
    # per choice of more than one token
    tokenizer = hf_engine.tokenizer
    longer = sum(len(tokenizer.encode(c, add_special_tokens=False)) > 1 for c in ("yes", "no"))
    assert hf_engine.stats().steps - steps_before == result.trace.generated_tokens + 1 + longer
    flowc_result = asyncio.run(Executor(plan=plan, engine=engine).run({}))
    assert result.outputs == flowc_result.outputs
