"""The routes the editor uses besides the graph life cycle: a graph's versions, checking a
draft without storing it, the examples menu, and the editor's page at `/`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import tiny_graph

from web.editor import mount_editor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "graphs"


def test_a_graphs_versions(client: httpx.Client) -> None:
    graph_id = client.post("/v1/graphs", json=tiny_graph("versions")).json()["id"]
    client.put(f"/v1/graphs/{graph_id}", json=tiny_graph("versions_renamed", max_tokens=8))
    answer = client.get(f"/v1/graphs/{graph_id}/versions")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == 2
    assert [(v["version"], v["name"]) for v in body["data"]] == [
        (1, "versions"), (2, "versions_renamed")]
    assert client.get("/v1/graphs/g_nowhere/versions").status_code == 404


def test_check_a_valid_draft_stores_nothing(client: httpx.Client) -> None:
    before = client.get("/v1/graphs").json()["count"]
    answer = client.post("/v1/check", json=tiny_graph("draft"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"valid": True, "warnings": []}
    assert client.get("/v1/graphs").json()["count"] == before


def test_check_names_every_problem_with_its_node_and_path(client: httpx.Client) -> None:
    draft = tiny_graph("draft", prompt="Hello {{ nobody }}")
    draft["edges"] = [{"from": "hello", "to": "nowhere"}]
    answer = client.post("/v1/check", json=draft)
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    found = {(e["path"], e["node_id"]) for e in errors}
    assert ("edges[0].to", "hello") in found
    assert ("nodes[0].prompt", "hello") in found
    assert all(e["message"] for e in errors)


def test_check_of_what_is_not_a_workflow(client: httpx.Client) -> None:
    answer = client.post("/v1/check", content=b"{not json",
                         headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert "JSON" in answer.json()["errors"][0]["message"]
    missing = client.post("/v1/check", json={"flowc": 1, "name": "x", "nodes": [
        {"id": "a", "type": "llm", "output": "o"}]}).json()
    assert missing["errors"][0]["node_id"] == "a"


def test_the_examples_menu(client: httpx.Client) -> None:
    files = sorted(EXAMPLES.glob("*.json"))
    listed = client.get("/v1/examples").json()
    assert [x["name"] for x in listed["data"]] == [f.stem for f in files]
    assert listed["count"] == len(files)
    for path in files:
        assert client.get(f"/v1/examples/{path.stem}").json() == json.loads(path.read_text())
    assert client.get("/v1/examples/nothing_here").status_code == 404
    assert client.get("/v1/examples/..%2Fpyproject").status_code in (404, 422)


def test_the_page_at_root_says_how_to_build_the_editor(tmp_path: Path) -> None:
    app = FastAPI()
    mount_editor(app, tmp_path)
    answer = TestClient(app).get("/")
    assert answer.status_code == 503
    assert "npm run build" in answer.text


def test_the_page_at_root_is_the_built_editor(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<div id="root"></div>')
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    app = FastAPI()

    @app.get("/v1/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    mount_editor(app, tmp_path)
    http = TestClient(app)
    assert http.get("/").text == '<div id="root"></div>'
    assert http.get("/assets/app.js").text == "console.log(1)"
    assert http.get("/v1/ping").json() == {"pong": True}
    assert http.post("/v1/ping").status_code == 405  # the editor shadows no API path


def test_the_live_server_serves_the_editor_or_says_how_to_build_it(client: httpx.Client) -> None:
    answer = client.get("/")
    assert answer.status_code in (200, 503)
    assert 'id="root"' in answer.text if answer.status_code == 200 else "npm" in answer.text


def test_a_broken_example_file_is_left_out_of_the_menu(tmp_path: Path) -> None:
    from fastapi import HTTPException

    from web.routes.examples import get_example, list_examples
    from web.settings import Settings

    (tmp_path / "good.json").write_text('{"name": "good", "description": "fine"}')
    (tmp_path / "bad.json").write_text("{nope")
    settings = Settings(examples_dir=tmp_path, server_name="test")
    listed = asyncio.run(list_examples(settings))
    assert [x.name for x in listed.data] == ["good"]
    with pytest.raises(HTTPException) as refused:
        asyncio.run(get_example("bad", settings))
    assert "not a JSON object" in refused.value.detail
