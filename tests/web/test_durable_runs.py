"""Durable runs over real servers, on SQLite and on PostgreSQL: kill -9 with ten runs in
flight and a restart on another port leaves no run `running`, and the interrupted runs,
resumed from their checkpoints, end with the outputs of uninterrupted runs (greedy); a second
`flowc serve` on a busy port touches no run; two servers share one database under concurrent
uploads and runs without a duplicate version or event."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from live_server import LiveServer, long_graph, tiny_graph, wait_finished
from sse_client import sse_events

LEASE = {"FLOWC_LEASE_S": "2"}
RUNS = 10


def two_steps() -> dict:
    """Two chained greedy calls: a run killed between them resumes at the second."""
    graph = tiny_graph("two_steps", max_tokens=12, prompt="Give one fact about {{ who }}.")
    graph["defaults"] = {"temperature": 0.0}
    graph["nodes"].append({"id": "poem", "type": "llm", "output": "poem", "max_tokens": 64,
                           "prompt": "Write a short poem using this fact: {{ greeting }}"})
    graph["edges"] = [{"from": "hello", "to": "poem"}]
    graph["outputs"]["poem"] = "{{ poem }}"
    return graph


def statuses(http: httpx.Client, run_ids: list[str]) -> dict[str, str]:
    return {r: http.get(f"/v1/runs/{r}").json()["status"] for r in run_ids}


def wait_none_in_flight(http: httpx.Client, run_ids: list[str], timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = statuses(http, run_ids)
        if not {"queued", "running"} & set(now.values()):
            return now
        time.sleep(0.2)
    raise AssertionError(f"runs still in flight after {timeout_s} s: {now}")


def wait_for_a_checkpoint(server: LiveServer, run_id: str) -> None:
    """Until the run has finished its first node, and a moment more to store its state."""
    with server.client() as http, http.stream("GET", f"/v1/runs/{run_id}/events") as stream:
        for event in sse_events(stream.iter_lines()):
            if event["event"] == "node_end":
                time.sleep(0.5)
                return
    raise AssertionError(f"run {run_id} ended before finishing a node")


def test_kill_9_and_restart_on_another_port_resumes_every_run(
        tmp_path: Path, database_url: str) -> None:
    server = LiveServer(tmp_path, "--max-concurrent-runs", "32", env=LEASE,
                        database_url=database_url).start()
    try:
        with server.client() as http:
            graph_id = http.post("/v1/graphs", json=two_steps()).json()["id"]
            run_ids = [http.post(f"/v1/graphs/{graph_id}/runs",
                                 json={"inputs": {"who": f"topic {i}"}}).json()["run_id"]
                       for i in range(RUNS)]
        wait_for_a_checkpoint(server, run_ids[0])
        server.stop(signal.SIGKILL)
        server.start_elsewhere()
        with server.client() as http:
            after_restart = wait_none_in_flight(http, run_ids)
            interrupted = [r for r, s in after_restart.items() if s == "interrupted"]
            assert interrupted and set(after_restart.values()) <= {"interrupted", "succeeded"}
            for run_id in interrupted:
                answer = http.post(f"/v1/runs/{run_id}/resume")
                assert answer.status_code == 202, answer.text
            assert http.post(f"/v1/runs/{interrupted[0]}/resume").status_code == 409
            resumed = {r: wait_finished(http, r) for r in run_ids}
            assert {r["status"] for r in resumed.values()} == {"succeeded"}, resumed
            fresh = {r: http.post(f"/v1/graphs/{graph_id}/runs", json={
                "inputs": resumed[r]["inputs"]}).json()["run_id"] for r in run_ids}
            for run_id, again in fresh.items():
                assert wait_finished(http, again)["outputs"] == resumed[run_id]["outputs"]
            starts = [start_events(http, r) for r in interrupted]
        assert any(s[-1]["data"]["data"].get("resumed_after") for s in starts), starts
        for events in starts:
            seqs = [e["data"]["seq"] for e in events]
            assert len(events) == 2 and seqs == sorted(set(seqs)), events
    finally:
        server.stop()


def start_events(http: httpx.Client, run_id: str) -> list[dict]:
    """The run's run_start events (two once resumed), checking that its seqs run on."""
    events = list(sse_events(http.get(f"/v1/runs/{run_id}/events").text.splitlines()))
    assert [int(e["id"]) for e in events] == list(range(len(events)))
    return [e for e in events if e["event"] == "run_start"]


