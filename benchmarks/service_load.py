"""The service under load: a real `flowc serve` (SQLite store) takes 100 concurrent runs of a
small graph and 20 streaming chats at once, twice. Measured: every run stored exactly once
(status, one run_end, consecutive event seqs, one trace), /health latency throughout (p50,
p95, max), the rounds' wall time, and the server's resident memory after each round (the
second round's within 10% of the first's: nothing accumulates).

    python benchmarks/service_load.py --out benchmarks/results/service_load_cpu
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

RUNS, CHATS = 100, 20
GRAPH = {
    "flowc": 1, "name": "load",
    "inputs": {"who": {"type": "string", "default": "Ada"}},
    "nodes": [{"id": "hello", "type": "llm", "output": "greeting", "max_tokens": 4,
               "prompt": "Say hello to {{ who }}."}],
    "outputs": {"greeting": "{{ greeting }}"},
}


class HealthProbe(threading.Thread):
    """GET /health every 50 ms; keeps each answer's latency and status."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.latencies, self.codes = url, [], []
        self.done = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self.done.is_set():
                began = time.perf_counter()
                try:
                    self.codes.append(http.get(self.url).status_code)
                except httpx.HTTPError as exc:
                    self.codes.append(type(exc).__name__)
                self.latencies.append(time.perf_counter() - began)
                time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def one_round(url: str, graph_id: str, tag: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        began = time.perf_counter()
        runs = [http.post(f"/v1/graphs/{graph_id}/runs", json={"inputs": {"who": f"{tag} {i}"}})
                for i in range(RUNS)]
        chats = [chat(http, i) for i in range(CHATS)]
        answers = await asyncio.gather(*runs, *chats)
        started = [a.json()["run_id"] for a in answers[:RUNS] if a.status_code == 202]
        finished = await asyncio.gather(*[wait_finished(http, r) for r in started])
        return {"accepted": len(started), "run_ids": started,
                "succeeded": sum(f == "succeeded" for f in finished),
                "chats_done": sum(bool(c) for c in answers[RUNS:]),
                "wall_s": time.perf_counter() - began}


async def chat(http: httpx.AsyncClient, i: int) -> bool:
    """A streaming chat completion; True when it ended with [DONE]."""
    body = {"model": "default", "stream": True, "max_tokens": 16,
            "messages": [{"role": "user", "content": f"Count to {i + 3}."}]}
    async with http.stream("POST", "/v1/chat/completions", json=body) as stream:
        lines = [line async for line in stream.aiter_lines() if line]
    return bool(lines) and lines[-1] == "data: [DONE]"


async def wait_finished(http: httpx.AsyncClient, run_id: str) -> str:
    while (status := (await http.get(f"/v1/runs/{run_id}")).json()["status"]) in (
            "queued", "running"):
        await asyncio.sleep(0.2)
    return status


def stored_once(database: Path, run_ids: list[str]) -> dict[str, int]:
    """Counts of what the store holds for the runs; each should equal len(run_ids)."""
    marks = ",".join("?" * len(run_ids))
    with sqlite3.connect(database) as db:
        def count(sql: str) -> int:
            return int(db.execute(sql.format(marks=marks), run_ids).fetchone()[0])

        return {
            "rows": count("SELECT COUNT(*) FROM runs WHERE id IN ({marks})"),
            "succeeded": count("SELECT COUNT(*) FROM runs WHERE id IN ({marks}) "
                               "AND status = 'succeeded'"),
            "one_run_end": count("SELECT COUNT(*) FROM (SELECT run_id FROM events WHERE run_id "
                                 "IN ({marks}) AND kind = 'run_end' GROUP BY run_id "
                                 "HAVING COUNT(*) = 1)"),
            "consecutive_events": count("SELECT COUNT(*) FROM (SELECT run_id FROM events WHERE "
                                        "run_id IN ({marks}) GROUP BY run_id HAVING COUNT(*) = "
                                        "MAX(seq) + 1 AND MIN(seq) = 0)"),
            "traces": count("SELECT COUNT(*) FROM traces WHERE run_id IN ({marks})"),
        }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=None, help="OUT.json and OUT.md")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="flowc-load-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "FLOWC_DATA_DIR": str(data_dir)}
    server = subprocess.Popen([sys.executable, "-m", "flowc.cli", "serve", "--port", str(port),
                               "--max-concurrent-runs", str(RUNS + CHATS + 8),
                               "--log-level", "warning"], env=env)
    try:
        wait_healthy(url, server)
        graph_id = httpx.post(f"{url}/v1/graphs", json=GRAPH).json()["id"]
        rounds = []
        for number in (1, 2):
            probe = HealthProbe(f"{url}/health")
            probe.start()
            result = asyncio.run(one_round(url, graph_id, f"round {number}"))
            probe.done.set()
            probe.join()
            result["stored"] = stored_once(data_dir / "flowc.db", result.pop("run_ids"))
            result["rss_mb"] = round(rss_mb(server.pid), 1)
            result["health"] = {
                "probes": len(probe.latencies),
                "non_200": sum(c != 200 for c in probe.codes),
                "p50_ms": round(statistics.median(probe.latencies) * 1e3, 2),
                "p95_ms": round(percentile(probe.latencies, 0.95) * 1e3, 2),
                "max_ms": round(max(probe.latencies) * 1e3, 2)}
            result["wall_s"] = round(result["wall_s"], 2)
            rounds.append(result)
            print(json.dumps(result), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
    report(rounds, args.out)


def wait_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("flowc serve exited early")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("flowc serve did not become healthy")


def report(rounds: list[dict[str, Any]], out: Path | None) -> None:
    growth = rounds[1]["rss_mb"] / rounds[0]["rss_mb"] - 1
    checks = {
        "every run stored exactly once": all(
            set(r["stored"].values()) == {RUNS} and r["succeeded"] == RUNS for r in rounds),
        "every chat ended with [DONE]": all(r["chats_done"] == CHATS for r in rounds),
        "/health p95 under 50 ms": all(r["health"]["p95_ms"] < 50 for r in rounds),
        "/health always 200": all(r["health"]["non_200"] == 0 for r in rounds),
        "memory after round 2 within 10% of round 1": abs(growth) <= 0.10,
    }
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=Path(__file__).parent).stdout.strip() or "unknown"
    summary = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
               "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "command": "python benchmarks/service_load.py --out " + str(out),
               "runs": RUNS, "chats": CHATS, "rounds": rounds,
               "rss_growth": round(growth, 4), "checks": checks}
    print(json.dumps(summary, indent=2))
    if out is None:
        return
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [f"# Service load: {RUNS} concurrent runs + {CHATS} streaming chats, two rounds",
             "", f"Machine: {summary['machine']}; embedded model on CPU; SQLite store.",
             f"Commit {summary['commit']}, {summary['date']}: `{summary['command']}`.", "",
             "| round | wall s | runs stored once | chats [DONE] | /health p50 / p95 / max ms "
             "| RSS MB |", "|---|---|---|---|---|---|"]
    for number, r in enumerate(rounds, start=1):
        h = r["health"]
        lines.append(f"| {number} | {r['wall_s']} | {min(r['stored'].values())}/{RUNS} | "
                     f"{r['chats_done']}/{CHATS} | {h['p50_ms']} / {h['p95_ms']} / "
                     f"{h['max_ms']} | {r['rss_mb']} |")
    lines += ["", f"Memory growth from round 1 to round 2: {growth:+.1%}.", ""]
    lines += [f"- {'pass' if ok else 'FAIL'}: {name}" for name, ok in checks.items()]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
