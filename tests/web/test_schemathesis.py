"""schemathesis against the live server's own OpenAPI schema: no 5xx, no answer that breaks
the schema. Routes that start model generation are left out (they are exercised in
test_runs.py and test_openai.py): POST /v1/graphs/{graph_id}/runs, /v1/chat/completions,
/v1/completions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import LiveServer

GENERATING = r"^/v1/(chat/completions|completions|graphs/\{graph_id\}/runs)$"


def test_schemathesis_finds_nothing(server: LiveServer, tmp_path: Path) -> None:
    st = shutil.which("st") or str(Path(sys.executable).parent / "st")
    command = [
        st, "run", f"{server.url}/openapi.json",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--exclude-path-regex", GENERATING,
        "--max-examples", "15", "--phases", "examples,coverage,fuzzing",
        "--seed", "1", "--max-time", "45", "--workers", "2",
        "--generation-database", "none", "--request-timeout", "20", "--no-color",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=150, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
