"""An llm node's `choices` are picked by whole-answer score: the choice flowc writes is the
argmax of the total log-probabilities transformers computes on the same weights."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from executor_workflows import workflow

import compiler
from executor import Executor

SENTIMENT = ["positive", "negative", "neutral"]
TOPIC = ["billing", "account", "technical", "shipping"]
SEVERITY = ["low", "medium", "high", "critical"]
HELD_OUT = [
    ("Classify the sentiment of this review: 'The battery died after two days.'", SENTIMENT),
    ("Classify the sentiment of this review: 'Absolutely love it, works perfectly!'",
     SENTIMENT),
    ("Classify the sentiment of this review: 'It arrived on Tuesday.'", SENTIMENT),
    ("Classify the sentiment: 'Worst customer service I have ever had.'", SENTIMENT),
    ("Classify the sentiment: 'Great value for the price, would buy again.'", SENTIMENT),
    ("Which department handles this ticket? 'I cannot log in, my password reset email never "
     "arrives.'", TOPIC),
    ("Which department handles this ticket? 'My parcel has been stuck in transit for a "
     "week.'", TOPIC),
    ("Which department handles this ticket? 'The app crashes when I open settings.'", TOPIC),
    ("Which department handles this ticket? 'Please change the email on my profile.'", TOPIC),
    ("Which department handles this ticket? 'Why was my card charged a late fee?'", TOPIC),
    ("Rate the severity of this alert: 'Ransomware encrypted the file server.'", SEVERITY),
    ("Rate the severity of this alert: 'A user mistyped their password once.'", SEVERITY),
    ("Rate the severity of this alert: 'Outbound traffic to a known botnet C2 host.'",
     SEVERITY),
    ("Rate the severity of this alert: 'Disk usage at 71% on a test VM.'", SEVERITY),
    ("Is this email spam? 'You have won a free cruise, click here to claim!'", ["spam", "ham"]),
    ("Is this email spam? 'Hi Anna, the meeting moved to 3pm. Thanks, Tom'", ["spam", "ham"]),
    ("What language is this sentence in? 'Je voudrais un café, s'il vous plaît.'",
     ["English", "French", "German", "Spanish"]),
    ("What language is this sentence in? 'Wo ist der Bahnhof?'",
     ["English", "French", "German", "Spanish"]),
    ("Is the following statement true or false? 'Water boils at 100 degrees Celsius at sea "
     "level.'", ["true", "false"]),
    ("Which animal is this? 'It barks and wags its tail.'", ["cat", "dog", "bird", "fish"]),
]
INVOICE = ("Ticket: I was charged twice for invoice #4471. Which team handles it: account, "
           "billing, technical or shipping?")
TIE = 1e-3


@pytest.fixture(scope="module")
def hf(engine: Any) -> Iterator[tuple[Any, Any]]:
    """transformers over the checkpoint folder flowc's session engine loaded."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = engine.engine.loaded.folder
    model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32).eval()
    yield model, AutoTokenizer.from_pretrained(folder)


def total_logprobs(hf: tuple[Any, Any], prompt: str, choices: list[str]) -> list[float]:
    """log p(choice | chat prompt), summed over the choice's tokens, one forward each."""
    import torch

    model, tokenizer = hf
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                         tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False).input_ids
    totals = []
    for choice in choices:
        answer = tokenizer(choice, add_special_tokens=False).input_ids
        with torch.no_grad():
            logits = model(torch.tensor([ids + answer])).logits[0].float()
        logprobs = torch.log_softmax(logits[len(ids) - 1 : -1], dim=-1)
        totals.append(sum(logprobs[i, t].item() for i, t in enumerate(answer)))
    return totals


def pick(engine: Any, prompt: str, choices: list[str], **node: Any) -> tuple[str, Any]:
    flow = workflow({
        "nodes": [{"id": "label", "type": "llm", "output": "label", "prompt": prompt,
                   "choices": choices, **node}],
        "outputs": {"label": "{{ label }}"},
    })
    plan = compiler.compile(flow)
    result = asyncio.run(Executor(plan=plan, engine=engine).run({}))
    assert result.status == "succeeded", result.error
    return result.outputs["label"], result


@pytest.mark.parametrize(("prompt", "choices"), HELD_OUT, ids=[f"p{i}" for i in range(20)])
def test_the_choice_is_transformers_argmax(engine, hf, prompt: str, choices: list[str]) -> None:
    scores = total_logprobs(hf, prompt, choices)
    ranked = sorted(scores, reverse=True)
    if ranked[0] - ranked[1] < TIE:
        pytest.skip("a tie: either choice is right")
    label, _ = pick(engine, prompt, choices)
    assert label == choices[scores.index(ranked[0])], dict(zip(choices, scores, strict=True))


def test_the_invoice_ticket_goes_to_billing(engine, hf) -> None:
    choices = ["account", "billing", "technical", "shipping"]
    scores = total_logprobs(hf, INVOICE, choices)
    assert max(scores) == scores[1]
    label, result = pick(engine, INVOICE, choices, max_tokens=3)
    assert label == "billing"
    assert result.trace.nodes[0].prompt_tokens > 0


def test_a_max_tokens_too_short_for_every_choice_fails_naming_it(engine) -> None:
    flow = workflow({
        "nodes": [{"id": "label", "type": "llm", "output": "label", "prompt": INVOICE,
                   "choices": ["extraordinarily", "unbelievably"], "max_tokens": 1}],
    })
    result = asyncio.run(Executor(plan=compiler.compile(flow), engine=engine).run({}))
    assert result.status == "failed" and result.error_node == "label"
    assert "max_tokens=1 holds none of its choices" in (result.error or "")


def test_the_plan_warns_when_max_tokens_cannot_hold_a_choice() -> None:
    flow = workflow({
        "nodes": [{"id": "label", "type": "llm", "output": "label", "prompt": INVOICE,
                   "choices": ["billing", "extraordinarily unbelievable"], "max_tokens": 2}],
    })
    plan = compiler.compile(flow)
    found = [d for d in plan.diagnostics if d.code == "choice-too-long"]
    assert len(found) == 1 and found[0].node_id == "label"
    assert "'extraordinarily unbelievable'" in found[0].message
    step = next(s for s in plan.steps if s.id == "label")
    assert step.decode_tokens >= 4
