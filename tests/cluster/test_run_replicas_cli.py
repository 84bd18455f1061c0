"""`flowc run --inputs-jsonl F --replicas 2`: a batch spread over two replicas on a local Ray
prints the same outputs, in input order, as the same batch on one engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cluster_graphs import alerts, shared_prefix_graph

INSTANCES = 16


def flowc_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowc.cli", "run", *args],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_batch_on_two_replicas_prints_one_engines_outputs_in_order(tmp_path: Path) -> None:
    graph, inputs = tmp_path / "graph.json", tmp_path / "alerts.jsonl"
    graph.write_text(json.dumps(shared_prefix_graph()))
    inputs.write_text("".join(json.dumps(a) + "\n" for a in alerts(INSTANCES)))
    trace = tmp_path / "trace.json"

    spread = flowc_run(str(graph), "--inputs-jsonl", str(inputs), "--replicas", "2",
                       "--trace", str(trace))
    single = flowc_run(str(graph), "--inputs-jsonl", str(inputs))

    assert spread.returncode == 0, spread.stderr
    assert single.returncode == 0, single.stderr
    lines = spread.stdout.splitlines()
    assert len(lines) == INSTANCES and lines == single.stdout.splitlines()
    served = {t["replicas"][0]["replica"] for t in json.loads(trace.read_text())}
    assert served == {0, 1}


def test_ray_address_without_replicas_is_a_usage_error(tmp_path: Path) -> None:
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps(shared_prefix_graph()))
    answer = flowc_run(str(graph), "--ray-address", "auto")
    assert answer.returncode == 2
    assert "--ray-address goes with --replicas N" in answer.stderr