def test_a_second_serve_on_a_busy_port_touches_no_run(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, env=LEASE).start()
    try:
        with server.client() as http:
            graph_id = http.post("/v1/graphs", json=long_graph()).json()["id"]
            run_id = http.post(f"/v1/graphs/{graph_id}/runs", json={}).json()["run_id"]
            second = subprocess.run(
                [sys.executable, "-m", "flowc.cli", "serve", "--port", str(server.port)],
                env={**os.environ, "FLOWC_DATA_DIR": str(tmp_path), **LEASE},
                capture_output=True, text=True, timeout=120)
            assert second.returncode != 0
            assert "cannot listen" in second.stderr and "Traceback" not in second.stderr
            time.sleep(3)  # longer than the lease: still its owner's
            assert http.get(f"/v1/runs/{run_id}").json()["status"] == "running"
            assert http.post(f"/v1/runs/{run_id}/cancel").status_code == 202
            assert wait_finished(http, run_id)["status"] == "cancelled"
    finally:
        server.stop()


def test_two_servers_share_one_database(tmp_path: Path, database_url: str) -> None:
    servers = [LiveServer(tmp_path / name, "--max-concurrent-runs", "64", env=LEASE,
                          database_url=database_url) for name in ("a", "b")]
    for live in servers:
        live.data_dir.mkdir()
        live.start(wait=False)
    try:
        for live in servers:
            live.wait_healthy()
        with servers[0].client() as http:
            graph_id = http.post("/v1/graphs", json=tiny_graph("shared", max_tokens=2)).json()["id"]
        answers = asyncio.run(hammer([live.url for live in servers], graph_id))
        assert [a.status_code for a in answers["versions"]] == [200] * 20
        assert [a.status_code for a in answers["runs"]] == [202] * 20
        with servers[1].client() as http:
            versions = http.get(f"/v1/graphs/{graph_id}/versions").json()["data"]
            assert [v["version"] for v in versions] == list(range(1, 22))
            assert sorted(a.json()["version"] for a in answers["versions"]) == list(range(2, 22))
            run_ids = [a.json()["run_id"] for a in answers["runs"]]
            for run_id in run_ids:
                assert wait_finished(http, run_id)["status"] == "succeeded"
                events = list(sse_events(http.get(f"/v1/runs/{run_id}/events").text
                                         .splitlines()))
                assert [int(e["id"]) for e in events] == list(range(len(events)))
                assert [e["event"] for e in events].count("run_end") == 1
            assert http.get("/v1/runs", params={"graph_id": graph_id}).json()["count"] == 20
    finally:
        for live in servers:
            live.stop()


async def hammer(urls: list[str], graph_id: str) -> dict[str, list[httpx.Response]]:
    """Twenty new versions and twenty runs, sent at once, alternating between the servers."""
    async with httpx.AsyncClient(timeout=120) as http:
        versions = [http.put(f"{urls[i % 2]}/v1/graphs/{graph_id}",
                             json=tiny_graph("shared", max_tokens=2)) for i in range(20)]
        runs = [http.post(f"{urls[i % 2]}/v1/graphs/{graph_id}/runs",
                          json={"inputs": {"who": f"user {i}"}}) for i in range(20)]
        answers = await asyncio.gather(*versions, *runs)
    return {"versions": list(answers[:20]), "runs": list(answers[20:])}

