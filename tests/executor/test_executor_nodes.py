"""Node types and run limits on the real engine: select, constraints, map bodies that call
the model, the token budget and the run timeout."""

from __future__ import annotations

import asyncio

import jsonschema
from executor_workflows import run_on, system, workflow

from compiler.segments import prompt_segments, render_segments
from compiler.tokenizer import encode_dynamic
from engine.api import SamplingParams

VERDICT = {"type": "object", "properties": {"severity": {"enum": ["low", "high"]},
                                            "block": {"type": "boolean"}},
           "required": ["severity", "block"], "additionalProperties": False}


def test_select_picks_the_choice_the_model_scores_highest(engine) -> None:
    question = "Which is a colour? Answer with one word."
    choices = ["banana", "blue", "seven"]
    flow = workflow({"nodes": [{"id": "pick", "type": "select", "output": "pick",
                                "prompt": question, "choices": choices}],
                     "outputs": {"pick": "{{ pick }}"}})
    result = run_on(engine, flow)
    assert result.status == "succeeded", result.error
    prompt = render_segments(engine.tokenizer, prompt_segments(
        engine.tokenizer, [{"role": "user", "content": question}]), {})
    scores = asyncio.run(engine.score(prompt, [encode_dynamic(engine.tokenizer, c)
                                               for c in choices])).logprobs
    assert result.outputs["pick"] == choices[scores.index(max(scores))]


def test_constraints_are_honoured_and_json_is_parsed(engine) -> None:
    head = system()
    flow = workflow({
        "inputs": {"alert": {"type": "string", "default": "Ransomware note on FIN-22."}},
        "nodes": [
            {"id": "verdict", "type": "llm", "output": "verdict", "max_tokens": 40,
             "json_schema": VERDICT,
             "messages": [head, {"role": "user", "content": "Judge: {{ alert }}"}]},
            {"id": "count", "type": "llm", "output": "count", "max_tokens": 6,
             "regex": "[0-9]{1,3}",
             "messages": [head, {"role": "user", "content": "How many hosts? {{ alert }}"}]},
        ],
        "outputs": {"verdict": "{{ verdict }}", "count": "{{ count }}"},
    })
    result = run_on(engine, flow)
    assert result.status == "succeeded", result.error
    jsonschema.validate(result.outputs["verdict"], VERDICT)
    assert result.outputs["count"].isdigit() and len(result.outputs["count"]) <= 3


ASK_KIND = "What kind of IOC is {{ ioc }}?"


def test_a_map_calls_the_model_per_item_in_parallel_with_results_in_order(engine) -> None:
    iocs = ["203.0.113.7", "evil.example.com", "44d88612fea8a8f36de82e1278abb02f", "10.0.0.1"]
    flow = workflow({
        "inputs": {"iocs": {"type": "array", "default": iocs}},
        "nodes": [{
            "id": "per_ioc", "type": "map", "over": "iocs", "as": "ioc", "output": "reports",
            "body": {"nodes": [{"id": "kind", "type": "llm", "output": "kind",
                                "choices": ["ip", "domain", "hash"],
                                "messages": [system(), {"role": "user", "content": ASK_KIND}]}],
                     "result": "{{ {'ioc': ioc, 'kind': kind} }}"},
        }],
        "outputs": {"reports": "{{ reports }}"},
    })
    result = run_on(engine, flow)
    assert result.status == "succeeded", result.error
    reports = result.outputs["reports"]
    assert [r["ioc"] for r in reports] == iocs
    assert all(r["kind"] in ("ip", "domain", "hash") for r in reports)
    calls = result.trace.node("per_ioc.kind")
    assert sorted(c.item for c in calls) == [(0,), (1,), (2,), (3,)]
    assert all(c.start < min(o.end for o in calls) for c in calls)  # all submitted together
    assert sum(c.cached_tokens for c in calls) >= 3 * 64


def test_the_token_budget_fails_the_run_naming_the_node(engine) -> None:
    flow = workflow({
        "limits": {"max_tokens_total": 60},
        "nodes": [{"id": "long", "type": "llm", "output": "x", "max_tokens": 4,
                   "messages": [system(), {"role": "user", "content": "Hi"}]}],
    })
    result = run_on(engine, flow)
    assert result.status == "failed" and result.error_node == "long"
    assert "node 'long': limits.max_tokens_total (60) reached" in result.error


def test_the_run_timeout_fails_the_run_naming_the_node_in_flight(engine) -> None:
    flow = workflow({
        "limits": {"timeout_s": 0.5},
        "nodes": [{"id": "essay", "type": "llm", "output": "x", "max_tokens": 500,
                   "messages": [system(), {"role": "user", "content": "Write a long essay."}]}],
    })
    result = run_on(engine, flow)
    assert result.status == "failed" and result.error_node == "essay"
    assert result.error == "run exceeded limits.timeout_s (0.5 s) while running node 'essay'"
    assert result.trace.node("essay")[0].status == "cancelled"


def test_the_python_facade_loads_compiles_and_runs_on_a_given_engine(engine) -> None:
    import flowc

    spec = {"flowc": 1, "name": "facade", "inputs": {"n": {"type": "integer", "default": 2}},
            "nodes": [{"id": "pick", "type": "llm", "output": "pick", "prompt": "Odd or even?",
                       "choices": ["odd", "even"]},
                      {"id": "tag", "type": "set", "assign": {"tag": "pick ~ (n * 2)"}}],
            "edges": [{"from": "pick", "to": "tag"}],
            "outputs": {"tag": "{{ tag }}"}}
    result = flowc.run(spec, {"n": "21"}, engine=engine)
    assert result.status == "succeeded", result.error
    assert result.outputs["tag"] in ("odd42", "even42")
    assert flowc.compile(flowc.load(spec), engine.tokenizer).workflow == "facade"
    again = asyncio.run(engine.generate([1, 2, 3], SamplingParams(max_tokens=1)))
    assert len(again.token_ids) == 1  # the caller's engine stays open
