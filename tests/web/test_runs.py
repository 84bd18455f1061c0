"""Runs over HTTP against a live server: completion, SSE events (late subscribers too),
cancel, not-found and bad input, and the metrics they leave behind."""

from __future__ import annotations

import httpx
import pytest
from live_server import long_graph, tiny_graph, wait_finished
from sse_client import sse_events


@pytest.fixture(scope="module")
def greet_id(client: httpx.Client) -> str:
    return client.post("/v1/graphs", json=tiny_graph("runs")).json()["id"]


def start(client: httpx.Client, graph_id: str, **inputs: object) -> str:
    answer = client.post(f"/v1/graphs/{graph_id}/runs", json={"inputs": inputs})
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "queued"
    return answer.json()["run_id"]


def read_events(client: httpx.Client, run_id: str, **headers: str) -> list[dict]:
    with client.stream("GET", f"/v1/runs/{run_id}/events", headers=headers) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        return list(sse_events(stream.iter_lines()))


def test_run_completes_with_outputs_and_trace(client: httpx.Client, greet_id: str) -> None:
    run_id = start(client, greet_id, who="Grace")
    run = wait_finished(client, run_id)
    assert run["status"] == "succeeded", run
    assert run["inputs"] == {"who": "Grace"}
    assert isinstance(run["outputs"]["greeting"], str) and run["outputs"]["greeting"]
    assert run["error"] is None and run["finished_at"] is not None
    assert run["trace"]
    listed = client.get("/v1/runs", params={"graph_id": greet_id, "limit": 1000}).json()
    assert run_id in [r["id"] for r in listed["data"]]
    assert {r["graph_id"] for r in listed["data"]} == {greet_id}
    assert listed["count"] == len(listed["data"])


def test_events_stream_live_and_late(client: httpx.Client, greet_id: str) -> None:
    run_id = start(client, greet_id)
    live = read_events(client, run_id)
    kinds = [e["event"] for e in live]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end", kinds
    assert "node_start" in kinds and "node_end" in kinds and "token" in kinds
    assert [int(e["id"]) for e in live] == list(range(len(live)))
    assert {e["data"]["node_id"] for e in live if e["event"] == "token"} == {"hello"}

    late = read_events(client, run_id)  # the run is over: everything comes from the store
    assert late == live
    resumed = read_events(client, run_id, **{"Last-Event-ID": "2"})
    assert resumed == live[3:]
    for bad in ("+0.0", "1e3", "x", "-2"):
        answer = client.get(f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": bad})
        assert answer.status_code == 422, (bad, answer.text)


def test_cancel_a_run_in_flight(client: httpx.Client) -> None:
    graph_id = client.post("/v1/graphs", json=long_graph()).json()["id"]
    run_id = start(client, graph_id)
    events = []
    with client.stream("GET", f"/v1/runs/{run_id}/events") as stream:
        for event in sse_events(stream.iter_lines()):
            events.append(event)
            if event["event"] == "token" and event["data"]["data"]["tokens"] == 3:
                assert client.post(f"/v1/runs/{run_id}/cancel").status_code == 202
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "error" and events[-1]["data"]["data"]["status"] == "cancelled"
    run = wait_finished(client, run_id)
    assert run["status"] == "cancelled", run
    assert kinds.count("token") < 2000
    streamed = max(e["data"]["data"]["tokens"] for e in events if e["event"] == "token")
    assert run["trace"]["totals"]["generated_tokens"] >= streamed >= 3
    again = client.post(f"/v1/runs/{run_id}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


def test_run_routes_not_found(client: httpx.Client) -> None:
    for method, path in [("GET", "/v1/runs/run_missing"), ("GET", "/v1/runs/run_missing/events"),
                         ("POST", "/v1/runs/run_missing/cancel")]:
        answer = client.request(method, path)
        assert answer.status_code == 404, (path, answer.text)
    missing = client.post("/v1/graphs/g_missing/runs", json={"inputs": {}})
    assert missing.status_code == 404


def test_run_bad_input_is_422(client: httpx.Client, greet_id: str) -> None:
    unknown = client.post(f"/v1/graphs/{greet_id}/runs", json={"inputs": {"nobody": 1}})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["path"] == "inputs.nobody"
    extra = client.post(f"/v1/graphs/{greet_id}/runs", json={"inputs": {}, "colour": "red"})
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["path"] == "body.colour"
    no_version = client.post(f"/v1/graphs/{greet_id}/runs", json={"version": 7})
    assert no_version.status_code == 404


def test_metrics_after_runs(client: httpx.Client, greet_id: str) -> None:
    wait_finished(client, start(client, greet_id))
    text = client.get("/metrics").text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    for name in ("flowc_tokens_per_second", "flowc_kv_pages_in_use", "flowc_queue_depth",
                 "flowc_prefix_cache_hit_rate", "flowc_runs_in_flight"):
        assert name in values, name
    assert values["flowc_generated_tokens_total"] > 0
    assert 0.0 <= values["flowc_prefix_cache_hit_rate"] <= 1.0
    runs_route = 'flowc_http_requests_total{method="POST",route="/v1/graphs/{graph_id}/runs",' \
                 'status="202"}'
    assert values[runs_route] >= 1


def tool_graph(tool: str) -> dict:
    return {"flowc": 1, "name": "tooled", "inputs": {"word": {"type": "string"}},
            "nodes": [{"id": "loud", "type": "tool", "tool": tool,
                       "args": {"text": "{{ word }}"}, "output": "shouted"}],
            "outputs": {"shouted": "{{ shouted }}"}}


def test_tools_given_to_the_server_run_and_others_do_not(client: httpx.Client) -> None:
    allowed = client.post("/v1/graphs", json=tool_graph("shout")).json()["id"]
    run = wait_finished(client, start(client, allowed, word="hey"))
    assert (run["status"], run["outputs"]) == ("succeeded", {"shouted": "HEY!"}), run
    unknown = client.post("/v1/graphs", json=tool_graph("os.system")).json()["id"]
    run = wait_finished(client, start(client, unknown, word="ls"))
    assert run["status"] == "failed" and "os.system" in run["error"], run
