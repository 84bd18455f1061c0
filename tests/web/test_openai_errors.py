"""OpenAI's error envelope on the OpenAI routes, seen through the official client's typed
exceptions: 400 with param and code (context_length_exceeded, streaming or not), 401, 404,
429; flowc's own routes keep their JSON-path errors."""

from __future__ import annotations

import time

import httpx
import openai
import pytest
from live_server import API_KEY, LiveServer

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
LONG = [{"role": "user", "content": "alert " * 9000}]


@pytest.fixture(scope="module")
def oai(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0,
                         timeout=120)


@pytest.mark.parametrize("stream", [False, True])
def test_context_overflow_is_400_context_length_exceeded(oai: openai.OpenAI,
                                                         stream: bool) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model="default", messages=LONG, max_tokens=8,
                                    stream=stream)
    error = info.value
    assert error.code == "context_length_exceeded" and error.param == "messages"
    assert "8192 tokens" in error.message and "9031 in the messages" in error.message
    with pytest.raises(openai.BadRequestError) as info:
        oai.completions.create(model="default", prompt="alert " * 9000, max_tokens=8,
                               stream=stream)
    assert info.value.code == "context_length_exceeded"


@pytest.mark.parametrize(("request_body", "param", "words"), [
    ({"messages": []}, "messages", "at least 1"),
    ({"messages": QUESTION, "max_tokens": 0}, "max_tokens", "greater than or equal to 1"),
    ({"messages": QUESTION, "temperature": 9}, "temperature", "less than or equal to 2"),
    ({"messages": QUESTION, "suffix": "!"}, "suffix", "not supported"),
    ({"messages": QUESTION, "functions": [{"name": "f"}]}, "functions", "not supported"),
    ({"messages": QUESTION, "presence_penalty": 0.5}, "presence_penalty", "not applied"),
    ({"messages": QUESTION, "logit_bias": {"x": 1}}, "logit_bias.x", "token ids"),
    ({"messages": QUESTION, "top_logprobs": 2}, "top_logprobs", "logprobs: true"),
    ({"messages": QUESTION, "response_format": {"type": "json_schema", "json_schema": {
        "name": "bad", "schema": {"type": 5}}}}, "response_format", "json_schema"),
])
def test_invalid_requests_are_400_with_param(oai: openai.OpenAI, request_body: dict,
                                             param: str, words: str) -> None:
    body = dict(request_body)
    messages = body.pop("messages")
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as info:
            oai.chat.completions.create(model="default", messages=messages, stream=stream,
                                        extra_body=body)
        assert info.value.param == param, info.value.body
        assert words in info.value.message
        assert info.value.body["type"] == "invalid_request_error"


def test_unknown_model_is_404(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        oai.chat.completions.create(model="gpt-9", messages=QUESTION, max_tokens=2)
    assert info.value.code == "model_not_found" and info.value.param == "model"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-9")
    served = oai.models.list().data[0].id
    assert oai.models.retrieve(served).id == served
    assert oai.models.retrieve("default").id == served


def test_wrong_key_is_401_in_the_envelope(locked: LiveServer) -> None:
    bad = openai.OpenAI(base_url=f"{locked.url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(model="default", messages=QUESTION, max_tokens=2)
    assert info.value.code == "invalid_api_key"
    assert info.value.body["type"] == "authentication_error"
    graphs = httpx.get(f"{locked.url}/v1/graphs")  # flowc's own routes keep their shape
    assert graphs.status_code == 401 and "detail" in graphs.json()


def test_busy_server_is_429_rate_limit(locked: LiveServer) -> None:
    """The locked server has one slot: a stream holds it while a second request comes."""
    good = openai.OpenAI(base_url=f"{locked.url}/v1", api_key=API_KEY, max_retries=0,
                         timeout=120)
    holding = good.chat.completions.create(model="default", messages=QUESTION, stream=True,
                                           max_tokens=200, extra_body={"ignore_eos": True})
    try:
        next(iter(holding))
        with pytest.raises(openai.RateLimitError) as info:
            good.chat.completions.create(model="default", messages=QUESTION, max_tokens=2)
        assert info.value.code == "rate_limit_exceeded"
        assert int(info.value.response.headers["retry-after"]) >= 1
    finally:
        holding.close()
    wait_slot_free(good)


def wait_slot_free(client: openai.OpenAI, timeout_s: float = 60) -> None:
    """The server frees the slot once it sees the closed stream."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.chat.completions.create(model="default", messages=QUESTION, max_tokens=1)
            return
        except openai.RateLimitError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_flowc_routes_keep_json_path_errors(server: LiveServer) -> None:
    answer = httpx.post(f"{server.url}/v1/graphs", json={"flowc": 1})
    assert answer.status_code == 422 and "errors" in answer.json()
