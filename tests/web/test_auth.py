"""A live server with an API key, one generation slot, one CORS origin and a run token limit:
auth on every route but /health, 429 with Retry-After when the slot is taken, CORS only where
configured, a run stopped at the server's token limit."""

from __future__ import annotations

import httpx
import openai
import pytest
from live_server import (
    API_KEY,
    CORS_ORIGIN,
    RUN_TOKEN_LIMIT,
    LiveServer,
    long_graph,
    wait_finished,
)

GUARDED = [("GET", "/v1/graphs"), ("GET", "/v1/schema"), ("GET", "/v1/models"),
           ("GET", "/metrics"), ("GET", "/v1/runs/run_x"), ("POST", "/v1/chat/completions"),
           ("GET", "/openapi.json")]


def test_health_needs_no_key(locked: LiveServer) -> None:
    assert httpx.get(f"{locked.url}/health").json()["status"] == "ok"


@pytest.mark.parametrize(("method", "path"), GUARDED)
def test_every_other_route_needs_the_key(locked: LiveServer, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
        answer = httpx.request(method, f"{locked.url}{path}", headers=headers)
        assert answer.status_code == 401, (path, headers)
        assert answer.headers["www-authenticate"] == "Bearer"
    with locked.client() as http:
        assert http.request(method, path).status_code != 401


def test_openai_client_with_and_without_the_key(locked: LiveServer) -> None:
    good = openai.OpenAI(base_url=f"{locked.url}/v1", api_key=API_KEY, max_retries=0)
    assert good.models.list().data
    bad = openai.OpenAI(base_url=f"{locked.url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_auth_off_needs_no_key(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/v1/graphs").status_code == 200


def test_busy_server_answers_429_with_retry_after(locked: LiveServer) -> None:
    with locked.client() as http:
        graph_id = http.post("/v1/graphs", json=long_graph()).json()["id"]
        first = http.post(f"/v1/graphs/{graph_id}/runs", json={}).json()["run_id"]
        busy = http.post(f"/v1/graphs/{graph_id}/runs", json={})
        assert busy.status_code == 429
        assert int(busy.headers["retry-after"]) >= 1
        chat = http.post("/v1/chat/completions", json={
            "model": "default", "messages": [{"role": "user", "content": "hi"}]})
        assert chat.status_code == 429
        http.post(f"/v1/runs/{first}/cancel")  # 409 if the token limit stopped it first
        wait_finished(http, first)
        again = http.post(f"/v1/graphs/{graph_id}/runs", json={})
        assert again.status_code == 202, again.text  # the slot is free again
        http.post(f"/v1/runs/{again.json()['run_id']}/cancel")
        wait_finished(http, again.json()["run_id"])


def test_cors_only_when_configured(locked: LiveServer, server: LiveServer) -> None:
    preflight = {"Origin": CORS_ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    allowed = httpx.options(f"{locked.url}/v1/graphs", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == CORS_ORIGIN
    other = httpx.options(f"{locked.url}/v1/graphs",
                          headers={**preflight, "Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    off = httpx.get(f"{server.url}/health", headers={"Origin": CORS_ORIGIN})
    assert "access-control-allow-origin" not in off.headers


def test_run_stopped_at_the_server_token_limit(locked: LiveServer) -> None:
    with locked.client() as http:
        graph_id = http.post("/v1/graphs", json=long_graph()).json()["id"]
        run_id = http.post(f"/v1/graphs/{graph_id}/runs", json={}).json()["run_id"]
        run = wait_finished(http, run_id)
        tokens = http.get(f"/v1/runs/{run_id}/events").text.count("event: token")
    assert run["status"] == "failed", run
    assert f"limit of {RUN_TOKEN_LIMIT} generated tokens" in run["error"]
    assert RUN_TOKEN_LIMIT < tokens < 2000
