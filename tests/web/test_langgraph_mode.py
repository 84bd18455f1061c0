"""Benchmark mode B-LG: real LangGraph (benchmarks/langgraph_mode.py) driving flowc workflows
through a live `flowc serve` on loopback, checked against flowc's own runs of the same graphs
on the same server (the same engine and model, greedy).

Where every template variable follows a newline, the server's chat template and flowc's
prompt building give the same token ids, so the outputs must be equal. Where a variable
follows a space (`Indicator: {{ ioc }}`), flowc tokenizes the static text and the value apart
(`:`, ` `, `{"`) and the server tokenizes the whole text (`:`, ` {"`): the same text as
other token ids, so a greedy reply may differ; those outputs are only checked for shape.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import LiveServer, wait_finished

pytest.importorskip("langgraph")
openai = pytest.importorskip("openai")

from benchmarks.langgraph_mode import RunRecord, run_instances, run_langgraph  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = ROOT / "examples" / "graphs"
TOOLS = ROOT / "examples" / "tools.py"
FREE_TEXT_TOKENS = 6
SHORT_DOCUMENT = "Sales rose in May.\n\nCosts fell in June.\n\nStaff grew in July."

# Every flowc feature the translation maps, with each variable after a newline: a thread of
# three turns across a select and a router, a map whose body writes declared state and reads
# `loop`, a loop of set nodes over a back edge, append and replace reducers, and a join after
# a router (deferred in LangGraph).
SEMANTICS: dict[str, Any] = {
    "flowc": 1,
    "name": "lg_semantics",
    "inputs": {"topic": {"default": "green tea"},
               "animals": {"type": "array", "default": ["cats", "owls"]}},
    "state": {"step": {"reducer": "replace", "default": 0}, "log": {"reducer": "append"}},
    "defaults": {"temperature": 0, "max_tokens": 5},
    "limits": {"max_node_visits": 4},
    "nodes": [
        {"id": "ask", "type": "llm", "thread": "chat", "output": "first",
         "messages": [{"role": "system", "content": "You are a terse assistant."},
                      {"role": "user", "content": "Topic:\n{{ topic }}\nState one fact."}]},
        {"id": "judge", "type": "select", "thread": "chat", "output": "verdict",
         "prompt": "Is that fact true? Answer yes or no.", "choices": ["yes", "no"]},
        {"id": "more", "type": "llm", "thread": "chat", "output": "second",
         "prompt": "Give one more fact."},
        {"id": "retry", "type": "llm", "thread": "chat", "output": "second",
         "prompt": "Give a true fact instead."},
        {"id": "each", "type": "map", "over": "animals", "as": "animal", "output": "words",
         "body": {"nodes": [{"id": "word", "type": "llm", "output": "w", "max_tokens": 3,
                             "prompt": "Animal:\n{{ animal }}\nOne word about it."},
                            {"id": "mark", "type": "set", "assign": {"log": "'saw ' ~ animal"}}],
                  "edges": [{"from": "word", "to": "mark"}],
                  "result": "{{ loop.index }}:{{ animal }}={{ w }}"}},
        {"id": "reset", "type": "set", "assign": {"step": "0"}},
        {"id": "tick", "type": "set", "assign": {"step": "step + 1", "log": "'tick ' ~ step"}},
        {"id": "tock", "type": "set", "assign": {"log": "'tock ' ~ step"}},
        {"id": "finish", "type": "set", "assign": {
            "summary": "first ~ ' | ' ~ verdict ~ ' | ' ~ second ~ ' | ' ~ (words | join(', '))"}},
    ],
    "edges": [
        {"from": "ask", "to": "judge"},
        {"from": "judge", "to": "more", "when": "verdict == 'yes'"},
        {"from": "judge", "to": "retry", "when": "else"},
        {"from": "more", "to": "finish"},
        {"from": "retry", "to": "finish"},
        {"from": "each", "to": "finish"},
        {"from": "reset", "to": "tick"},
        {"from": "tick", "to": "tock"},
        {"from": "tock", "to": "tick", "when": "step < 3"},
        {"from": "tock", "to": "finish", "when": "else"},
    ],
    "outputs": {"summary": "{{ summary }}", "log": "{{ log }}", "step": "{{ step }}",
                "words": "{{ words }}", "verdict": "{{ verdict }}", "second": "{{ second }}"},
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("langgraph"), "--tools", str(TOOLS),
                        "--max-concurrent-runs", "64")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def example(name: str) -> dict[str, Any]:
    """An example graph with its free-text calls capped to a few tokens."""
    workflow = json.loads((GRAPHS / f"{name}.json").read_text())
    _cap(workflow["nodes"])
    return workflow


def _cap(nodes: list[dict[str, Any]]) -> None:
    for node in nodes:
        constrained = any(node.get(k) is not None for k in ("regex", "json_schema", "choices"))
        if node["type"] == "llm" and not constrained:
            node["max_tokens"] = FREE_TEXT_TOKENS
        elif node["type"] == "map":
            _cap(node["body"]["nodes"])


def flowc_run(server: LiveServer, workflow: dict[str, Any],
              inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """flowc's own run of the graph on the server: its record with outputs and trace."""
    with server.client() as http:
        graph = http.post("/v1/graphs", json=workflow)
        assert graph.status_code == 201, graph.text
        run = http.post(f"/v1/graphs/{graph.json()['id']}/runs", json={"inputs": inputs or {}})
        return wait_finished(http, run.json()["run_id"])


