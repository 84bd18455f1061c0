"""Hostile input at the HTTP boundary, against real servers: bodies that lie about their size,
bodies without a key, broken JSON, text that is not Unicode, invented methods, unknown tools,
half-sent requests, and a SIGTERM with clients connected. Each is answered with a 4xx that
names the problem (or, for the shutdown, with the streams' final events), and no request of
the module gets a 5xx."""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from live_server import API_KEY, LiveServer, long_graph, tiny_graph, wait_finished

LIMIT = 2 * 1024 * 1024
READ_TIMEOUT_S = 1.5
GRACE_S = 2.0
SURROGATE = "\\ud800"  # as JSON text: a lone UTF-16 surrogate


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with strict tools, a short read timeout and a short shutdown grace."""
    live = LiveServer(tmp_path_factory.mktemp("strict"), "--strict-tools",
                      "--read-timeout", str(READ_TIMEOUT_S), "--shutdown-grace", str(GRACE_S))
    live.start()
    try:
        yield live
    finally:
        if live.process is not None and live.process.poll() is None:
            live.stop()


def raw(port: int, head: str, body: bytes = b"", wait_s: float = 20) -> tuple[int, bytes]:
    """Send `head` (CRLF added) and `body` on a fresh socket; the status and the whole answer
    (read until the server closes or `wait_s` passes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + body)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and _complete(answer):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    match = re.match(rb"HTTP/1\.1 (\d{3})", answer)
    assert match, answer[:200]
    return int(match.group(1)), answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
    return length is not None and len(body) >= int(length.group(1))


def graph_count(http: httpx.Client) -> int:
    return http.get("/v1/graphs", params={"limit": 1}).json()["count"]


def problems(response: httpx.Response) -> list[dict]:
    assert response.status_code == 422, response.text
    return response.json()["errors"]


# sizes: Content-Length is never trusted, and a body is never read before the key is checked

def test_chunked_body_that_lies_about_its_length_is_refused(server: LiveServer,
                                                            client: httpx.Client) -> None:
    before = graph_count(client)
    big = json.dumps({**tiny_graph("huge"), "description": "x" * (3 * LIMIT)}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 65536]), big[i:i + 65536])
                      for i in range(0, len(big), 65536)) + b"0\r\n\r\n"
    status, answer = raw(server.port, "POST /v1/graphs HTTP/1.1\nHost: x\nContent-Type: "
                         "application/json\nContent-Length: 5\nTransfer-Encoding: chunked\n\n",
                         chunks)
    assert status in (400, 413), answer[:300]
    assert graph_count(client) == before


