"""Small workflows for the real-engine tests. A nonce in each system prompt keeps earlier
tests' cached pages from answering for this test's prefixes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from graph.model import Workflow

ANALYST = (
    "You are a meticulous security analyst in a large company's operations centre. You read "
    "alerts from intrusion detection systems, firewalls and endpoint agents and explain in "
    "plain words what happened, how severe it is and what to do next. Be concise, name the "
    "evidence you rely on and never invent facts. Reference: {nonce}."
)


def workflow(spec: dict[str, Any]) -> Workflow:
    return Workflow.model_validate({"flowc": 1, "name": "test", **spec})


def system(nonce: str | None = None) -> dict[str, str]:
    return {"role": "system", "content": ANALYST.format(nonce=nonce or uuid.uuid4().hex)}


def fan_out(nonce: str | None = None) -> Workflow:
    """Three sibling questions about one alert, sharing a long static system prompt."""
    head = system(nonce)

    def ask(node_id: str, question: str, **constraint: Any) -> dict[str, Any]:
        return {"id": node_id, "type": "llm", "output": node_id,
                "messages": [head, {"role": "user",
                                    "content": f"Alert: {{{{ alert }}}}\n{question}"}],
                **constraint}

    return workflow({
        "inputs": {"alert": {"type": "string",
                             "default": "45 failed SSH logins from 203.0.113.7 in 2 minutes."}},
        "defaults": {"max_tokens": 6},
        "nodes": [
            ask("severity", "How severe is it?", choices=["low", "medium", "high"]),
            ask("kind", "Is it an attack?", choices=["yes", "no"]),
            ask("summary", "Summarise the alert in a few words."),
            {"id": "report", "type": "set",
             "assign": {"report": "severity ~ '/' ~ kind ~ ': ' ~ summary"}},
        ],
        "edges": [{"from": "severity", "to": "report"}, {"from": "kind", "to": "report"},
                  {"from": "summary", "to": "report"}],
        "outputs": {"report": "{{ report }}", "severity": "{{ severity }}"},
    })


def thread() -> Workflow:
    """Two turns of one conversation: the second extends the first's KV."""
    return workflow({
        "defaults": {"max_tokens": 8},
        "nodes": [
            {"id": "first", "type": "llm", "thread": "chat", "output": "a",
             "messages": [system(), {"role": "user", "content": "Name a common port for SSH."}]},
            {"id": "second", "type": "llm", "thread": "chat", "output": "b",
             "prompt": "And which protocol uses port {{ port }}?"},
        ],
        "inputs": {"port": {"type": "integer", "default": 443}},
        "edges": [{"from": "first", "to": "second"}],
        "outputs": {"a": "{{ a }}", "b": "{{ b }}"},
    })


def forked_thread() -> Workflow:
    """A thread that forks into two parallel turns and joins again."""
    def turn(node_id: str, prompt: str) -> dict[str, Any]:
        return {"id": node_id, "type": "llm", "thread": "t", "output": node_id, "prompt": prompt}

    return workflow({
        "defaults": {"max_tokens": 3},
        "nodes": [
            {**turn("pre", ""), "prompt": None,
             "messages": [system(), {"role": "user", "content": "Name a port."}]},
            turn("left", "Name a protocol."), turn("right", "Name a colour."),
            turn("join", "Summarise."),
        ],
        "edges": [{"from": "pre", "to": "left"}, {"from": "pre", "to": "right"},
                  {"from": "left", "to": "join"}, {"from": "right", "to": "join"}],
        "outputs": {"join": "{{ join }}"},
    })


def sampled() -> Workflow:
    return workflow({
        "defaults": {"max_tokens": 8, "temperature": 1.0},
        "nodes": [
            {"id": "one", "type": "llm", "output": "one", "prompt": "Invent a name for a cat."},
            {"id": "two", "type": "llm", "output": "two", "prompt": "Invent a name for a dog."},
        ],
        "outputs": {"one": "{{ one }}", "two": "{{ two }}"},
    })


def run_on(engine: Any, workflow: Any, inputs: dict[str, Any] | None = None,
           schedule: str = "planned", seed: int = 0, tools: Any = None, **options: Any) -> Any:
    """Compile `workflow` with the engine's tokenizer and run it to its result."""
    import compiler
    from executor import Executor, Schedule

    plan = compiler.compile(workflow, engine.tokenizer)
    executor = Executor(plan, engine, tools, schedule=Schedule(schedule))
    return asyncio.run(executor.run(inputs or {}, seed=seed, **options))


QUESTION = "Is this a network or host alert? {{ alert }}"


def router(nonce: str | None = None) -> Workflow:
    """A router whose two targets each start with their own long static prompt."""
    tag = nonce or uuid.uuid4().hex

    def expert(node_id: str, role: str) -> dict[str, Any]:
        text = (f"You are the company's {role}. You handle escalated alerts, decide on "
                "containment, write the ticket for the response team and tell the analyst "
                f"what to check next. Answer in one short sentence. Case {tag}.")
        return {"id": node_id, "type": "llm", "output": "answer", "max_tokens": 6,
                "messages": [{"role": "system", "content": text},
                             {"role": "user", "content": "Alert: {{ alert }}"}]}

    return workflow({
        "inputs": {"alert": {"type": "string", "default": "Ransomware note found on FIN-22."}},
        "state": {"answer": {"reducer": "replace"}},
        "nodes": [
            {"id": "classify", "type": "llm", "output": "label", "choices": ["network", "host"],
             "messages": [system(tag), {"role": "user", "content": QUESTION}]},
            expert("network_expert", "network security engineer"),
            expert("host_expert", "endpoint forensics lead"),
        ],
        "edges": [{"from": "classify", "to": "network_expert", "when": "label == 'network'"},
                  {"from": "classify", "to": "host_expert", "when": "else"}],
        "outputs": {"label": "{{ label }}", "answer": "{{ answer }}"},
    })
