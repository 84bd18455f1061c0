"""Concurrent HTTP runs of one graph share its prefix groups: the long shared system prompt is
computed once and pinned once for all of them, read back from the runs' traces."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from live_server import LiveServer, wait_finished

RUNS = 8
SYSTEM = ("You are the night-shift analyst of a security operations centre. You read one alert "
          "at a time, decide whether it needs a human, and answer in a few words. Keep to the "
          "facts in the alert, never invent hosts or users, and say 'unknown' when the alert "
          "does not tell. ") * 6


def shared_prompt_graph() -> dict:
    """Two parallel calls per run that start with the same long system prompt (unique to this
    test, so no earlier request has cached it)."""
    system = f"Case book {uuid.uuid4().hex}. {SYSTEM}"

    def call(node_id: str, ask: str) -> dict:
        return {"id": node_id, "type": "llm", "output": node_id, "max_tokens": 3,
                "messages": [{"role": "system", "content": system},
                             {"role": "user", "content": ask + " Alert: {{ alert }}"}]}

    return {"flowc": 1, "name": "shared_prefix",
            "inputs": {"alert": {"type": "string"}},
            "nodes": [call("severity", "How severe is it?"), call("owner", "Who owns it?")],
            "outputs": {"severity": "{{ severity }}", "owner": "{{ owner }}"}}


async def start_all(server: LiveServer, graph_id: str) -> list[str]:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers(),
                                 timeout=120) as http:
        answers = await asyncio.gather(*(
            http.post(f"/v1/graphs/{graph_id}/runs",
                      json={"inputs": {"alert": f"failed logins on host web-{i:02d}"}})
            for i in range(RUNS)))
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
    return [a.json()["run_id"] for a in answers]


def test_concurrent_runs_compute_the_shared_prefix_once(server: LiveServer,
                                                         client: httpx.Client) -> None:
    created = client.post("/v1/graphs", json=shared_prompt_graph())
    assert created.status_code == 201, created.text
    graph_id = created.json()["id"]
    group = client.post(f"/v1/graphs/{graph_id}/compile").json()["prefix_groups"][0]
    assert len(group["consumers"]) == 2 and group["tokens"] > 300

    runs = [wait_finished(client, run_id) for run_id in asyncio.run(start_all(server, graph_id))]
    assert [r["status"] for r in runs] == ["succeeded"] * RUNS, runs
    traces = [r["trace"] for r in runs]
    pins = [p for t in traces for p in t["prefixes"] if p["ready"] is not None]
    prefix_tokens = max(p["tokens"] for p in pins)
    assert prefix_tokens >= group["tokens"] - 16
    computed_by_pins = sum(p["tokens"] - p["cached_tokens"] for p in pins)
    assert computed_by_pins <= prefix_tokens  # prefilled once, by one run, for all eight
    assert sum(p["shared"] for p in pins) >= RUNS - 1

    calls = [n for t in traces for n in t["nodes"]]
    assert len(calls) == 2 * RUNS
    # Computed once: by the pin, or by the first call (eager prefill runs below calls, and
    # the engine makes every other request wait for pages in flight); every other call finds
    # the whole shared prefix cached, to the page (a call whose chat markup was tokenized
    # as plain text, while another thread encoded a value, once computed it a second time).
    computing = [c for c in calls if c["cached_tokens"] < prefix_tokens - 16]
    assert len(computing) + (computed_by_pins > 0) <= 1, (
        [(c["node_id"], c["prompt_tokens"], c["cached_tokens"], c["start"], c["end"])
         for c in computing], [(p["tokens"], p["cached_tokens"], p["start"], p["ready"])
                               for p in pins])
    computed = sum(t["totals"]["prefill_computed"] for t in traces)
    prompts = sum(t["totals"]["prompt_tokens"] for t in traces)
    assert computed <= prefix_tokens + sum(c["prompt_tokens"] - prefix_tokens + 16
                                               for c in calls)
    assert computed < prompts / 4
