"""`flowc serve --replicas 2` over HTTP: runs spread over two replicas of the embedded model on
a local Ray; one replica's process killed by its PID mid-batch; every run still completes once
and its record shows the retry; /health and /metrics show each replica; the OpenAI routes work
through the replicas."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from live_server import LiveServer, wait_finished

sys.path.insert(0, str(Path(__file__).parents[1] / "cluster"))
from cluster_graphs import alerts, shared_prefix_graph  # noqa: E402

pytestmark = pytest.mark.slow
RUNS = 24


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("replicas"), "--replicas", "2",
                      "--max-concurrent-runs", "64", start_timeout_s=420)
    live.start()
    try:
        yield live
    finally:
        with live.client() as http:
            pids = [r["pid"] for r in replicas(http)]
        # uvicorn re-raises the SIGTERM it handled, after the graceful shutdown
        assert live.stop() in (0, -signal.SIGTERM), live.log()
        assert "SIGTERM received" not in live.log()  # Ray's handler did not cut it short
        _until_gone(pids)


def _until_gone(pids: list[int], timeout_s: float = 30.0) -> None:
    """The replicas' processes end with the server (it stops the Ray it started)."""
    deadline = time.monotonic() + timeout_s
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"replica processes {pids} outlived the server"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def replicas(http: httpx.Client) -> list[dict]:
    return http.get("/health").json()["replicas"]


def test_health_lists_both_replicas(replicated: LiveServer) -> None:
    with replicated.client() as http:
        listed = replicas(http)
    assert [r["replica"] for r in listed] == [0, 1]
    assert all(r["state"] == "alive" and r["pid"] > 0 for r in listed)


def test_a_replica_killed_mid_batch_over_http_loses_no_run(replicated: LiveServer) -> None:
    with replicated.client() as http:
        graph_id = http.post("/v1/graphs", json=shared_prefix_graph()).json()["id"]
        run_ids = []
        for values in alerts(RUNS):
            started = http.post(f"/v1/graphs/{graph_id}/runs", json={"inputs": values})
            assert started.status_code == 202, started.text
            run_ids.append(started.json()["run_id"])
        victim = _busy_replica(http, graph_id)
        os.kill(victim["pid"], signal.SIGKILL)
        runs = [wait_finished(http, run_id, timeout_s=300) for run_id in run_ids]
        listed = http.get("/v1/runs", params={"graph_id": graph_id, "limit": 1000}).json()

    assert [r["status"] for r in runs] == ["succeeded"] * RUNS, [r["error"] for r in runs]
    assert listed["count"] == RUNS
    assert sorted(r["id"] for r in listed["data"]) == sorted(run_ids)
    placements = [r["trace"]["replicas"] for r in runs]
    retried = [p for p in placements if len(p) > 1]
    assert retried, "the killed replica had runs in flight"
    assert all(p[0]["pid"] == victim["pid"] and p[0]["error"] for p in retried)
    assert all(p[-1]["error"] is None and len(p) <= 2 for p in placements)


def test_metrics_show_each_replica_and_the_restart(replicated: LiveServer) -> None:
    with replicated.client() as http:
        deadline = time.monotonic() + 300
        while any(r["state"] != "alive" for r in replicas(http)):
            assert time.monotonic() < deadline, "the killed replica was not replaced"
            time.sleep(0.5)
        text = http.get("/metrics").text
    assert 'flowc_replica_up{replica="0"} 1' in text
    assert 'flowc_replica_up{replica="1"} 1' in text
    restarts = [line for line in text.splitlines()
                if line.startswith("flowc_replica_restarts_total{")]
    assert sorted(line.rsplit(" ", 1)[1] for line in restarts) == ["0", "1"]
    assert "flowc_replica_cached_tokens_total{" in text


def test_openai_chat_through_the_replicas(replicated: LiveServer) -> None:
    client = openai.OpenAI(base_url=f"{replicated.url}/v1", api_key="unused", max_retries=0,
                           timeout=120)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    whole = client.chat.completions.create(model="default", messages=messages, max_tokens=8,
                                           temperature=0)
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in
                       client.chat.completions.create(model="default", messages=messages,
                                                      max_tokens=8, temperature=0, stream=True)
                       if chunk.choices)
    assert "Paris" in whole.choices[0].message.content
    assert streamed == whole.choices[0].message.content
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(
                model="default", messages=messages, max_tokens=8, temperature=0, stream=stream,
                response_format={"type": "json_schema",
                                 "json_schema": {"name": "bad", "schema": {"type": "nope"}}})


def _busy_replica(http: httpx.Client, graph_id: str) -> dict:
    """A replica with runs in flight, once some runs of the batch have finished."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = http.get("/v1/runs", params={"graph_id": graph_id, "limit": 1000}).json()
        finished = sum(r["status"] == "succeeded" for r in done["data"])
        busy = [r for r in replicas(http) if r["load"] > 0]
        if finished >= 2 and busy:
            return max(busy, key=lambda r: r["load"])
        time.sleep(0.1)
    raise AssertionError("no replica had runs in flight")


def test_an_upload_is_checked_against_the_replicas_tools(replicated: LiveServer) -> None:
    graph = {"flowc": 1, "name": "tools", "nodes": [
        {"id": "fetch", "type": "tool", "tool": "no_such_tool", "args": {}, "output": "page"}],
        "outputs": {"page": "{{ page }}"}}
    with replicated.client() as http:
        answer = http.post("/v1/graphs", json=graph)
    assert answer.status_code == 201, answer.text
    [warning] = answer.json()["warnings"]
    assert "no_such_tool" in warning["message"] and "calculator" in warning["message"]
