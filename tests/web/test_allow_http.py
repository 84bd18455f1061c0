"""`flowc serve --allow-http HOST`: the http_get tool reaches that host (a real local HTTP
server) and no other; a strict server takes graphs using it without a warning."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from live_server import LiveServer, wait_finished


class _Lookup(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = json.dumps({"path": self.path, "verdict": "benign"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def lookup() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Lookup)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("allow-http"), "--strict-tools",
                      "--allow-http", "127.0.0.1")
    live.start()
    try:
        yield live
    finally:
        live.stop()


def _fetch_graph(url: str) -> dict:
    return {"flowc": 1, "name": "fetch",
            "inputs": {"ip": {"type": "string"}},
            "nodes": [{"id": "fetch", "type": "tool", "tool": "http_get",
                       "args": {"url": url, "params": {"ip": "{{ ip }}"}}, "output": "page"}],
            "outputs": {"verdict": "{{ page.json.verdict }}", "path": "{{ page.json.path }}"}}


def test_an_allowed_host_is_fetched_by_a_run(server: LiveServer, lookup: str) -> None:
    with server.client() as http:
        created = http.post("/v1/graphs", json=_fetch_graph(f"{lookup}/lookup"))
        assert created.status_code == 201, created.text
        assert created.json()["warnings"] == []
        started = http.post(f"/v1/graphs/{created.json()['id']}/runs",
                            json={"inputs": {"ip": "10.0.0.7"}})
        run = wait_finished(http, started.json()["run_id"])
    assert run["status"] == "succeeded", run
    assert run["outputs"] == {"verdict": "benign", "path": "/lookup?ip=10.0.0.7"}


def test_any_other_host_fails_the_run_naming_the_allowlist(server: LiveServer) -> None:
    with server.client() as http:
        created = http.post("/v1/graphs", json=_fetch_graph("http://localhost.test/lookup"))
        assert created.status_code == 201
        started = http.post(f"/v1/graphs/{created.json()['id']}/runs",
                            json={"inputs": {"ip": "10.0.0.7"}})
        run = wait_finished(http, started.json()["run_id"])
    assert run["status"] == "failed" and run["error_node"] == "fetch"
    assert "'localhost.test' is not allowed" in run["error"] and "127.0.0.1" in run["error"]


def test_the_option_is_in_the_serve_help() -> None:
    from typer.testing import CliRunner

    from flowc.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)
    assert "--allow-http" in result.output
