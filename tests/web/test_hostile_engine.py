"""Hostile input for the engine and the OpenAI routes, each sent over HTTP to a live server:
every one is a 4xx that names the problem, never a 5xx; a request that cannot be sampled
never disturbs the others; work ends with its client."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from live_server import LiveServer, tiny_graph, wait_finished

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
CHAT = {"model": "default", "messages": QUESTION, "max_tokens": 4}
COMPLETION = {"model": "default", "prompt": "The capital of France is", "max_tokens": 4}
HUGE_ID = "x" * 60_000


def chat(**fields: Any) -> dict[str, Any]:
    return {**CHAT, **fields}


def completion(**fields: Any) -> dict[str, Any]:
    return {**COMPLETION, **fields}


# (path, body, param the error names, words its message holds): answered 400 on the OpenAI
# routes, streamed or not (every refusal comes before the first byte)
OPENAI_CASES = [
    ("/v1/chat/completions", chat(temperature=float("inf")), "temperature", "finite"),
    ("/v1/chat/completions", chat(temperature=-1e-300), "temperature", "greater than or equal"),
    ("/v1/chat/completions", chat(top_p=1e-400), "top_p", "greater than 0"),
    ("/v1/chat/completions", chat(top_p=float("nan")), "top_p", "finite"),
    ("/v1/chat/completions", chat(seed=2**63), "seed", "less than 9223372036854775808"),
    ("/v1/chat/completions", chat(seed=-(2**64)), "seed", "greater than or equal"),
    ("/v1/chat/completions", chat(max_tokens=True), "max_tokens", "valid integer"),
    ("/v1/chat/completions", chat(max_tokens=2**70), "max_tokens", "less than or equal"),
    ("/v1/chat/completions", chat(max_tokens="8"), "max_tokens", "valid integer"),
    ("/v1/chat/completions", chat(n=True), "n", "valid integer"),
    ("/v1/chat/completions", chat(logprobs=1), "logprobs", "valid boolean"),
    ("/v1/chat/completions", chat(stream="yes"), "stream", "valid boolean"),
    ("/v1/chat/completions", chat(logit_bias={"5": float("inf")}), "logit_bias[5]", "finite"),
    ("/v1/chat/completions", chat(logit_bias={"99999999999999999999": 1}),
     "logit_bias.99999999999999999999", "token ids"),
    ("/v1/chat/completions", chat(response_format={"type": "json_schema", "json_schema": {
        "name": "x", "strict": 0, "schema": {"type": "object"}}}),
     "response_format.json_schema.strict", "valid boolean"),
    ("/v1/chat/completions", chat(response_format={"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "objectx"}}}), "response_format", "invalid json_schema"),
    ("/v1/chat/completions", chat(response_format={"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "string", "pattern": "(("}}}),
     "response_format", "invalid json_schema"),
    ("/v1/chat/completions", chat(guided_choice=[""]), "guided_choice[0]", "at least 1"),
    ("/v1/chat/completions", chat(messages=[{"role": "user", "content": "alert " * 9000}]),
     "messages", "maximum context length is 8192 tokens"),
    ("/v1/chat/completions", chat(model=HUGE_ID), "model", "(60000 characters) does not exist"),
    ("/v1/completions", completion(prompt=[]), "prompt", "the prompt list is empty"),
    ("/v1/completions", completion(prompt=[[]]), "prompt", "the prompt is empty"),
    ("/v1/completions", completion(prompt=""), "prompt", "the prompt is empty"),
    ("/v1/completions", completion(prompt=[5] * 9000), "messages",
     "maximum context length is 8192 tokens"),
    ("/v1/completions", completion(prompt=[49152]), "prompt", "token ids must lie in"),
    ("/v1/completions", completion(prompt=[-1]), "prompt", "token ids must lie in"),
    ("/v1/completions", completion(prompt=[2**64]), "prompt", "token ids must lie in"),
    ("/v1/completions", completion(prompt=[[1, 2], [3, 2**40]]), "prompt",
     "token ids must lie in"),
    ("/v1/completions", completion(prompt=[True, False]), "prompt", "valid"),
    ("/v1/completions", completion(prompt=["a"] * 64, n=16), "n",
     "1024 generations (64 prompts × n 16)"),
    ("/v1/completions", completion(logprobs=True), "logprobs", "valid integer"),
    ("/v1/completions", completion(echo=1), "echo", "valid boolean"),
    ("/v1/completions", completion(temperature=1e400), "temperature", "finite"),
    ("/v1/responses", {"model": "default", "input": "hi", "temperature": float("-inf")},
     "temperature", "finite"),
    ("/v1/responses", {"model": "default", "input": "hi", "max_output_tokens": 2**63},
     "max_output_tokens", "less than or equal"),
    ("/v1/responses", {"model": "default", "input": "hi", "stream": 1}, "stream",
     "valid boolean"),
    ("/v1/responses", {"model": "default", "input": "hi", "text": {"format": {
        "type": "json_schema", "name": "x", "strict": 0, "schema": {"type": "object"}}}},
     "text.format.strict", "valid boolean"),
]


def post_json(http: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    """Python's JSON writer, which spells out inf and nan as JSON parsers read them."""
    return http.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


