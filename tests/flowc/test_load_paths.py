"""`flowc.load` takes a path as a str too; `graph.load`, which the server gives uploaded text,
never reads a str as a file name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import flowc
import graph
from graph import GraphError

ROOT = Path(__file__).resolve().parents[2]
DEBATE = ROOT / "examples" / "graphs" / "debate.json"


def test_flowc_load_takes_str_paths_and_json_text() -> None:
    expected = graph.load(DEBATE)
    assert flowc.load(str(DEBATE)) == expected
    assert flowc.load(DEBATE.read_text()) == expected
    assert flowc.load(json.loads(DEBATE.read_text())) == expected
    with pytest.raises(GraphError, match="cannot read"):
        flowc.load(str(ROOT / "nope.json"))


def test_graph_load_reads_a_str_as_json_text_never_as_a_file() -> None:
    with pytest.raises(GraphError) as raised:
        graph.load(str(DEBATE))
    assert "invalid JSON" in str(raised.value.problems[0])
