"""Drives the web graph editor in Debian's Chromium through Playwright, the way a user does:
with the mouse on the canvas and the keyboard in the forms."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
STATIC = Path(__file__).resolve().parents[2] / "web" / "static" / "index.html"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "editor"
TIMEOUT_MS = 60_000


def require_browser() -> None:
    """Skip unless Chromium and the built editor are both here (fail instead when
    FLOWC_REQUIRE_BROWSER is set, as CI does)."""
    missing = ("Debian's chromium is not installed (apt-get install chromium)"
               if not CHROMIUM.exists() else
               "the editor is not built: cd web/frontend && npm ci && npm run build"
               if not STATIC.exists() else None)
    if missing is None:
        return
    if os.environ.get("FLOWC_REQUIRE_BROWSER"):
        pytest.fail(missing)
    pytest.skip(missing)


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


class Editor:
    """One page of the editor, and the gestures the tests make on it."""

    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.url = url
        page.set_default_timeout(TIMEOUT_MS)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def open(self, ready: bool = True) -> Editor:
        """Load the page; `ready` waits for the palette (the server's schema has come)."""
        self.page.goto(self.url)
        self.page.get_by_test_id("palette" + ("-llm" if ready else "")).wait_for()
        return self

    def shot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def by(self, test_id: str) -> Any:
        return self.page.get_by_test_id(test_id)

    def node(self, node_id: str) -> Any:
        return self.page.locator(f'.react-flow__node[data-id="{node_id}"]')

    def nodes(self) -> Any:
        return self.page.locator(".react-flow__node")

    def place(self, node_type: str, x: float, y: float) -> None:
        """Pick a node type in the palette, then click the canvas at (x, y) of its box."""
        box = self.by("canvas").bounding_box()
        self.by(f"palette-{node_type}").click()
        self.page.mouse.click(box["x"] + x, box["y"] + y)

    def connect(self, source: str, target: str) -> None:
        """Draw an edge with the mouse from one node's bottom handle to another's top one."""
        edges = self.page.locator(".react-flow__edge")
        before = edges.count()
        start = self._center(self.node(source).locator(".react-flow__handle.source"))
        end = self._center(self.node(target).locator(".react-flow__handle.target"))
        mouse = self.page.mouse
        mouse.move(*start)
        mouse.down()
        mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=5)
        mouse.move(*end, steps=5)
        mouse.up()
        self.page.wait_for_function(
            f"document.querySelectorAll('.react-flow__edge').length > {before}")

    def fill(self, test_id: str, value: str) -> None:
        self.by(test_id).fill(value)

    def select_node(self, node_id: str) -> None:
        self.node(node_id).locator(".node-head").click()
        self.by("field-id").wait_for()

    def node_boxes(self) -> dict[str, dict[str, float]]:
        boxes = {}
        for handle in self.nodes().element_handles():
            box = handle.bounding_box()
            if box is not None:
                boxes[handle.get_attribute("data-id") or ""] = box
        return boxes

    def export(self) -> dict[str, Any]:
        with self.page.expect_download() as download:
            self.by("export").click()
        return json.loads(Path(download.value.path()).read_text())

    def import_file(self, path: Path) -> None:
        self.by("import-file").set_input_files(str(path))

    def _center(self, locator: Any) -> tuple[float, float]:
        box = locator.bounding_box()
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def overlapping(boxes: dict[str, dict[str, float]]) -> list[tuple[str, str]]:
    """Pairs of nodes whose boxes on the screen overlap."""
    items = list(boxes.items())
    return [(a, b) for i, (a, p) in enumerate(items) for b, q in items[i + 1:]
            if p["x"] < q["x"] + q["width"] and q["x"] < p["x"] + p["width"]
            and p["y"] < q["y"] + q["height"] and q["y"] < p["y"] + p["height"]]
