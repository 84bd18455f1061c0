"""schemathesis against the live server's own OpenAPI schema: no 5xx, no answer that breaks
the schema. Routes that start model generation are left out (they are exercised in
test_runs.py, test_openai*.py and test_responses_api.py): POST /v1/graphs/{graph_id}/runs,
/v1/chat/completions, /v1/completions, /v1/responses."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
from live_server import LiveServer, tiny_graph, wait_finished

GENERATING = r"^/v1/(chat/completions|completions|responses|graphs/\{graph_id\}/runs)$"


def test_schemathesis_finds_nothing(server: LiveServer, client: httpx.Client,
                                    tmp_path: Path) -> None:
    graph_id = client.post("/v1/graphs", json=tiny_graph("fuzzed")).json()["id"]
    run_id = client.post(f"/v1/graphs/{graph_id}/runs", json={}).json()["run_id"]
    wait_finished(client, run_id)
    # real ids instead of random ones, so the routes get past their 404s
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'[parameters]\n"path.graph_id" = "{graph_id}"\n"path.run_id" = "{run_id}"\n')
    st = shutil.which("st") or str(Path(sys.executable).parent / "st")
    command = [
        st, "--config-file", str(config), "run", f"{server.url}/openapi.json",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--exclude-path-regex", GENERATING,
        "--max-examples", "15", "--phases", "examples,coverage,fuzzing",
        "--seed", "1", "--max-time", "45", "--workers", "1",
        "--generation-database", "none", "--request-timeout", "20", "--no-color",
    ]
    # one worker: hypothesis describes filters with ast.parse, which Python 3.11 does not make
    # thread-safe ("AST constructor recursion depth mismatch" with two)
    done = subprocess.run(command, capture_output=True, text=True, timeout=150, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
