"""Graph routes over HTTP against a live server: the life cycle, 422 details, limits."""

from __future__ import annotations

import copy
import json

import httpx
import pytest
from live_server import tiny_graph


def test_graph_life_cycle(client: httpx.Client) -> None:
    created = client.post("/v1/graphs", json=tiny_graph("life"))
    assert created.status_code == 201, created.text
    body = created.json()
    graph_id = body["id"]
    assert (body["version"], body["name"]) == (1, "life")

    listed = client.get("/v1/graphs", params={"limit": 1000}).json()
    assert graph_id in [g["id"] for g in listed["data"]]
    assert listed["count"] >= 1

    changed = tiny_graph("life", max_tokens=8)
    updated = client.put(f"/v1/graphs/{graph_id}", json=changed)
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2

    latest = client.get(f"/v1/graphs/{graph_id}").json()
    assert latest["version"] == 2
    assert latest["graph"]["nodes"][0]["max_tokens"] == 8
    first = client.get(f"/v1/graphs/{graph_id}", params={"version": 1}).json()
    assert first["graph"] == tiny_graph("life")

    assert client.delete(f"/v1/graphs/{graph_id}").status_code == 204
    assert client.get(f"/v1/graphs/{graph_id}").status_code == 404
    assert client.delete(f"/v1/graphs/{graph_id}").status_code == 404


def test_upload_as_file(client: httpx.Client) -> None:
    data = json.dumps(tiny_graph("uploaded")).encode()
    answer = client.post("/v1/graphs", files={"file": ("uploaded.json", data, "application/json")})
    assert answer.status_code == 201, answer.text
    stored = client.get(f"/v1/graphs/{answer.json()['id']}").json()
    assert stored["graph"] == tiny_graph("uploaded")


def test_upload_form_without_file_is_422(client: httpx.Client) -> None:
    answer = client.post("/v1/graphs", data={"graph": "x"}, files={"other": ("a", b"{}")})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["path"] == "file"


