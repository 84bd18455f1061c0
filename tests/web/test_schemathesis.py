"""schemathesis over every route of the live server's own OpenAPI schema, generating routes
included (on a server whose token caps are tiny): no 5xx, no status the schema does not
document, no answer that breaks the schema."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import LiveServer, tiny_graph, wait_finished

TINY_CAPS = {"FLOWC_MAX_COMPLETION_TOKENS": "4", "FLOWC_DEFAULT_COMPLETION_TOKENS": "4",
             "FLOWC_MAX_RUN_TOKENS": "8", "FLOWC_MAX_RUN_SECONDS": "20", "FLOWC_MAX_N": "2"}


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose every generation is a few tokens, so fuzzing the generating routes is
    cheap."""
    live = LiveServer(tmp_path_factory.mktemp("capped"), env=TINY_CAPS).start()
    try:
        yield live
    finally:
        live.stop()


def test_schemathesis_finds_nothing(capped: LiveServer, tmp_path: Path) -> None:
    with capped.client() as client:
        graph_id = client.post("/v1/graphs", json=tiny_graph("fuzzed")).json()["id"]
        run_id = client.post(f"/v1/graphs/{graph_id}/runs", json={}).json()["run_id"]
        wait_finished(client, run_id)
    # real ids instead of random ones, so the routes get past their 404s
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'[parameters]\n"path.graph_id" = "{graph_id}"\n"path.run_id" = "{run_id}"\n')
    st = shutil.which("st") or str(Path(sys.executable).parent / "st")
    command = [
        st, "--config-file", str(config), "run", f"{capped.url}/openapi.json",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--max-examples", "15", "--phases", "examples,coverage,fuzzing",
        "--seed", "1", "--max-time", "45", "--workers", "1",
        "--generation-database", "none", "--request-timeout", "20", "--no-color",
    ]
    # one worker: hypothesis describes filters with ast.parse, which Python 3.11 does not make
    # thread-safe ("AST constructor recursion depth mismatch" with two)
    done = subprocess.run(command, capture_output=True, text=True, timeout=150, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
