"""Every example workflow loads with no errors or warnings, validates against the JSON Schema,
runs with no extra inputs, uses only tools that exist, and keeps its calls small."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import graph
from executor import ToolRegistry

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "examples" / "graphs").glob("*.json"))
REQUIRED = {"soar_triage", "react_agent", "tree_of_thoughts", "map_reduce_summary",
            "few_shot_classify", "debate", "rag_answer", "self_consistency"}


def _tools() -> ToolRegistry:
    registry = ToolRegistry.with_builtins()
    registry.load_module(ROOT / "examples" / "tools.py")
    return registry


def _llm_nodes(nodes):
    for node in nodes:
        if node.type in ("llm", "select"):
            yield node
        if node.type == "map":
            yield from _llm_nodes(node.body.nodes)


def _tool_nodes(nodes):
    for node in nodes:
        if node.type == "tool":
            yield node
        if node.type == "map":
            yield from _tool_nodes(node.body.nodes)


def test_every_required_example_exists() -> None:
    assert {p.stem for p in EXAMPLES} >= REQUIRED


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_loads_cleanly_and_runs_without_inputs(path: Path) -> None:
    workflow, warnings = graph.load_with_warnings(path)
    assert warnings == []
    assert workflow.name == path.stem
    assert len(workflow.description) > 40
    assert all(spec.default is not None for spec in workflow.inputs.values())


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_matches_the_json_schema(path: Path) -> None:
    jsonschema.validate(json.loads(path.read_text()), graph.json_schema())


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_tools_exist_and_calls_stay_small(path: Path) -> None:
    workflow = graph.load(path)
    registry = _tools()
    for node in _tool_nodes(workflow.nodes):
        assert node.tool in registry, node.id
    for node in _llm_nodes(workflow.nodes):
        max_tokens = getattr(node, "max_tokens", None) or workflow.defaults.max_tokens
        assert node.type == "select" or max_tokens <= 128, node.id


def test_example_tools_are_deterministic_and_offline() -> None:
    registry = _tools()
    lookup, search = registry.get("lookup_ip").fn, registry.get("search_docs").fn
    assert lookup("185.220.101.34")["reputation"] == "malicious"
    assert lookup("10.0.4.17")["reputation"] == "internal"
    assert lookup("1.2.3.4")["reputation"] == "unknown"
    assert lookup("not an ip")["valid"] is False
    hits = search("HTTP 429 rate limits for the API", k=2)
    assert [h["id"] for h in hits][0] == "kb-002" and len(hits) == 2
    assert search("zebra") == []
    assert search("api keys rotate") == search("api keys rotate")


def test_schema_is_valid_and_rejects_what_the_model_rejects() -> None:
    schema = graph.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    bad = json.loads(EXAMPLES[0].read_text())
    bad["nodes"][0]["type"] = "llmm"
    bad["edges"].append({"from": "a", "too": "b"})
    assert len(list(validator.iter_errors(bad))) >= 2
    assert schema["properties"]["flowc"]["const"] == 1
