"""The web graph editor in headless Chromium against a live `flowc serve` (the embedded model):
draw a graph with the mouse, see the server's problems on it, save, compile, run, export, and
open every example. Each stage leaves a screenshot in tests/artifacts/editor/."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from editor_driver import Editor, chromium, overlapping, require_browser
from live_server import API_KEY, LiveServer

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "graphs").glob("*.json"))
INSTRUCTIONS = ("You are a careful analyst who writes short, balanced notes for busy readers. "
                "Keep it brief. ")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def editor(browser: Any, server: LiveServer) -> Iterator[Editor]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    yield Editor(context.new_page(), server.url).open()
    context.close()


def test_draw_a_four_node_graph_with_the_mouse(editor: Editor) -> None:
    editor.by("new").click()
    assert editor.nodes().count() == 0
    editor.fill("workflow-name", "pros_cons")
    editor.fill("workflow-inputs", '{"topic": {"type": "string", "default": "green tea"}}')
    editor.fill("workflow-defaults", '{"max_tokens": 3, "temperature": 0}')
    editor.fill("workflow-outputs", '{"verdict": "{{ verdict_text }}"}')
    width = editor.by("canvas").bounding_box()["width"]
    editor.place("set", width / 2 - 110, 30)
    editor.fill("field-id", "prep")
    editor.fill("field-assign", '{"subject": "topic | trim"}')
    for name, x, text in (("pros", width / 2 - 360, "advantage"),
                          ("cons", width / 2 + 140, "drawback")):
        editor.place("llm", x, 190)
        editor.fill("field-id", name)
        editor.fill("field-output", f"{name}_text")
        editor.fill("field-prompt", f"{INSTRUCTIONS}Name one {text} of {{{{ subject }}}}.")
    editor.place("llm", width / 2 - 110, 350)
    editor.fill("field-id", "verdict")
    editor.fill("field-output", "verdict_text")
    editor.fill("field-prompt", "Advantage: {{ pros_text }}\nDrawback: {{ cons_text }}\nVerdict:")
    assert editor.nodes().count() == 4
    editor.by("node-verdict").get_by_test_id("node-error").wait_for()  # unknown variables
    for source, target in (("prep", "pros"), ("prep", "cons"), ("pros", "verdict"),
                           ("cons", "verdict")):
        editor.connect(source, target)
    assert editor.page.locator(".react-flow__edge").count() == 4
    editor.by("tab-problems").click()
    editor.by("no-problems").wait_for()
    editor.shot("1-drawn")


def test_a_validation_error_shows_on_its_node_and_field_until_fixed(editor: Editor) -> None:
    editor.select_node("verdict")
    editor.fill("field-prompt", "Verdict on {{ nowhere }}:")
    error = editor.node("verdict").get_by_test_id("node-error")
    error.wait_for()
    assert "nowhere" in error.inner_text()
    assert "nowhere" in editor.by("field-prompt-error").inner_text()
    editor.shot("2-validation-error")
    editor.fill("field-prompt", "Advantage: {{ pros_text }}\nDrawback: {{ cons_text }}\nVerdict:")
    error.wait_for(state="detached")
    editor.by("no-problems").wait_for()


def test_undo_redo_copy_and_paste_from_the_keyboard(editor: Editor) -> None:
    editor.select_node("pros")
    editor.page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    editor.node("pros").locator(".node-head").click()
    editor.page.keyboard.press("Control+c")
    editor.page.keyboard.press("Control+v")
    editor.node("pros_2").wait_for()
    editor.page.keyboard.press("Escape")
    editor.page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    editor.page.keyboard.press("Control+z")
    editor.node("pros_2").wait_for(state="detached")
    editor.page.keyboard.press("Control+Shift+z")
    editor.node("pros_2").wait_for()
    editor.page.keyboard.press("Control+z")
    editor.node("pros_2").wait_for(state="detached")
    assert editor.nodes().count() == 4


def test_save_and_compile_draws_the_plan_over_the_graph(editor: Editor, client: Any) -> None:
    editor.by("save").click()
    editor.page.wait_for_function(
        "document.querySelector('[data-testid=doc-state]').textContent.includes(' v1')")
    editor.by("compile").click()
    editor.by("prefix-groups").wait_for()
    assert "saves" in editor.by("prefix-groups").inner_text()
    assert editor.page.locator("[data-testid=stage]").count() == 4
    for name in ("pros", "cons"):
        assert editor.node(name).get_by_test_id("group-tag").count() >= 1
    critical = editor.page.locator(".react-flow__node .node.critical")
    assert critical.count() >= 3  # prep → pros or cons → verdict
    assert editor.page.locator(".react-flow__edge.critical").count() >= 2
    assert editor.by("explain").inner_text().startswith("PLAN pros_cons")
    editor.shot("3-compiled")


def test_run_streams_tokens_and_fills_the_timeline(editor: Editor) -> None:
    editor.by("tab-run").click()
    assert editor.by("input-topic").input_value() == "green tea"
    editor.by("run").click()
    stream = editor.node("verdict").get_by_test_id("node-stream")
    stream.wait_for()
    editor.page.wait_for_function(
        "document.querySelector('[data-testid=run-status]')?.textContent.endsWith('succeeded')",
        timeout=120_000)
    bars = editor.page.locator("[data-testid=timeline-bar]")
    assert bars.count() == 4
    for name in ("pros", "cons", "verdict"):
        node = editor.node(name)
        assert node.locator(".node").get_attribute("data-status") == "succeeded"
        text = node.get_by_test_id("node-stream").inner_text()
        assert text and text != "succeeded", f"{name} streamed no tokens"
    editor.by("analyze").wait_for()
    assert '"verdict"' in editor.by("outputs").inner_text()
    editor.shot("4-run")


def test_export_matches_the_servers_copy(editor: Editor, client: Any) -> None:
    exported = editor.export()
    state = editor.by("doc-state").inner_text()
    graph_id = next(word for word in state.split() if word.startswith("g_"))
    stored = client.get(f"/v1/graphs/{graph_id}").json()["graph"]
    assert exported == stored


def test_versions_and_their_diff(editor: Editor) -> None:
    editor.select_node("verdict")
    editor.fill("field-max_tokens", "2")
    editor.by("save").click()
    editor.page.wait_for_function(
        "document.querySelector('[data-testid=doc-state]').textContent.includes(' v2')")
    editor.by("tab-versions").click()
    editor.by("diff").click()
    diff = editor.by("diff-result")
    diff.wait_for()
    assert "~ node verdict: max_tokens" in diff.inner_text()
    assert "decode tokens: 9 → 8" in diff.inner_text()


def test_the_draft_survives_a_reload(editor: Editor) -> None:
    editor.page.reload()
    editor.node("verdict").wait_for()
    assert editor.nodes().count() == 4
    assert "pros_cons" in editor.by("doc-state").inner_text()


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_imports_laid_out_without_overlaps(editor: Editor, example: Path) -> None:
    editor.import_file(example)
    source = json.loads(example.read_text())
    edges = source.get("edges", [])
    expected = {n["id"] for n in source["nodes"]} | {e["to"] for e in edges if e["to"] == "done"}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        boxes = editor.node_boxes()
        if set(boxes) == expected and not overlapping(boxes):
            break
        time.sleep(0.2)
    assert set(boxes) == expected
    assert not overlapping(boxes), overlapping(boxes)
    assert source["name"] in editor.by("doc-state").inner_text()
    assert editor.export() == source  # the round trip is exact
    editor.shot(f"5-example-{example.stem}")


def test_examples_menu_and_a_map_body_as_a_sub_flow(editor: Editor) -> None:
    editor.by("examples").select_option("map_reduce_summary")
    editor.node("per_section").get_by_test_id("open-body").click()
    editor.node("summarise").wait_for()
    assert "per_section body" in editor.by("crumbs").inner_text()
    source = json.loads((EXAMPLES[0].parent / "map_reduce_summary.json").read_text())
    body = next(n["body"] for n in source["nodes"] if n["id"] == "per_section")
    assert editor.by("body-result").input_value() == body["result"]
    editor.shot("6-map-body")


def test_the_token_field_opens_a_locked_server(browser: Any, locked: LiveServer) -> None:
    page = browser.new_page()
    editor = Editor(page, locked.url).open(ready=False)
    connection = editor.by("connection")
    editor.page.wait_for_function(
        "document.querySelector('[data-testid=connection]').textContent.includes('API key')")
    editor.fill("token", API_KEY)
    editor.page.wait_for_function(
        "document.querySelector('[data-testid=connection]').textContent.includes('SmolLM2')")
    assert editor.by("palette-map").is_visible()
    editor.page.route("**/health", lambda route: route.abort())
    editor.page.wait_for_function(
        "document.querySelector('[data-testid=connection]').textContent.includes('cannot reach')",
        timeout=20_000)
    assert "flowc serve" in connection.inner_text()
    page.close()