def stream_events(answer: httpx.Response) -> list[str]:
    return [line.removeprefix("data: ") for line in answer.text.splitlines()
            if line.startswith("data: ")]


@pytest.mark.parametrize(("path", "body", "param", "words"), OPENAI_CASES)
@pytest.mark.parametrize("stream", [False, True])
def test_hostile_openai_requests_are_400s_naming_the_field(
        client: httpx.Client, path: str, body: dict[str, Any], param: str, words: str,
        stream: bool) -> None:
    if stream and "stream" not in body:
        body = {**body, "stream": True}
    answer = post_json(client, path, body)
    error = answer.json()["error"]
    expected = 404 if param == "model" else 400
    assert answer.status_code == expected, answer.text
    assert error["param"] == param, error
    assert words in error["message"], error
    assert len(answer.text) < 2000  # nothing hostile is echoed back whole


# (method, path, body as JSON text, status, path the error names, words its message holds)
# on flowc's own routes: 422 with JSON paths, 404 with a short id
def graph_text(**node_fields: Any) -> str:
    graph = tiny_graph("hostile")
    graph["nodes"][0].update(node_fields)
    return json.dumps(graph)


def with_number(literal: str) -> str:
    return graph_text()[:-1] + f', "layout": {{"hello": {{"x": {literal}, "y": 0}}}}}}'


FLOWC_CASES = [
    ("POST", "/v1/graphs", with_number("9" * 5000), 422, "$", "(5000 characters) is out of range"),
    ("POST", "/v1/graphs", with_number(str(2**63)), 422, "$", "integers are 64-bit"),
    ("POST", "/v1/graphs", with_number("1e400"), 422, "$", "numbers are finite"),
    ("POST", "/v1/graphs", with_number("NaN"), 422, "$", "numbers are finite"),
    ("POST", "/v1/graphs", graph_text(temperature=True), 422, "nodes[0].temperature",
     "valid number"),
    ("POST", "/v1/graphs", graph_text(max_tokens="8"), 422, "nodes[0].max_tokens",
     "valid integer"),
    ("POST", "/v1/graphs", graph_text(top_k=2**62), 422, "nodes[0].top_k",
     "less than or equal to 1000000"),
    ("POST", "/v1/graphs", graph_text(temperature=-1e-320), 422, "nodes[0].temperature",
     "greater than or equal to 0"),
    ("POST", "/v1/graphs", graph_text(temperature=9.0), 422, "nodes[0].temperature",
     "less than or equal to 5"),
    ("POST", "/v1/graphs", graph_text(top_p=0.0), 422, "nodes[0].top_p", "greater than 0"),
    ("POST", "/v1/graphs", graph_text(max_tokens=2**40), 422, "nodes[0].max_tokens",
     "less than or equal to 32768"),
    ("GET", f"/v1/graphs/{HUGE_ID}", None, 404, None, "(60000 characters)"),
    ("GET", f"/v1/runs/{HUGE_ID}", None, 404, None, "(60000 characters)"),
    ("POST", f"/v1/runs/{HUGE_ID}/cancel", None, 404, None, "(60000 characters)"),
    ("GET", f"/v1/graphs/{HUGE_ID}/versions", None, 404, None, "(60000 characters)"),
    ("GET", f"/v1/responses/{HUGE_ID}", None, 404, None, "(60000 characters)"),
]


