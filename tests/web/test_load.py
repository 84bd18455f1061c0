"""Load: 50 concurrent runs on a live server all complete, none lost or duplicated in the
store, /health answers throughout; a restart keeps every finished run; a run cut off by a
stopping server is marked interrupted."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import LiveServer, long_graph, tiny_graph, wait_finished
from sse import sse_events

RUNS = 50


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("load"), "--max-concurrent-runs", "64")
    yield live.start()
    live.stop()


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


def test_fifty_concurrent_runs_survive_a_restart(busy: LiveServer) -> None:
    with busy.client() as http:
        graph_id = http.post("/v1/graphs", json=tiny_graph("load", max_tokens=4)).json()["id"]
        watch = HealthWatch(f"{busy.url}/health")
        watch.start()
        answers = asyncio.run(start_all(busy.url, graph_id))
        assert [a.status_code for a in answers] == [202] * RUNS
        run_ids = [a.json()["run_id"] for a in answers]
        finished = {run_id: wait_finished(http, run_id) for run_id in run_ids}
        watch.done.set()
        watch.join()

    assert len(set(run_ids)) == RUNS
    assert {r["status"] for r in finished.values()} == {"succeeded"}, finished
    assert {r["inputs"]["who"] for r in finished.values()} == {f"user {i}" for i in range(RUNS)}
    assert watch.codes and set(watch.codes) == {200}, watch.codes
    assert watch.slowest < 5.0

    with sqlite3.connect(busy.database) as db:
        stored = db.execute("SELECT id, status FROM runs WHERE graph_id = ?",
                            (graph_id,)).fetchall()
        assert sorted(stored) == sorted((run_id, "succeeded") for run_id in run_ids)
        gaps = db.execute("SELECT run_id, COUNT(*), MAX(seq) FROM events GROUP BY run_id "
                          "HAVING COUNT(*) != MAX(seq) + 1").fetchall()
        assert gaps == []
        ends = db.execute("SELECT run_id, COUNT(*) FROM events WHERE kind = 'run_end' "
                          "GROUP BY run_id").fetchall()
        assert sorted(ends) == sorted((run_id, 1) for run_id in run_ids)
        traces = db.execute("SELECT COUNT(*) FROM traces").fetchone()[0]
        assert traces >= RUNS

    busy.restart()
    with busy.client() as http:
        for run_id, before in finished.items():
            assert http.get(f"/v1/runs/{run_id}").json() == before


def test_run_cut_off_by_a_stop_is_interrupted(busy: LiveServer) -> None:
    with busy.client() as http:
        graph_id = http.post("/v1/graphs", json=long_graph()).json()["id"]
        run_id = http.post(f"/v1/graphs/{graph_id}/runs", json={}).json()["run_id"]
        with http.stream("GET", f"/v1/runs/{run_id}/events") as stream:
            for event in sse_events(stream.iter_lines()):
                if event["event"] == "token":
                    break
    busy.stop(signal.SIGKILL)
    busy.start()
    with busy.client() as http:
        run = http.get(f"/v1/runs/{run_id}").json()
        assert run["status"] == "interrupted", run
        events = http.get(f"/v1/runs/{run_id}/events").text
        assert "run_start" in events
