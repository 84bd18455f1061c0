"""Storage faults on a live server (SQLite): a full disk (a small tmpfs filled to the last
byte; mounting it needs root, as CI is) and a database deleted while serving. Each is a clear
503 with Retry-After, /health reports it, and nothing acknowledged is lost: a run that
finishes while the disk is full is stored once the disk has room again."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_server import LiveServer, tiny_graph, wait_finished
from sse_client import sse_events

LEASE = {"FLOWC_LEASE_S": "1.5"}


def assert_unavailable(answer: httpx.Response, cause: str) -> None:
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) > 0
    assert cause in answer.json()["detail"] and "Traceback" not in answer.text


def wait_health(http: httpx.Client, code: int, timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = http.get("/health")
        if answer.status_code == code and (code != 200 or not answer.json()["unsaved_runs"]):
            return answer.json()
        time.sleep(0.1)
    raise AssertionError(f"/health did not answer {code}: {answer.text}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB file system of its own."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Fill the disk to its last byte; the filler file, to delete to make room."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for block in (65536, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * block)
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_a_503_and_loses_nothing_acknowledged(tmp_path: Path,
                                                              small_disk: Path) -> None:
    database = small_disk / "flowc.db"
    server = LiveServer(tmp_path, env=LEASE, database_url=f"sqlite:///{database}").start()
    filler = None
    try:
        with server.client() as http:
            kept = http.post("/v1/graphs", json=tiny_graph("kept")).json()["id"]
            done = http.post(f"/v1/graphs/{kept}/runs", json={}).json()["run_id"]
            assert wait_finished(http, done)["status"] == "succeeded"
            slow = http.post("/v1/graphs", json=tiny_graph("slow", max_tokens=40)).json()["id"]
            in_flight = http.post(f"/v1/graphs/{slow}/runs", json={}).json()["run_id"]
            with http.stream("GET", f"/v1/runs/{in_flight}/events") as stream:
                next(e for e in sse_events(stream.iter_lines()) if e["event"] == "token")
            filler = fill(small_disk)

            assert_unavailable(http.post("/v1/graphs", json=tiny_graph("refused")), "full")
            assert_unavailable(http.post(f"/v1/graphs/{kept}/runs", json={}), "full")
            health = wait_health(http, 503)
            assert health["status"] == "degraded" and "full" in health["storage"]
            finished = wait_finished(http, in_flight)  # answered from memory meanwhile
            assert finished["status"] == "succeeded" and finished["outputs"]["greeting"]
            assert wait_health(http, 503)["unsaved_runs"] == 1

            os.unlink(filler)  # room again
            assert wait_health(http, 200)["storage"] == "ok"
            assert http.get(f"/v1/runs/{in_flight}").json() == {
                **finished, "trace": http.get(f"/v1/runs/{in_flight}").json()["trace"]}
            assert http.post("/v1/graphs", json=tiny_graph("after")).status_code == 201
    finally:
        if filler is not None:
            filler.unlink(missing_ok=True)
        server.stop()
    with sqlite3.connect(database) as db:
        names = sorted(n for (n,) in db.execute("SELECT name FROM graphs"))
        assert names == ["after", "kept", "slow"]
        runs = dict(db.execute("SELECT id, status FROM runs").fetchall())
        assert runs == {done: "succeeded", in_flight: "succeeded"}
        seqs = [s for (s,) in db.execute("SELECT seq FROM events WHERE run_id = ? ORDER BY seq",
                                         (in_flight,))]
        assert seqs == list(range(len(seqs))) and len(seqs) > 3


def test_a_database_deleted_while_serving_is_a_503(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, env=LEASE).start()
    try:
        with server.client() as http:
            kept = http.post("/v1/graphs", json=tiny_graph("kept")).json()["id"]
            for suffix in ("", "-wal", "-shm"):
                Path(f"{server.database}{suffix}").unlink(missing_ok=True)
            assert_unavailable(http.post("/v1/graphs", json=tiny_graph("lost")), "deleted")
            assert_unavailable(http.get(f"/v1/graphs/{kept}"), "deleted")
            assert_unavailable(http.get("/v1/runs"), "deleted")
            health = wait_health(http, 503)
            assert "deleted" in health["storage"]
            assert not server.database.exists()  # nothing written to a file no one can see
    finally:
        server.stop()
    server.start()  # a restart starts a new, empty database
    with server.client() as http:
        assert http.get("/health").status_code == 200
        assert http.get("/v1/graphs").json()["count"] == 0
    server.stop()