def test_not_found(client: httpx.Client) -> None:
    for method, path in [("GET", "/v1/graphs/g_missing"), ("PUT", "/v1/graphs/g_missing"),
                         ("DELETE", "/v1/graphs/g_missing"),
                         ("POST", "/v1/graphs/g_missing/compile")]:
        body = tiny_graph() if method == "PUT" else None
        answer = client.request(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
        assert "g_missing" in answer.json()["detail"]


def test_missing_version_is_404(client: httpx.Client) -> None:
    graph_id = client.post("/v1/graphs", json=tiny_graph()).json()["id"]
    assert client.get(f"/v1/graphs/{graph_id}", params={"version": 9}).status_code == 404
    bad = client.get(f"/v1/graphs/{graph_id}", params={"version": "x"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "query.version"


def test_schema_is_the_format_schema(client: httpx.Client) -> None:
    schema = client.get("/v1/schema").json()
    assert "nodes" in schema["properties"]
    import graph

    assert schema == graph.json_schema()


def test_compile_formats(client: httpx.Client) -> None:
    graph_id = client.post("/v1/graphs", json=tiny_graph("compiled")).json()["id"]
    plan = client.post(f"/v1/graphs/{graph_id}/compile")
    assert plan.status_code == 200, plan.text
    assert plan.json()["workflow"] == "compiled"
    assert [s["id"] for s in plan.json()["steps"]] == ["hello"]
    for fmt, media in [("text", "text/plain"), ("dot", "text/vnd.graphviz"),
                       ("html", "text/html")]:
        rendered = client.post(f"/v1/graphs/{graph_id}/compile", params={"format": fmt})
        assert rendered.status_code == 200, rendered.text
        assert rendered.headers["content-type"].startswith(media)
        assert "hello" in rendered.text
    assert client.post(f"/v1/graphs/{graph_id}/compile",
                       params={"format": "pdf"}).status_code == 422


def _with(change) -> dict:
    graph = copy.deepcopy(tiny_graph("bad"))
    graph["nodes"].append({"id": "second", "type": "llm", "output": "other",
                           "prompt": "Repeat {{ greeting }}"})
    graph["edges"] = [{"from": "hello", "to": "second"}]
    change(graph)
    return graph


# kind: (body, JSON path a problem must name (or lie under), node id that problem names)
BAD_GRAPHS = {
    "json syntax": ('{"flowc": 1, "name": "x", "nodes": [', "$", None),
    "not an object": ("[1, 2, 3]", "$", None),
    "wrong format version": (_with(lambda g: g.update(flowc=2)), "flowc", None),
    "no nodes": (_with(lambda g: g.update(nodes=[], edges=[])), "nodes", None),
    "unknown node type": (_with(lambda g: g["nodes"][1].update(type="teleport")), "nodes[1]",
                          "second"),
    "unknown key": (_with(lambda g: g["nodes"][1].update(colour="red")), "nodes[1].colour",
                    "second"),
    "bad node id": (_with(lambda g: g["nodes"][1].update(id="not an id")), "nodes[1].id", None),
    "duplicate id": (_with(lambda g: g["nodes"][1].update(id="hello")), "nodes[1].id", "hello"),
    "dangling edge": (_with(lambda g: g["edges"].append({"from": "hello", "to": "ghost"})),
                      "edges[1].to", None),
    "template syntax": (_with(lambda g: g["nodes"][1].update(prompt="{{ greeting ")),
                        "nodes[1].prompt", "second"),
    "undefined variable": (_with(lambda g: g["nodes"][1].update(prompt="{{ nowhere }}")),
                           "nodes[1].prompt", "second"),
    "unsafe expression": (_with(lambda g: g["edges"][0].update(
        when="greeting.__class__.__mro__")), "edges[0].when", None),
    "two constraints": (_with(lambda g: g["nodes"][1].update(regex="a+", choices=["a"])),
                        "nodes[1]", "second"),
    "cycle without condition": (_with(lambda g: g["edges"].append(
        {"from": "second", "to": "hello"})), "edges[1]", None),
    "prompt and messages": (_with(lambda g: g["nodes"][1].update(
        messages=[{"role": "user", "content": "hi"}])), "nodes[1]", "second"),
}


@pytest.mark.parametrize("kind", list(BAD_GRAPHS))
def test_bad_graph_is_422_with_details_and_nothing_stored(client: httpx.Client,
                                                         kind: str) -> None:
    graph, path, node_id = BAD_GRAPHS[kind]
    before = client.get("/v1/graphs").json()["count"]
    body = graph if isinstance(graph, str) else json.dumps(graph)
    answer = client.post("/v1/graphs", content=body,
                         headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    problems = answer.json()["errors"]
    assert problems, kind
    for problem in problems:
        assert problem["path"] and problem["message"], problem
    named = [p for p in problems if p["path"].startswith(path)]
    assert named, problems
    if node_id is not None:
        assert node_id in [p["node_id"] for p in named], problems
    assert client.get("/v1/graphs").json()["count"] == before


def test_bad_version_keeps_the_old_one(client: httpx.Client) -> None:
    graph_id = client.post("/v1/graphs", json=tiny_graph("kept")).json()["id"]
    bad, _, _ = BAD_GRAPHS["dangling edge"]
    assert client.put(f"/v1/graphs/{graph_id}", json=bad).status_code == 422
    assert client.get(f"/v1/graphs/{graph_id}").json()["version"] == 1


def test_graph_over_the_node_limit_is_422(client: httpx.Client) -> None:
    graph = tiny_graph("huge")
    graph["nodes"] += [{"id": f"n{i}", "type": "set", "assign": {f"v{i}": "1"}}
                       for i in range(600)]
    answer = client.post("/v1/graphs", json=graph)
    assert answer.status_code == 422
    assert "500" in answer.json()["errors"][0]["message"]


def test_body_over_the_size_limit_is_413(client: httpx.Client) -> None:
    graph = tiny_graph("padded")
    graph["description"] = "x" * (3 * 1024 * 1024)
    assert client.post("/v1/graphs", json=graph).status_code == 413

    def chunks():  # past the limit by little: the client is done sending when the 413 comes
        yield b'{"flowc": 1, "description": "'
        for _ in range(22):
            yield b"y" * 100_000
        yield b'"}'

    chunked = client.post("/v1/graphs", content=chunks(),
                          headers={"content-type": "application/json"})
    assert chunked.status_code == 413