@pytest.fixture(scope="module")
def graph_id(client: httpx.Client) -> str:
    return client.post("/v1/graphs", json=tiny_graph("hostile_runs")).json()["id"]


@pytest.mark.parametrize(("method", "path", "text", "status", "where", "words"), FLOWC_CASES)
def test_hostile_flowc_requests_are_4xx_naming_the_problem(
        client: httpx.Client, method: str, path: str, text: str | None, status: int,
        where: str | None, words: str) -> None:
    answer = client.request(method, path, content=text,
                            headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    assert words in answer.text and len(answer.text) < 2000, answer.text
    if where is not None:
        assert answer.json()["errors"][0]["path"] == where, answer.text


@pytest.mark.parametrize(("body", "words"), [
    ({"version": 2**63}, "less than or equal to 2147483647"),
    ({"version": 2**31}, "less than or equal to 2147483647"),
    ({"version": True}, "valid integer"),
    ({"version": "1"}, "valid integer"),
    ({"version": 1.0}, "valid integer"),
])
def test_run_versions_are_bounded_32_bit_integers(client: httpx.Client, graph_id: str,
                                                  body: dict[str, Any], words: str) -> None:
    answer = client.post(f"/v1/graphs/{graph_id}/runs", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0] == {"path": "body.version", "node_id": None,
                                          "message": answer.json()["errors"][0]["message"],
                                          "severity": "error"}
    assert words in answer.json()["errors"][0]["message"]
    query = client.get(f"/v1/graphs/{graph_id}", params={"version": 2**63})
    assert query.status_code == 422 and query.json()["errors"][0]["path"] == "query.version"


def test_a_temperature_under_the_epsilon_is_greedy_everywhere(client: httpx.Client) -> None:
    """5e-324 passes `temperature >= 0` but 1/5e-324 is infinite: it decodes greedily,
    over the OpenAI routes and in a graph, as temperature 0 does."""
    greedy = client.post("/v1/chat/completions", json=chat(temperature=0, max_tokens=8))
    for tiny in (5e-324, 1e-310, 1e-6):
        answer = client.post("/v1/chat/completions", json=chat(temperature=tiny, max_tokens=8))
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"] == greedy.json()["choices"]
    graph = tiny_graph("tiny_temperature", max_tokens=8)
    graph["nodes"][0]["temperature"] = 5e-324
    graph_id = client.post("/v1/graphs", json=graph).json()["id"]
    run_id = client.post(f"/v1/graphs/{graph_id}/runs", json={}).json()["run_id"]
    assert wait_finished(client, run_id)["status"] == "succeeded"


def _chat(url: str, body: dict[str, Any]) -> tuple[int, list[str]]:
    """The status and, for a stream, its `data:` events."""
    with httpx.Client(timeout=300) as http:
        answer = post_json(http, f"{url}/v1/chat/completions", body)
        return answer.status_code, stream_events(answer)


def test_hostile_requests_never_disturb_concurrent_streams_and_runs(
        server: LiveServer, client: httpx.Client) -> None:
    """Good streams, a graph run and hostile requests, streamed and not, at once: each good
    stream ends with [DONE], the run succeeds, each hostile request gets its own answer."""
    graph_id = client.post("/v1/graphs", json=tiny_graph("beside_hostile", 12)).json()["id"]
    good = chat(max_tokens=24, temperature=0.7, seed=3, stream=True)
    hostile = [chat(temperature=5e-324), chat(temperature=1e-310, top_p=1e-300),
               chat(temperature=float("nan")), chat(logit_bias={"7": float("-inf")}),
               chat(response_format={"type": "json_schema", "json_schema": {
                   "name": "x", "schema": {"type": 5}}})]
    hostile += [{**body, "stream": True} for body in hostile]
    with ThreadPoolExecutor(16) as pool:
        streams = [pool.submit(_chat, server.url, good) for _ in range(4)]
        run_id = client.post(f"/v1/graphs/{graph_id}/runs", json={}).json()["run_id"]
        answers = [pool.submit(_chat, server.url, body) for body in hostile]
        for stream in streams:
            status, events = stream.result()
            assert status == 200 and events[-1] == "[DONE]", events[-3:]
            assert not any('"error"' in e for e in events[:-1])
        assert [a.result()[0] for a in answers] == [200, 200, 400, 400, 400] * 2
        assert all(a.result()[1][-1] == "[DONE]" for a in answers[5:7])
    assert wait_finished(client, run_id)["status"] == "succeeded"


def _metric(http: httpx.Client, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", http.get("/metrics").text, re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))


def test_a_non_streaming_request_whose_client_left_is_cancelled(
        server: LiveServer, client: httpx.Client) -> None:
    """The client gives up after a second on a reply of 4,000 tokens: its engine request
    is aborted and its slot freed long before that reply could have been generated."""
    before = _metric(client, "flowc_generated_tokens_total")
    body = chat(max_tokens=4000, ignore_eos=True,
                messages=[{"role": "user", "content": "Count to a million."}])
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=1.5)
    deadline = time.monotonic() + 60
    while (_metric(client, "flowc_running_requests") or _metric(client, "flowc_slots_in_use")) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _metric(client, "flowc_running_requests") == 0
    assert _metric(client, "flowc_slots_in_use") == 0
    generated = _metric(client, "flowc_generated_tokens_total") - before
    time.sleep(1)
    assert _metric(client, "flowc_generated_tokens_total") - before == generated < 4000


def test_prompts_times_n_count_against_the_slot_limit(locked: LiveServer) -> None:
    """One slot: a completion of two prompts, or a chat with n 2, is two requests' work."""
    with locked.client() as http:
        for path, body in (("/v1/completions", completion(prompt=["a", "b"])),
                           ("/v1/chat/completions", chat(n=2)),
                           ("/v1/completions", completion(prompt="a", n=2, stream=True))):
            answer = http.post(path, json=body)
            assert answer.status_code == 400, answer.text
            assert answer.json()["error"]["param"] == "n"
            assert "2 generations" in answer.json()["error"]["message"]
            assert "at most 1 at once" in answer.json()["error"]["message"]
        assert http.post("/v1/completions", json=completion()).status_code == 200


@pytest.mark.parametrize(("inputs", "number"), [
    ('{"doc": {"a": [1, NaN]}}', "nan"),
    ('{"doc": {"a": Infinity}}', "inf"),
    ('{"n": -Infinity}', "-inf"),
    ('{"doc": {"a": 99999999999999999999}}', "99999999999999999999"),
])
def test_run_inputs_hold_only_numbers_json_can_carry(client: httpx.Client, inputs: str,
                                                     number: str) -> None:
    """NaN and Infinity, which Python's JSON reader takes, and integers past 64 bits are
    refused naming the input, rather than stored as something else."""
    graph = {"flowc": 1, "name": "numbers",
             "inputs": {"doc": {"type": "object", "default": {}},
                        "n": {"type": "number", "default": 1}},
             "nodes": [{"id": "copy", "type": "set", "assign": {"x": "doc"}}],
             "outputs": {"x": "{{ x }}"}}
    graph_id = client.post("/v1/graphs", json=graph).json()["id"]
    answer = client.post(f"/v1/graphs/{graph_id}/runs", content=f'{{"inputs": {inputs}}}',
                         headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["errors"]
    name = "n" if '"n"' in inputs else "doc"
    assert problem["path"] == f"inputs.{name}"
    assert problem["message"] == (f"input '{name}' holds the number {number}, out of range: "
                                  "integers are 64-bit and numbers finite")