def test_chunked_body_over_the_limit_is_413(client: httpx.Client) -> None:
    before = graph_count(client)

    def body() -> Iterator[bytes]:
        yield b'{"flowc": 1, "name": "big", "description": "'
        for _ in range(3 * LIMIT // 65536):
            yield b"x" * 65536
        yield b'", "nodes": []}'

    answer = client.post("/v1/graphs", content=body(),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert str(LIMIT) in answer.json()["detail"]
    assert graph_count(client) == before


@pytest.mark.parametrize("path", ["/v1/graphs", "/v1/chat/completions", "/v1/check"])
def test_huge_body_without_key_is_401_unread(locked: LiveServer, path: str) -> None:
    status, answer = raw(locked.port, f"POST {path} HTTP/1.1\nHost: x\nContent-Type: "
                         f"application/json\nContent-Length: {300 * 1024 * 1024}\n\n", b"{")
    assert status == 401, answer[:300]
    assert b"API key" in answer
    assert b"connection: close" in answer.lower()


def test_huge_declared_body_with_key_is_413_unread(locked: LiveServer) -> None:
    status, answer = raw(locked.port, "POST /v1/graphs HTTP/1.1\nHost: x\nContent-Type: "
                         f"application/json\nAuthorization: Bearer {API_KEY}\n"
                         f"Content-Length: {300 * 1024 * 1024}\n\n", b"{")
    assert status == 413, answer[:300]
    assert b"bytes" in answer


def test_an_early_answer_drains_a_body_still_arriving_and_keeps_the_connection(
        server: LiveServer) -> None:
    """A method the route refuses (405) is answered before its body is read; the rest of a
    body of modest size is read and dropped, so the client, still sending, reads the answer
    (a close with unread bytes would reset the connection) and may reuse the connection."""
    piece = b"x" * 65536
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(b"TRACE /v1/graphs HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: %d\r\n\r\n" % (16 * len(piece)))
        for _ in range(16):
            sock.sendall(piece)
            time.sleep(0.01)
        sock.sendall(b"GET /v1/graphs HTTP/1.1\r\nHost: x\r\n\r\n")
        answers = b""
        while not _two_answers(answers):
            chunk = sock.recv(65536)
            assert chunk, answers[:300]
            answers += chunk
    first, second = re.findall(rb"HTTP/1\.1 (\d{3})", answers)
    assert (first, second) == (b"405", b"200"), answers[:300]
    assert b"connection: close" not in answers.lower()


def _two_answers(data: bytes) -> bool:
    last = data[data.rfind(b"HTTP/1.1 "):]
    return data.count(b"HTTP/1.1 ") >= 2 and b"\r\n\r\n" in last and _complete(last)


@pytest.mark.parametrize("path", ["/v1/graphs", "/v1/check", "/v1/chat/completions",
                                  "/v1/completions", "/v1/responses"])
def test_malformed_json_without_key_is_401(locked: LiveServer, path: str) -> None:
    answer = httpx.post(f"{locked.url}{path}", content=b'{"model": ',
                        headers={"Content-Type": "application/json"})
    assert answer.status_code == 401


# body-parse errors name what is wrong and where

@pytest.mark.parametrize("body, words", [
    (b'{"flowc": 1,}', ["not valid JSON", "line 1, column 13"]),
    (b'{"flowc": 1,\n "name": }', ["not valid JSON", "line 2, column 10"]),
    (b"\xff\xfe{}", ["not UTF-8", "byte 0"]),
    (b'{"flowc": 1, "name": "a\xc3"}', ["not UTF-8", "byte 23"]),
    (b'{"flowc": ' + b"9" * 5000 + b"}", ["not valid JSON", "digits"]),
    (b"[" * 100_000 + b"]" * 100_000, ["nested too deeply"]),
    (b'{"flowc": NaN', ["not valid JSON"]),
])
@pytest.mark.parametrize("path", ["/v1/graphs", "/v1/check"])
def test_body_parse_errors_are_422_naming_the_problem(client: httpx.Client, path: str,
                                                      body: bytes, words: list[str]) -> None:
    found = problems(client.post(path, content=body,
                                 headers={"Content-Type": "application/json"}))
    for word in words:
        assert word in found[0]["message"], found


def test_body_parse_errors_on_openai_routes_are_400_in_the_envelope(client: httpx.Client
                                                                    ) -> None:
    for path in ("/v1/chat/completions", "/v1/completions", "/v1/responses"):
        answer = client.post(path, content=b'{"model": "default",',
                             headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, answer.text
        assert "line 1, column 21" in answer.json()["error"]["message"]


def test_run_body_parse_error_names_position(client: httpx.Client) -> None:
    graph_id = client.post("/v1/graphs", json=tiny_graph("parse")).json()["id"]
    found = problems(client.post(f"/v1/graphs/{graph_id}/runs", content=b'{"inputs": {',
                                 headers={"Content-Type": "application/json"}))
    assert "line 1, column 13" in found[0]["message"]


# text that is not valid Unicode is refused, by JSON path, and never stored

def _with_surrogate(template: str) -> bytes:
    return template.replace("@", SURROGATE).encode()


@pytest.mark.parametrize("body, path", [
    ('{"flowc": 1, "name": "g", "description": "a@b", "nodes": []}', "body.description"),
    ('{"flowc": 1, "name": "g", "ui": {"note": "@"}, "nodes": []}', "body.ui.note"),
    ('{"flowc": 1, "name": "g", "nodes": [{"id": "a", "type": "llm", "output": "o", '
     '"prompt": "hi @"}]}', "body.nodes[0].prompt"),
    ('{"flowc": 1, "name": "g", "ui": {"@": 1}, "nodes": []}', "body.ui.\\ud800"),
])
def test_lone_surrogate_in_a_graph_is_422_by_path(client: httpx.Client, body: str,
                                                  path: str) -> None:
    before = graph_count(client)
    found = problems(client.post("/v1/graphs", content=_with_surrogate(body),
                                 headers={"Content-Type": "application/json"}))
    assert found[0]["path"] == path
    assert "\\ud800" in found[0]["message"]
    assert graph_count(client) == before


def test_lone_surrogate_in_an_uploaded_file_is_422(client: httpx.Client) -> None:
    before = graph_count(client)
    graph = json.dumps({**tiny_graph("file"), "description": "@"})
    text = _with_surrogate(graph)
    answer = client.post("/v1/graphs", files={"file": ("g.json", text, "application/json")})
    assert "description" in problems(answer)[0]["path"]
    assert graph_count(client) == before


def test_lone_surrogate_in_run_inputs_is_422_and_nothing_stored(client: httpx.Client) -> None:
    graph_id = client.post("/v1/graphs", json=tiny_graph("inputs")).json()["id"]
    runs_before = client.get("/v1/runs", params={"graph_id": graph_id}).json()["count"]
    found = problems(client.post(f"/v1/graphs/{graph_id}/runs",
                                 content=_with_surrogate('{"inputs": {"who": "A@"}}'),
                                 headers={"Content-Type": "application/json"}))
    assert found[0]["path"] == "body.inputs.who"
    listed = client.get("/v1/runs", params={"graph_id": graph_id})
    assert listed.status_code == 200
    assert listed.json()["count"] == runs_before


@pytest.mark.parametrize("path, body, param", [
    ("/v1/chat/completions", '{"model": "default", "max_tokens": 2, "messages": '
     '[{"role": "user", "content": "hi @"}]}', "messages[0].content"),
    ("/v1/completions", '{"model": "default", "max_tokens": 2, "prompt": "@"}', "prompt"),
    ("/v1/responses", '{"model": "default", "max_output_tokens": 16, "input": "@"}', "input"),
])
def test_lone_surrogate_in_openai_requests_is_400_naming_the_param(
        client: httpx.Client, path: str, body: str, param: str) -> None:
    answer = client.post(path, content=_with_surrogate(body),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == param


# /metrics keeps a fixed set of labels

def test_invented_methods_and_paths_add_no_metric_series(server: LiveServer,
                                                         client: httpx.Client) -> None:
    for i in range(40):
        raw(server.port, f"FOO{i} /v1/graphs HTTP/1.1\nHost: x\nContent-Length: 0\n\n")
        client.get(f"/no/such/path/{i}")
    text = client.get("/metrics").text
    methods = set(re.findall(r'flowc_http_requests_total\{method="([^"]+)"', text))
    routes = set(re.findall(r'flowc_http_requests_total\{[^}]*route="([^"]+)"', text))
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    assert "other" in methods
    assert not any(r.startswith("/no/such") for r in routes)


# tools the server does not have are found at upload

def _tool_graph(tool: str, args: dict | None = None) -> dict:
    return {"flowc": 1, "name": "tools", "nodes": [
        {"id": "fetch", "type": "tool", "tool": tool, "args": args or {}, "output": "page"}],
        "outputs": {"page": "{{ page }}"}}


def test_unknown_tool_is_a_warning_at_upload(client: httpx.Client) -> None:
    answer = client.post("/v1/graphs", json=_tool_graph("no_such_tool"))
    assert answer.status_code == 201
    [warning] = [w for w in answer.json()["warnings"] if w["path"] == "nodes[0].tool"]
    assert warning["severity"] == "warning" and "no_such_tool" in warning["message"]
    assert warning["node_id"] == "fetch"


def test_unknown_tool_in_a_map_body_is_found(client: httpx.Client) -> None:
    graph = {"flowc": 1, "name": "mapped", "inputs": {"xs": {"type": "array", "default": [1]}},
             "nodes": [{"id": "each", "type": "map", "over": "xs", "as": "x", "output": "ys",
                        "body": {"nodes": [{"id": "t", "type": "tool", "tool": "ghost",
                                            "output": "y"}], "result": "{{ y }}"}}],
             "outputs": {"ys": "{{ ys }}"}}
    answer = client.post("/v1/check", json=graph)
    assert answer.status_code == 200, answer.text
    paths = [w["path"] for w in answer.json()["warnings"]]
    assert "nodes[0].body.nodes[0].tool" in paths


def test_disallowed_http_get_is_named_at_upload(client: httpx.Client) -> None:
    answer = client.post("/v1/check", json=_tool_graph("http_get", {"url": "http://x.test/"}))
    assert answer.status_code == 200
    assert any("http_get is disabled" in w["message"] for w in answer.json()["warnings"])


def test_strict_server_refuses_unknown_tools_with_422(strict: LiveServer) -> None:
    with strict.client() as http:
        before = graph_count(http)
        for tool in ("no_such_tool", "http_get"):
            found = problems(http.post("/v1/graphs", json=_tool_graph(tool, {"url": "http://x/"})))
            assert found[0]["path"] == "nodes[0].tool" and tool in found[0]["message"]
        assert http.post("/v1/graphs", json=_tool_graph("calculator",
                                                        {"expression": "1+1"})).status_code == 201
        assert graph_count(http) == before + 1


# slow and half-sent requests time out

def test_half_sent_headers_time_out_with_408(strict: LiveServer) -> None:
    started = time.monotonic()
    status, answer = raw(strict.port, "GET /health HTTP/1.1\nHost: x\n", wait_s=30)
    assert status == 408 and b"headers" in answer
    assert time.monotonic() - started < READ_TIMEOUT_S + 10


def test_silent_connection_is_closed(strict: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", strict.port), timeout=30) as sock:
        started = time.monotonic()
        assert sock.recv(100) == b""
    assert time.monotonic() - started < READ_TIMEOUT_S + 10


def test_slow_body_times_out_with_408(strict: LiveServer) -> None:
    status, answer = raw(strict.port, "POST /v1/check HTTP/1.1\nHost: x\nContent-Type: "
                         "application/json\nContent-Length: 100\n\n", b'{"flowc": 1', wait_s=30)
    assert status == 408 and b"did not arrive" in answer


def test_no_request_got_a_server_error(client: httpx.Client, strict: LiveServer) -> None:
    """The editor's page is left out: unbuilt, it answers 503 on purpose."""
    with strict.client() as http:
        for text in (client.get("/metrics").text, http.get("/metrics").text):
            errors = re.findall(r'route="([^"]*)",status="5\d\d"', text)
            assert set(errors) <= {"/"}, text


# shutdown: connected clients get their final events

def test_sigterm_sends_streams_their_final_events(strict: LiveServer) -> None:
    """Last in the module: it stops the strict server."""
    with strict.client() as http:
        graph_id = http.post("/v1/graphs", json=long_graph()).json()["id"]
        run_id = http.post(f"/v1/graphs/{graph_id}/runs", json={}).json()["run_id"]
    ends: dict[str, list[str]] = {}

    def follow(name: str, method: str, path: str, body: dict | None = None) -> None:
        with httpx.stream(method, strict.url + path, json=body, timeout=60) as answer:
            ends[name] = [line for line in answer.iter_lines() if line][-3:]

    chat = {"model": "default", "stream": True, "max_tokens": 2000,
            "messages": [{"role": "user", "content": "Tell a very long story."}]}
    whole: dict[str, httpx.Response] = {}

    def wait_whole() -> None:
        whole["chat"] = httpx.post(strict.url + "/v1/chat/completions", timeout=60,
                                   json={**chat, "stream": False})

    threads = [threading.Thread(target=follow, args=("run", "GET", f"/v1/runs/{run_id}/events")),
               threading.Thread(target=follow, args=("chat", "POST", "/v1/chat/completions",
                                                     chat)),
               threading.Thread(target=wait_whole)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    assert strict.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it drained on
    for thread in threads:
        thread.join(timeout=30)
    assert ends["chat"][-1] == "data: [DONE]"
    assert "server_shutting_down" in ends["chat"][-2]
    assert whole["chat"].status_code == 503
    assert whole["chat"].json()["error"]["code"] == "server_shutting_down"
    last = json.loads(ends["run"][-1].removeprefix("data: "))
    assert last["kind"] == "error" and last["data"]["status"] == "interrupted"
    strict.start()  # the same data: the run was stored with its final status
    with strict.client() as http:
        assert wait_finished(http, run_id)["status"] == "interrupted"

