"""The official openai client against the OpenAI-compatible routes of a live server."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest
from live_server import LiveServer

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 30},
                   "population": {"type": "integer"}},
    "required": ["city", "population"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def oai(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0,
                         timeout=120)


def test_models(oai: openai.OpenAI) -> None:
    models = oai.models.list().data
    assert len(models) == 1 and models[0].id


def test_chat(oai: openai.OpenAI) -> None:
    answer = oai.chat.completions.create(model="default", messages=QUESTION, max_tokens=16,
                                         temperature=0)
    choice = answer.choices[0]
    assert "Paris" in choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert answer.usage.completion_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_chat_streaming_matches_the_whole_answer(oai: openai.OpenAI) -> None:
    whole = oai.chat.completions.create(model="default", messages=QUESTION, max_tokens=16,
                                        temperature=0).choices[0].message.content
    stream = oai.chat.completions.create(model="default", messages=QUESTION, max_tokens=16,
                                         temperature=0, stream=True,
                                         stream_options={"include_usage": True})
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces) == whole
    assert len([p for p in pieces if p]) > 1
    assert finish in ("stop", "length") and usage.completion_tokens > 0


def test_json_schema_response_validates(oai: openai.OpenAI) -> None:
    answer = oai.chat.completions.create(
        model="default", max_tokens=80, temperature=0,
        messages=[{"role": "user", "content": "Name a big city and its population as JSON."}],
        response_format={"type": "json_schema",
                         "json_schema": {"name": "city", "schema": CITY_SCHEMA, "strict": True}})
    jsonschema.validate(json.loads(answer.choices[0].message.content), CITY_SCHEMA)


def test_n_seed_stop_and_logprobs(oai: openai.OpenAI) -> None:
    def ask():
        return oai.completions.create(model="default", prompt="My favourite animal is",
                                      max_tokens=12, n=3, temperature=1.0, seed=11, stop=["."],
                                      logprobs=1)

    first, second = ask(), ask()
    assert [c.text for c in first.choices] == [c.text for c in second.choices]
    assert len(first.choices) == 3 and len({c.text for c in first.choices}) > 1
    for choice in first.choices:
        assert "." not in choice.text
        assert len(choice.logprobs.tokens) == len(choice.logprobs.token_logprobs) > 0
        assert all(lp <= 0 for lp in choice.logprobs.token_logprobs)


def test_chat_logprobs_and_completion_stream(oai: openai.OpenAI) -> None:
    answer = oai.chat.completions.create(model="default", messages=QUESTION, max_tokens=6,
                                         temperature=0, logprobs=True)
    content = answer.choices[0].logprobs.content
    assert "".join(t.token for t in content) == answer.choices[0].message.content
    stream = oai.completions.create(model="default", prompt="One, two,", max_tokens=6,
                                    temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in stream if c.choices)


def test_bad_requests_are_400(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="default", messages=QUESTION, max_tokens=0)
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="default", messages=[], max_tokens=4)
    with pytest.raises(openai.BadRequestError):
        oai.completions.create(model="default", prompt="x", max_tokens=100_000)


def test_chat_stream_with_n_choices(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(model="default", messages=QUESTION, max_tokens=4,
                                         n=2, temperature=0.9, seed=5, stream=True)
    texts, finished = {0: "", 1: ""}, {}
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finished[choice.index] = choice.finish_reason
    assert set(finished) == {0, 1} and all(texts.values())


def test_completion_from_token_ids_and_echo(oai: openai.OpenAI) -> None:
    from compiler.tokenizer import load_tokenizer

    ids = load_tokenizer().encode("The sky is", add_special_tokens=False)
    by_text = oai.completions.create(model="default", prompt="The sky is", max_tokens=5,
                                     temperature=0)
    by_ids = oai.completions.create(model="default", prompt=ids, max_tokens=5, temperature=0)
    assert by_ids.choices[0].text == by_text.choices[0].text
    assert by_ids.usage.prompt_tokens == len(ids)
    echoed = oai.completions.create(model="default", prompt="The sky is", max_tokens=5,
                                    temperature=0, echo=True)
    assert echoed.choices[0].text == "The sky is" + by_text.choices[0].text


LONG_CHAT = [{"role": "user", "content": "alert " * 9000}]
BAD_SCHEMA = {"type": "json_schema", "json_schema": {"name": "bad", "schema": {"type": 5}}}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("messages", "response_format", "words"), [
    (LONG_CHAT, None, "context"),
    (QUESTION, BAD_SCHEMA, "json_schema"),
])
def test_requests_the_engine_refuses_are_4xx_with_a_message(
        oai: openai.OpenAI, server: LiveServer, stream: bool, messages: list,
        response_format: dict | None, words: str) -> None:
    extra = {"response_format": response_format} if response_format else {}
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model="default", messages=messages, max_tokens=8,
                                    stream=stream, **extra)
    assert words in json.dumps(info.value.body)
    assert "Traceback" not in info.value.response.text
    answer = oai.chat.completions.create(model="default", messages=QUESTION, max_tokens=4,
                                         temperature=0)
    assert answer.choices[0].message.content  # the server serves on
