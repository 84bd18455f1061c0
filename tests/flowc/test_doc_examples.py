"""The README's and docs/executor.md's examples, executed exactly as written: the Python blocks
with `exec`, the shell commands of the README in bash from the repository root."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXECUTOR_DOC = ROOT / "docs" / "executor.md"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def blocks(doc: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", doc.read_text(encoding="utf-8"), re.DOTALL)


def commands(doc: Path) -> list[str]:
    """Every `$ ` line of the console blocks."""
    return [line[2:] for block in blocks(doc, "console") for line in block.splitlines()
            if line.startswith("$ ")]


def command(doc: Path, start: str) -> str:
    found = [c for c in commands(doc) if c.startswith(start)]
    assert len(found) == 1, found
    return found[0]


def run_python(code: str) -> dict[str, Any]:
    names: dict[str, Any] = {}
    previous = Path.cwd()
    os.chdir(ROOT)
    try:
        exec(compile(code, "<doc example>", "exec"), names)  # the documentation's own code
    finally:
        os.chdir(previous)
    return names


def test_the_readme_python_example_runs_as_written(capsys) -> None:
    (code,) = blocks(README, "python")
    names = run_python(code)
    assert names["result"].status == "succeeded", names["result"].error
    assert names["plan"].steps


def test_the_executor_doc_python_example_runs_as_written(capsys) -> None:
    (code,) = blocks(EXECUTOR_DOC, "python")
    names = run_python(code)
    assert names["result"].status == "succeeded", names["result"].error
    printed = capsys.readouterr().out
    assert printed.startswith("succeeded {")


def test_the_readme_compile_and_run_commands_work_as_written() -> None:
    for line in (command(README, "flowc compile "), command(README, "flowc run ")):
        result = subprocess.run(["bash", "-c", line], cwd=ROOT, env=ENV, capture_output=True,
                                text=True, timeout=900)
        assert result.returncode == 0, (line, result.stderr)
        assert "Traceback" not in result.stderr


def port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_readme_serve_example_finishes_a_run() -> None:
    serve, upload = (command(README, "flowc serve "), command(README, "curl "))
    port = int(re.search(r"--port (\d+)", serve).group(1))  # type: ignore[union-attr]
    if port_taken(port):
        pytest.skip(f"port {port} is taken on this machine")
    server = subprocess.Popen(["bash", "-c", f"exec {serve.removesuffix('&').strip()}"],
                              cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        graph = _retry(lambda: json.loads(subprocess.run(
            ["bash", "-c", upload], cwd=ROOT, env=ENV, capture_output=True, text=True,
            check=True, timeout=60).stdout), deadline=300)
        base = f"http://127.0.0.1:{port}"
        started = _post(f"{base}/v1/graphs/{graph['id']}/runs", {"inputs": {}})
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            run = json.load(urllib.request.urlopen(f"{base}/v1/runs/{started['run_id']}"))
            if run["status"] not in ("queued", "running"):
                break
            time.sleep(1)
        assert run["status"] == "succeeded", run.get("error")
        assert run["outputs"]["label"]
    finally:
        server.terminate()
        server.wait(timeout=60)


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"content-type": "application/json"})
    return json.load(urllib.request.urlopen(request))


def _retry(attempt, deadline: float) -> Any:
    end = time.monotonic() + deadline
    while True:
        try:
            return attempt()
        except (subprocess.CalledProcessError, json.JSONDecodeError):
            if time.monotonic() > end:
                raise
            time.sleep(1)
