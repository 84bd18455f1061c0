"""The workflow the replica tests spread: a long shared system prompt (unique per call of
`shared_prefix_graph`, so no cache holds it yet) before two calls, one greedy and one sampled
with the run's seed."""

from __future__ import annotations

import uuid
from typing import Any

SYSTEM = ("You are the night-shift analyst of a security operations centre. You read one alert "
          "at a time, decide whether it needs a human, and answer in a few words. Keep to the "
          "facts in the alert, never invent hosts or users, and say 'unknown' when the alert "
          "does not tell. ") * 5


def shared_prefix_graph() -> dict[str, Any]:
    system = f"Case book {uuid.uuid4().hex}. {SYSTEM}"

    def call(node_id: str, ask: str, temperature: float) -> dict[str, Any]:
        return {"id": node_id, "type": "llm", "output": node_id, "max_tokens": 4,
                "temperature": temperature,
                "messages": [{"role": "system", "content": system},
                             {"role": "user", "content": ask + " Alert: {{ alert }}"}]}

    return {"flowc": 1, "name": "shared_prefix", "inputs": {"alert": {"type": "string"}},
            "nodes": [call("severity", "How severe is it?", 0.0),
                      call("owner", "Who owns it?", 0.9)],
            "outputs": {"severity": "{{ severity }}", "owner": "{{ owner }}"}}


def alerts(count: int) -> list[dict[str, str]]:
    return [{"alert": f"{i % 7 + 2} failed logins for user u{i:03d} on host web-{i % 5}"}
            for i in range(count)]