def langgraph_run(server: LiveServer, workflow: dict[str, Any], inputs: list[dict[str, Any]],
                  ignore_eos: bool = False) -> list[RunRecord]:
    return asyncio.run(run_instances(workflow, inputs, f"{server.url}/v1", [TOOLS],
                                     ignore_eos=ignore_eos))


def calls_per_node(flowc: dict[str, Any]) -> Counter[str]:
    return Counter(n["node_id"].rpartition(".")[2] for n in flowc["trace"]["nodes"]
                   if n["node_type"] in ("llm", "select"))


def test_every_feature_matches_flowc_call_for_call(live: LiveServer) -> None:
    [record] = langgraph_run(live, SEMANTICS, [{}])
    flowc = flowc_run(live, SEMANTICS)
    assert flowc["status"] == "succeeded", flowc["error"]
    ours, theirs = dict(record.outputs), dict(flowc["outputs"])
    # concurrent branches append to `log` in the order they finish, in both runs
    assert sorted(ours.pop("log")) == sorted(theirs.pop("log"))
    assert ours == theirs
    assert ours["step"] == 3 and len(ours["words"]) == 2
    assert Counter(c["node"] for c in record.calls) == calls_per_node(flowc)
    # the same prompts to the token: the server's chat template over the thread's messages
    # gives as many ids as flowc builds from its segments and the turns' token ids
    flowc_prompts = [(n["node_id"].rpartition(".")[2], n["prompt_tokens"])
                     for n in flowc["trace"]["nodes"] if n["node_type"] in ("llm", "select")]
    assert sorted((c["node"], c["prompt_tokens"]) for c in record.calls) == sorted(flowc_prompts)


@pytest.mark.parametrize(("name", "equal"), [
    ("map_reduce_summary", ("summary", "sections", "notes")),
    ("soar_triage", ("label", "indicators")),  # `report` reads replies to `Indicator: {{ }}`
])
def test_example_graphs_run_as_flowc_runs_them(live: LiveServer, name: str,
                                               equal: tuple[str, ...]) -> None:
    workflow = example(name)
    [record] = langgraph_run(live, workflow, [{}])
    flowc = flowc_run(live, workflow)
    assert flowc["status"] == "succeeded", flowc["error"]
    assert set(record.outputs) == set(flowc["outputs"])
    assert {k: record.outputs[k] for k in equal} == {k: flowc["outputs"][k] for k in equal}
    assert all(isinstance(v, str | int) and v != "" for v in record.outputs.values())
    assert Counter(c["node"] for c in record.calls) == calls_per_node(flowc)


def test_ignore_eos_runs_every_free_text_call_to_max_tokens(live: LiveServer) -> None:
    workflow = example("map_reduce_summary")
    [record] = langgraph_run(live, workflow, [{"document": SHORT_DOCUMENT}], ignore_eos=True)
    assert record.outputs["sections"] == 3 and len(record.calls) == 4
    assert all(c["completion_tokens"] == FREE_TEXT_TOKENS and c["finish_reason"] == "length"
               for c in record.calls)


def test_run_langgraph_runs_instances_concurrently_in_order(live: LiveServer) -> None:
    outputs = asyncio.run(run_langgraph(example("map_reduce_summary"),
                                        [{}, {"document": SHORT_DOCUMENT}], f"{live.url}/v1",
                                        [TOOLS], ignore_eos=False))
    assert [o["sections"] for o in outputs] == [5, 3]
    assert all(isinstance(o["summary"], str) for o in outputs)


def test_a_refused_request_fails_the_run_with_the_servers_reason(live: LiveServer) -> None:
    workflow = example("map_reduce_summary")
    workflow["nodes"][2]["body"]["nodes"][0]["stop"] = ["a", "b", "c", "d", "e"]  # at most 4
    with pytest.raises(openai.BadRequestError) as refused:
        langgraph_run(live, workflow, [{}])
    assert "at most 4 stop strings" in json.dumps(refused.value.body)
    assert httpx.get(f"{live.url}/health").status_code == 200
