"""Renderers: text (golden files), json (round trip), dot (Graphviz) and html."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from compiler_graphs import ALL
from plan_checks import all_steps

import compiler
from compiler.graphapi import load
from compiler.plan import Plan
from compiler.render import render
from graph.model import Workflow

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "graphs").glob("*.json"))
UPDATE = os.environ.get("FLOWC_UPDATE_GOLDEN") == "1"


def _cases() -> list[tuple[str, object]]:
    cases = [(name, data) for name, data in sorted(ALL.items())]
    cases += [(f"example_{path.stem}", path) for path in EXAMPLES]
    return cases


def _workflow(source):
    return load(source) if isinstance(source, Path) else Workflow.model_validate(source)


@pytest.fixture(scope="module")
def plans(tokenizer) -> dict[str, Plan]:
    return {name: compiler.compile(_workflow(src), tokenizer) for name, src in _cases()}


@pytest.mark.parametrize("name", [name for name, _ in _cases()])
def test_text_matches_its_golden_file(name, plans):
    text = render(plans[name], "text")
    golden = GOLDEN / f"{name}.txt"
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"no golden file {golden.name}: rerun with FLOWC_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")


def test_text_reads_like_explain(plans):
    text = render(plans["triage"], "text")
    for heading in ("PLAN triage", "STEPS", "STAGES", "PREFIX GROUPS", "ESTIMATE", "DIAGNOSTICS"):
        assert heading in text
    assert "stage 0: classify | explain  parallel x2" in text
    saved = plans["triage"].estimate.prefill_saved
    assert f"saved {saved} (" in text


def test_json_is_the_plan_and_round_trips(plans):
    for plan in plans.values():
        data = json.loads(render(plan, "json"))
        assert data["version"] == 1
        assert Plan.from_dict(data) == plan


def test_dot_has_every_step_and_route(plans):
    plan = plans["summary"]
    dot = render(plan, "dot")
    for step in all_steps(plan.steps):
        assert re.search(rf'^\s*"{re.escape(step.id)}" \[shape=', dot, re.M)
    for route in plan.routes:
        assert f'"{route.source}" -> "{route.target}"' in dot
    assert 'subgraph "cluster_per_chunk"' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_dot_renders_with_graphviz(plans):
    for name, plan in plans.items():
        done = subprocess.run(
            ["dot", "-Tsvg"], input=render(plan, "dot"), capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, (name, done.stderr)
        assert "<svg" in done.stdout


def test_html_is_one_self_contained_page(plans):
    plan = plans["triage"]
    html = render(plan, "html")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert not re.search(r"(src|href)=|https?://|<script", html)
    for step in all_steps(plan.steps):
        assert f">{step.id}<" in html
    assert f"<b>{plan.estimate.prefill_saved} (" in html


def test_html_escapes_text_from_the_workflow(tokenizer):
    data = {"flowc": 1, "name": "esc", "nodes": [
        {"id": "a", "type": "llm", "output": "x", "prompt": "Say a letter."},
        {"id": "b", "type": "set", "assign": {"y": "1"}}],
        "edges": [{"from": "a", "to": "b", "when": "x < '<b>'"}]}
    html = render(compiler.compile(Workflow.model_validate(data), tokenizer), "html")
    assert "<code>x &lt; &#39;&lt;b&gt;&#39;</code>" in html


def test_unknown_format_is_an_error(plans):
    with pytest.raises(ValueError, match="unknown plan format 'xml'"):
        render(plans["triage"], "xml")  # type: ignore[arg-type]
