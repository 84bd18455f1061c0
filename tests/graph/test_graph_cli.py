"""`flowc validate` and `flowc schema`: exit codes, messages on stderr, the schema on stdout."""

from __future__ import annotations

import json
from pathlib import Path

from graph_cases import base
from typer.testing import CliRunner

import graph
from flowc.cli import app

EXAMPLE = Path(__file__).parents[2] / "examples" / "graphs" / "rag_answer.json"


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_validate_accepts_an_example() -> None:
    result = CliRunner().invoke(app, ["validate", str(EXAMPLE)])
    assert result.exit_code == 0, result.stderr
    assert "valid workflow 'rag_answer', 6 nodes, 0 warnings" in result.stdout


def test_validate_lists_every_error_and_exits_1(tmp_path: Path) -> None:
    data = base(lambda d: (d["nodes"][2].update(prompt="{{ sumary }}"),
                           d["edges"].append({"from": "report", "to": "nowhere"})))
    result = CliRunner().invoke(app, ["validate", str(_write(tmp_path, data))])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "edges[2].to (node 'report'): unknown node 'nowhere': use the id of a node in this "
        "graph (or 'done' to end the run)",
        "nodes[2].prompt (node 'report'): template names variable 'sumary' that no input, "
        "state entry or upstream node provides: did you mean 'summary'?",
    ]
    assert result.stdout == ""


def test_validate_prints_warnings_and_exits_0(tmp_path: Path) -> None:
    data = base(lambda d: d.update(layout={"ghost": {"x": 0, "y": 0}}))
    result = CliRunner().invoke(app, ["validate", str(_write(tmp_path, data))])
    assert result.exit_code == 0
    assert result.stderr.strip() == (
        "warning: layout.ghost: layout names unknown node 'ghost': remove the entry")


def test_validate_usage_errors_exit_2(tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["validate", str(tmp_path / "missing.json")]).exit_code == 2
    assert CliRunner().invoke(app, ["validate"]).exit_code == 2


def test_schema_prints_the_json_schema() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == graph.json_schema()
