"""vLLM's request extensions on the OpenAI-compatible routes of a live server, sent the way
vLLM clients send them (the `openai` client's `extra_body`): `ignore_eos` and
`guided_choice`."""

from __future__ import annotations

import openai
import pytest
from live_server import LiveServer

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
YES_NO = [{"role": "user", "content": "Is the sky green? Answer yes or no."}]
LABELS = ["benign", "suspicious", "malicious"]


@pytest.fixture(scope="module")
def oai(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0,
                         timeout=120)


def test_ignore_eos_generates_exactly_max_tokens(oai: openai.OpenAI) -> None:
    plain = oai.chat.completions.create(model="default", messages=QUESTION, max_tokens=24,
                                        temperature=0)
    assert plain.choices[0].finish_reason == "stop"  # the model ends this answer early
    assert plain.usage.completion_tokens < 24
    forced = oai.chat.completions.create(model="default", messages=QUESTION, max_tokens=24,
                                         temperature=0, extra_body={"ignore_eos": True})
    assert forced.choices[0].finish_reason == "length"
    assert forced.usage.completion_tokens == 24
    assert forced.choices[0].message.content.startswith(plain.choices[0].message.content)


def test_ignore_eos_on_completions_and_streams(oai: openai.OpenAI) -> None:
    answer = oai.completions.create(model="default", prompt="The capital of France is",
                                    max_tokens=20, temperature=0, n=2, seed=3,
                                    extra_body={"ignore_eos": True})
    assert [c.finish_reason for c in answer.choices] == ["length", "length"]
    assert answer.usage.completion_tokens == 40
    stream = oai.chat.completions.create(model="default", messages=QUESTION, max_tokens=20,
                                         temperature=0, stream=True,
                                         stream_options={"include_usage": True},
                                         extra_body={"ignore_eos": True})
    chunks = list(stream)
    usage = next(c.usage for c in chunks if c.usage)
    finish = [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason]
    assert finish == ["length"] and usage.completion_tokens == 20


def test_guided_choice_answers_exactly_one_choice(oai: openai.OpenAI) -> None:
    greedy = oai.chat.completions.create(model="default", messages=YES_NO, max_tokens=8,
                                         temperature=0, extra_body={"guided_choice": ["yes", "no"]})
    assert greedy.choices[0].message.content in ("yes", "no")
    assert greedy.choices[0].finish_reason == "stop"
    sampled = oai.chat.completions.create(
        model="default", n=6, seed=7, temperature=1.5, max_tokens=8,
        messages=[{"role": "user", "content": "Classify this alert: 412 failed SSH logins."}],
        extra_body={"guided_choice": LABELS, "ignore_eos": True})
    assert all(c.message.content in LABELS for c in sampled.choices)
    completion = oai.completions.create(model="default", prompt="The sky is", max_tokens=8,
                                        temperature=0, extra_body={"guided_choice": LABELS})
    assert completion.choices[0].text in LABELS


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("extra", "field", "words"), [
    ({"guided_choice": ["yes"], "response_format": {"type": "json_object"}},
     "guided_choice", "response_format"),
    ({"guided_choice": ["yes"], "response_format": {
        "type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}},
     "guided_choice", "response_format"),
    ({"guided_choice": []}, "guided_choice", "at least 1 item"),
    ({"guided_choice": ["yes", ""]}, "guided_choice[1]", "at least 1 character"),
    ({"ignore_eos": "sometimes"}, "ignore_eos", "boolean"),
])
def test_bad_extension_requests_are_400(oai: openai.OpenAI, stream: bool, extra: dict,
                                        field: str, words: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model="default", messages=YES_NO, max_tokens=4,
                                    stream=stream, extra_body=extra)
    error = info.value.body
    assert error["param"].endswith(field) and words in error["message"], error
