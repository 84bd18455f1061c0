"""EXPLAIN ANALYZE: per-call estimates beside per-call actuals, totals in their own columns, and
a step's time as wall time (map items overlap: their sum is not how long the map took)."""

from __future__ import annotations

from executor_workflows import workflow

import compiler
from executor import NodeTrace, Trace, explain_run

FLOW = workflow({
    "inputs": {"items": {"type": "array", "default": ["a", "b", "c"]}},
    "defaults": {"max_tokens": 8},
    "nodes": [{"id": "each", "type": "map", "over": "items", "as": "x", "output": "out",
               "body": {"nodes": [{"id": "say", "type": "llm", "output": "y",
                                   "prompt": "Say {{ x }}."}],
                        "result": "{{ y }}"}}],
})


def item(index: int, start: float, end: float) -> NodeTrace:
    return NodeTrace("each.say", "llm", item=(index,), start=start, end=end, status="succeeded",
                     prompt_tokens=30 + index, cached_tokens=20, generated_tokens=4,
                     first_token_s=0.5)


def table(text: str) -> dict[str, dict[str, str]]:
    lines = text.splitlines()
    header = lines[1]
    starts = [header.index(name) for name in header.split("  ") if name]
    names = [n.strip() for n in header.split("  ") if n.strip()]
    rows = {}
    for line in lines[2:4]:
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        rows[cells[0]] = dict(zip(names, cells, strict=True))
    return rows


def test_per_call_and_total_columns_and_wall_time() -> None:
    plan = compiler.compile(FLOW)
    trace = Trace(workflow="test", status="succeeded", duration_s=5.0, nodes=[
        NodeTrace("each", "map", start=0.0, end=4.5, status="succeeded"),
        item(0, 0.0, 4.0), item(1, 0.2, 4.4), item(2, 0.3, 4.5)])
    rows = table(explain_run(plan, trace))
    say = rows["say"]
    estimate = next(s for s in plan.steps[0].body if s.id == "each.say")
    assert say["runs"] == "3"
    assert say["est prompt/call"] == str(estimate.prompt_tokens)
    assert say["prompt/call"] == "31"  # (30 + 31 + 32) / 3
    assert say["prompt total"] == "93" and say["cached total"] == "60"
    assert say["generated/call"] == "4" and say["generated total"] == "12"
    assert say["wall s"] == "4.500"  # not 12.2, the sum of the items' times
    assert rows["each"]["wall s"] == "4.500"
