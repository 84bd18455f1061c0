"""Live `flowc serve` processes on loopback for the web tests (real uvicorn, real engine, real
SQLite in a temporary data folder), and the small graphs the tests run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

START_TIMEOUT_S = 180.0
SHORT_GRACE = {"FLOWC_SHUTDOWN_GRACE_S": "3"}  # a stop drains in seconds, not the default 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A `flowc serve` subprocess with its own data folder; restartable on the same data."""

    def __init__(self, data_dir: Path, *args: str, api_key: str | None = None,
                 env: dict[str, str] | None = None, database_url: str | None = None,
                 start_timeout_s: float = START_TIMEOUT_S) -> None:
        self.data_dir = data_dir
        self.start_timeout_s = start_timeout_s
        self.env = env or {}
        self.args = list(args) + (["--database-url", database_url] if database_url else [])
        self.api_key = api_key
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log_path = data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.data_dir / "flowc.db"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(), timeout=120, **kwargs)

    def start(self, wait: bool = True) -> LiveServer:
        self.port = self.port or free_port()  # a restart keeps the port: clients carry on
        env = {**os.environ, "FLOWC_DATA_DIR": str(self.data_dir), **SHORT_GRACE, **self.env}
        env.pop("FLOWC_API_KEY", None)
        command = [sys.executable, "-m", "flowc.cli", "serve", "--port", str(self.port),
                   "--log-level", "warning", *self.args]
        if self.api_key:
            command += ["--api-key", self.api_key]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_healthy()
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()

    def start_elsewhere(self) -> LiveServer:
        """Start again on a new port, as another host's server would."""
        self.port = 0
        return self.start()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"flowc serve exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"flowc serve did not become healthy:\n{self.log()}")


API_KEY = "s3cret-key"
CORS_ORIGIN = "http://editor.example"
RUN_TOKEN_LIMIT = 40


def tiny_graph(name: str = "greet", max_tokens: int = 4, prompt: str | None = None) -> dict:
    """One llm node: cheap enough to run many times on a CPU."""
    return {
        "flowc": 1,
        "name": name,
        "inputs": {"who": {"type": "string", "default": "Ada"}},
        "nodes": [{"id": "hello", "type": "llm", "output": "greeting", "max_tokens": max_tokens,
                   "prompt": prompt or "Say hello to {{ who }}."}],
        "outputs": {"greeting": "{{ greeting }}"},
    }


def long_graph() -> dict:
    """One llm node that goes on for long enough to be cancelled or cut off."""
    return tiny_graph("long", max_tokens=2000, prompt="Write a very long story about a "
                      "lighthouse keeper, with many chapters.")


def wait_finished(http: httpx.Client, run_id: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = http.get(f"/v1/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish in {timeout_s} s")
