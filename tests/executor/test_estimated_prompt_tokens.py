"""A step's estimated prompt tokens against what the run on the real engine prefilled: exact
where every variable of the prompt is known at compile time (inputs' defaults, rendered through
template text, loops and filters, and a map body's `loop`), an estimate elsewhere."""

from __future__ import annotations

from executor_workflows import run_on, workflow

import compiler

DOCS = [{"id": 7, "title": "VPN outage", "text": "Users in Lyon could not reach the VPN."},
        {"id": 9, "title": "Patch notes", "text": "Firewall rules were reordered at 02:00."}]

KNOWN = workflow({
    "inputs": {"docs": {"type": "array", "default": DOCS},
               "question": {"type": "string", "default": "why did the vpn fail?"},
               "tags": {"type": "array", "default": ["net", "vpn", "ops"]}},
    "defaults": {"max_tokens": 2},
    "nodes": [
        {"id": "answer", "type": "llm", "output": "reply", "messages": [
            {"role": "system", "content": "Answer from the documents only."},
            {"role": "user", "content":
                "{% for d in docs %}[{{ d.id }}] {{ d.title }}: {{ d.text }}\n{% endfor %}"
                "Question ({{ docs | length }} documents, tags {{ tags | join(', ') }}): "
                "{{ question | upper }}"}]},
        {"id": "each", "type": "map", "over": "tags", "as": "tag", "output": "notes",
         "body": {"nodes": [{"id": "note", "type": "llm", "output": "n",
                             "prompt": "Tag {{ loop.index }} of {{ loop.length }}: {{ tag }}."}],
                  "result": "{{ n }}"}},
    ],
})


def test_estimates_equal_the_prefilled_tokens_where_the_inputs_are_known(engine) -> None:
    plan = compiler.compile(KNOWN, engine.tokenizer)
    result = run_on(engine, KNOWN)
    assert result.status == "succeeded", result.error
    answer = next(n for n in result.trace.nodes if n.node_id == "answer")
    assert plan.step("answer").prompt_tokens == answer.prompt_tokens
    # a map item's value is estimated by the items' average; `loop` is known
    notes = [n.prompt_tokens for n in result.trace.nodes if n.node_id == "each.note"]
    assert len(notes) == 3
    assert max(abs(plan.step("each.note").prompt_tokens - actual) for actual in notes) <= 2
