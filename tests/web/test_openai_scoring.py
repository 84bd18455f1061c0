"""Scoring through the openai client: `echo` with `logprobs` scores the prompt (equal to
transformers' log-probabilities on the same weights, float32 on CPU), `max_tokens` 0 with
`echo`, `top_logprobs` filled, `logit_bias` applied."""

from __future__ import annotations

import math

import openai
import pytest
import torch
from live_server import LiveServer

PROMPT = "The capital of France is Paris, and the capital of Italy is Rome."


@pytest.fixture(scope="module")
def oai(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0,
                         timeout=120)


@pytest.fixture(scope="module")
def reference():
    """transformers on the served weights (the embedded model), float32 on CPU."""
    from transformers import AutoModelForCausalLM

    from engine import EngineConfig, load_model

    loaded = load_model(EngineConfig(model="default", device="cpu", dtype="float32"))
    model = AutoModelForCausalLM.from_pretrained(str(loaded.folder), dtype=torch.float32)
    return loaded.tokenizer, model.eval()


def test_echo_logprobs_equal_transformers(oai: openai.OpenAI, reference) -> None:
    tokenizer, model = reference
    ids = tokenizer.encode(PROMPT, add_special_tokens=False)
    answer = oai.completions.create(model="default", prompt=ids, max_tokens=0, echo=True,
                                    logprobs=0)
    choice = answer.choices[0]
    assert choice.text == PROMPT and answer.usage.completion_tokens == 0
    served = choice.logprobs.token_logprobs
    assert served[0] is None and len(served) == len(ids)
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
    want = logits.log_softmax(-1)[:-1].gather(1, torch.tensor(ids[1:]).unsqueeze(1)).squeeze(1)
    assert max(abs(a - b) for a, b in zip(served[1:], want.tolist(), strict=True)) < 1e-4
    assert "".join(choice.logprobs.tokens) == PROMPT


def test_echo_with_generation_and_top_logprobs(oai: openai.OpenAI) -> None:
    answer = oai.completions.create(model="default", prompt="One, two, three,", max_tokens=3,
                                    temperature=0, echo=True, logprobs=3)
    logprobs = answer.choices[0].logprobs
    prompt_tokens = answer.usage.prompt_tokens
    assert len(logprobs.tokens) == prompt_tokens + 3
    assert logprobs.top_logprobs[0] is None
    for token, value, top in zip(logprobs.tokens[1:], logprobs.token_logprobs[1:],
                                 logprobs.top_logprobs[1:], strict=True):
        assert len(top) == 3 and value <= max(top.values()) + 1e-6
        if value >= min(top.values()):
            assert math.isclose(top[token], value, abs_tol=1e-5)
    generated = logprobs.top_logprobs[prompt_tokens:]
    for token, top in zip(logprobs.tokens[prompt_tokens:], generated, strict=True):
        assert max(top, key=top.get) == token  # greedy picks the best alternative
    assert logprobs.text_offset[prompt_tokens] == len("One, two, three,")


def test_max_tokens_zero_needs_echo(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai.completions.create(model="default", prompt="Hello", max_tokens=0)
    assert info.value.param == "max_tokens"


def test_chat_top_logprobs(oai: openai.OpenAI) -> None:
    answer = oai.chat.completions.create(
        model="default", messages=[{"role": "user", "content": "Say hello"}], max_tokens=4,
        temperature=0, logprobs=True, top_logprobs=2)
    content = answer.choices[0].logprobs.content
    assert len(content) == answer.usage.completion_tokens
    for token in content:
        assert len(token.top_logprobs) == 2
        assert token.top_logprobs[0].token == token.token  # greedy: the best one
        assert math.isclose(token.top_logprobs[0].logprob, token.logprob, abs_tol=1e-5)
        assert token.top_logprobs[0].logprob >= token.top_logprobs[1].logprob


def test_logit_bias_is_applied(oai: openai.OpenAI, reference) -> None:
    tokenizer, _ = reference
    [banana] = tokenizer.encode(" banana", add_special_tokens=False)
    biased = oai.completions.create(model="default", prompt="The capital of France is",
                                    max_tokens=3, temperature=0,
                                    logit_bias={str(banana): 100})
    assert biased.choices[0].text == " banana" * 3
    plain = oai.completions.create(model="default", prompt="The capital of France is",
                                   max_tokens=3, temperature=0)
    [paris] = tokenizer.encode(" Paris", add_special_tokens=False)
    assert " Paris" in plain.choices[0].text
    banned = oai.completions.create(model="default", prompt="The capital of France is",
                                    max_tokens=3, temperature=0,
                                    logit_bias={str(paris): -100})
    assert " Paris" not in banned.choices[0].text
