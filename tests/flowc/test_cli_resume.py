"""`flowc run --checkpoint FILE` killed with SIGKILL after its first node, then
`flowc run --resume FILE`: the resumed run prints the outputs of an uninterrupted run (greedy)
and runs only the nodes left; bad resumptions are one clear error line."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from test_cli_failures import FLOWC, flowc, one_error_line


def three_steps(folder: Path) -> Path:
    graph = folder / "graph.json"
    graph.write_text(json.dumps({
        "flowc": 1, "name": "three_steps",
        "inputs": {"topic": {"type": "string", "default": "tea"}},
        "defaults": {"temperature": 0.0},
        "nodes": [
            {"id": "fact", "type": "llm", "output": "fact", "max_tokens": 8,
             "prompt": "Give one fact about {{ topic }}."},
            {"id": "shout", "type": "set", "assign": {"loud": "fact | upper"}},
            {"id": "poem", "type": "llm", "output": "poem", "max_tokens": 120,
             "prompt": "Write a long poem using this fact: {{ loud }}"},
        ],
        "edges": [{"from": "fact", "to": "shout"}, {"from": "shout", "to": "poem"}],
        "outputs": {"fact": "{{ fact }}", "loud": "{{ loud }}", "poem": "{{ poem }}"},
    }))
    return graph


def test_a_killed_run_resumes_from_its_checkpoint_file(tmp_path: Path) -> None:
    graph = three_steps(tmp_path)
    state = tmp_path / "run.checkpoint.json"
    killed = subprocess.Popen([FLOWC, "run", str(graph), "-i", "topic=owls",
                               "--checkpoint", str(state)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while not (state.exists() and len(json.loads(state.read_text())["state"]["done"]) == 2):
        assert killed.poll() is None and time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    saved = json.loads(state.read_text())
    assert saved["inputs"] == {"topic": "owls"} and saved["state"]["done"] == ["fact", "shout"]

    trace = tmp_path / "trace.json"
    resumed = flowc("run", str(graph), "--resume", str(state), "--trace", str(trace),
                    timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert [n["node_id"] for n in json.loads(trace.read_text())["nodes"]] == ["poem"]
    assert not state.exists()  # the run succeeded: nothing is left to resume
    whole = flowc("run", str(graph), "-i", "topic=owls", timeout=300)
    assert whole.returncode == 0, whole.stderr
    assert json.loads(resumed.stdout) == json.loads(whole.stdout)


def test_bad_resumptions_are_one_clear_error(tmp_path: Path) -> None:
    graph = three_steps(tmp_path)
    missing = one_error_line(flowc("run", str(graph), "--resume", str(tmp_path / "none")), 1)
    assert "no such file" in missing
    (tmp_path / "junk.json").write_text("{\"format\": 3}")
    junk = one_error_line(flowc("run", str(graph), "--resume", str(tmp_path / "junk.json")), 1)
    assert "not a flowc checkpoint file" in junk
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"format": "flowc-checkpoint/1", "workflow_sha256": "0" * 64,
                                 "inputs": {}, "seed": 0, "state": {}}))
    other = one_error_line(flowc("run", str(graph), "--resume", str(state)), 1)
    assert "another version" in other
    both = one_error_line(flowc("run", str(graph), "--resume", str(state), "-i", "topic=x"), 2)
    assert "pass no --input" in both
