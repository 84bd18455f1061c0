"""Load: 50 concurrent runs on a live server all complete, none lost or duplicated in the
store, /health answers throughout; after the server process is killed and started again
every finished run is kept and the run it cut off is marked interrupted once its lease has
expired."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import threading
import time

import httpx
from live_server import LiveServer, long_graph, tiny_graph, wait_finished
from sse_client import sse_events

RUNS = 50


class HealthWatch(threading.Thread):
    """Polls /health until stopped; records every status and the slowest answer."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.codes, self.slowest = url, [], 0.0
        self.done = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self.done.is_set():
                began = time.monotonic()
                try:
                    self.codes.append(http.get(self.url).status_code)
                except httpx.HTTPError as exc:
                    self.codes.append(repr(exc))
                self.slowest = max(self.slowest, time.monotonic() - began)
                time.sleep(0.05)


async def start_all(url: str, graph_id: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        return await asyncio.gather(*[
            http.post(f"/v1/graphs/{graph_id}/runs", json={"inputs": {"who": f"user {i}"}})
            for i in range(RUNS)])


def test_fifty_concurrent_runs_survive_a_restart(server: LiveServer) -> None:
    with server.client() as http:
        graph_id = http.post("/v1/graphs", json=tiny_graph("load", max_tokens=4)).json()["id"]
        watch = HealthWatch(f"{server.url}/health")
        watch.start()
        answers = asyncio.run(start_all(server.url, graph_id))
        assert [a.status_code for a in answers] == [202] * RUNS
        run_ids = [a.json()["run_id"] for a in answers]
        finished = {run_id: wait_finished(http, run_id) for run_id in run_ids}
        watch.done.set()
        watch.join()
        cut_off = start_long_run_and_wait_for_a_token(http)

    assert len(set(run_ids)) == RUNS
    assert {r["status"] for r in finished.values()} == {"succeeded"}, finished
    assert {r["inputs"]["who"] for r in finished.values()} == {f"user {i}" for i in range(RUNS)}
    assert watch.codes and set(watch.codes) == {200}, watch.codes
    assert watch.slowest < 5.0
    assert_stored_once(server, graph_id, run_ids)

    server.stop(signal.SIGKILL)  # the hardest stop: nothing gets to clean up
    server.start()
    with server.client() as http:
        for run_id, before in finished.items():
            assert http.get(f"/v1/runs/{run_id}").json() == before
        deadline = time.monotonic() + 30
        while (run := http.get(f"/v1/runs/{cut_off}").json())["status"] == "running" and \
                time.monotonic() < deadline:
            time.sleep(0.2)
        assert run["status"] == "interrupted", run
        assert "run_start" in http.get(f"/v1/runs/{cut_off}/events").text


def start_long_run_and_wait_for_a_token(http: httpx.Client) -> str:
    graph_id = http.post("/v1/graphs", json=long_graph()).json()["id"]
    run_id = http.post(f"/v1/graphs/{graph_id}/runs", json={}).json()["run_id"]
    with http.stream("GET", f"/v1/runs/{run_id}/events") as stream:
        for event in sse_events(stream.iter_lines()):
            if event["event"] == "token":
                break
    return run_id


def assert_stored_once(server: LiveServer, graph_id: str, run_ids: list[str]) -> None:
    with sqlite3.connect(server.database) as db:
        stored = db.execute("SELECT id, status FROM runs WHERE graph_id = ?",
                            (graph_id,)).fetchall()
        assert sorted(stored) == sorted((run_id, "succeeded") for run_id in run_ids)
        marks = ",".join("?" * len(run_ids))
        gaps = db.execute(f"SELECT run_id FROM events WHERE run_id IN ({marks}) GROUP BY run_id "
                          "HAVING COUNT(*) != MAX(seq) + 1", run_ids).fetchall()
        assert gaps == []
        ends = db.execute(f"SELECT run_id, COUNT(*) FROM events WHERE run_id IN ({marks}) AND "
                          "kind = 'run_end' GROUP BY run_id", run_ids).fetchall()
        assert sorted(ends) == sorted((run_id, 1) for run_id in run_ids)
        traces = db.execute(f"SELECT COUNT(*) FROM traces WHERE run_id IN ({marks})",
                            run_ids).fetchone()[0]
        assert traces == RUNS
