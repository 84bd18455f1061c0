"""The cost model: token estimates for values not known until run time, and the seconds a
step is expected to take (the weights of the critical path and the HEFT priorities).

Estimates, not measurements: prompt tokens are exact for static text, and for a dynamic
segment whose every variable is known at compile time (an input's or state entry's default
that no node overwrites, a map body's `loop`) they are the tokens of the segment rendered with
those values: its template text and its filters included, tokenized as the run tokenizes it.
Other dynamic segments sum their variables' estimated tokens and their template's own text
(once, whatever a loop or condition does with it); decode tokens are the upper bound the node
allows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from compiler.graphapi import render, split_template, template_variables
from compiler.plan import CallSite, Segment
from compiler.sites import NodeSite, map_items
from compiler.tokenizer import encode_dynamic

DEFAULT_VALUE_TOKENS = 32
TOOL_OUTPUT_TOKENS = 64
SET_VALUE_TOKENS = 16
DEFAULT_MAX_TOKENS = 256

PREFILL_TOKENS_PER_S = 4000.0
DECODE_TOKENS_PER_S = 40.0
TOOL_SECONDS = 0.2
SET_SECONDS = 0.001


@dataclass(frozen=True)
class TokenEstimates:
    variables: Mapping[str, int] = field(default_factory=dict)  # var -> its value's tokens
    templates: Mapping[str, int] = field(default_factory=dict)  # known segment text -> tokens


def token_estimates(workflow: Any, tokenizer: Any, sites: Mapping[str, NodeSite],
                    calls: Iterable[CallSite]) -> TokenEstimates:
    samples = known_values(workflow, sites)
    variables = variable_tokens(workflow, tokenizer, sites)
    templates: dict[str, int] = {}
    for call in calls:
        for segment in call.segments:
            if segment.kind == "dynamic" and segment.text not in templates:
                templates[segment.text] = _template_tokens(tokenizer, segment, samples, variables)
    return TokenEstimates(variables, templates)


def _template_tokens(tokenizer: Any, segment: Segment, samples: Mapping[str, Any],
                     variables: Mapping[str, int]) -> int:
    rendered = _render_known(segment, samples)
    if rendered is not None:
        return _text_tokens(tokenizer, rendered)
    return _estimated_template_tokens(tokenizer, segment.text, segment.variables, variables)


def _estimated_template_tokens(tokenizer: Any, template: str, names: Iterable[str],
                               variables: Mapping[str, int]) -> int:
    """A template's own text once, plus its variables' estimated tokens."""
    literal = "".join(text for kind, text in split_template(template) if kind == "static")
    values = [variables.get(name, DEFAULT_VALUE_TOKENS) for name in names]
    return _text_tokens(tokenizer, literal) + (sum(values) if values else DEFAULT_VALUE_TOKENS)


def _render_known(segment: Segment, samples: Mapping[str, Any]) -> str | None:
    """The segment rendered with compile-time values; None when one of its variables is not
    known then, or the template cannot take a sample value."""
    if not set(segment.variables) <= samples.keys():
        return None
    try:
        return render(segment.text, samples)
    except Exception:  # noqa: BLE001 - any template error: the segment is estimated instead
        return None


def known_values(workflow: Any, sites: Mapping[str, NodeSite]) -> dict[str, Any]:
    """The values a run starts with unless its inputs say otherwise: the defaults of inputs and
    state entries no node writes, and a first item's `loop` in map bodies."""
    written = {name for site in sites.values() for name in _writes(site.node)}
    values = {name: spec.default for name, spec in {**workflow.state, **workflow.inputs}.items()
              if spec.default is not None and name not in written}
    maps = [site.node for site in sites.values() if site.node.type == "map"]
    if maps:
        length = map_items(workflow, maps[0])
        values["loop"] = {"index0": 0, "index": 1, "length": length, "first": True,
                          "last": length == 1}
    return values


def _writes(node: Any) -> Iterable[str]:
    if node.type == "set":
        return node.assign
    output = getattr(node, "output", None)
    return (output,) if output else ()


def variable_tokens(
    workflow: Any, tokenizer: Any, sites: Mapping[str, NodeSite]
) -> dict[str, int]:
    """Estimated tokens of every variable's rendered value."""
    tokens: dict[str, int] = {}
    for name, spec in {**workflow.state, **workflow.inputs}.items():
        tokens[name] = _value_tokens(tokenizer, spec.default)
    for site in sites.values():
        node = site.node
        if node.type == "llm":
            tokens[node.output] = decode_estimate(workflow, tokenizer, node)
        elif node.type == "select":
            tokens[node.output] = max(_text_tokens(tokenizer, c) for c in node.choices)
        elif node.type == "tool":
            tokens[node.output] = TOOL_OUTPUT_TOKENS
        elif node.type == "set":
            tokens.update(dict.fromkeys(node.assign, SET_VALUE_TOKENS))
        elif node.type == "map":
            tokens.setdefault(node.as_, _item_tokens(workflow, tokenizer, node))
    for site in reversed(list(sites.values())):  # inner maps first: an outer result may read them
        node = site.node
        if node.type == "map":
            result = _estimated_template_tokens(
                tokenizer, node.body.result, template_variables(node.body.result), tokens)
            tokens[node.output] = result * map_items(workflow, node)
    return tokens


def decode_estimate(workflow: Any, tokenizer: Any, node: Any) -> int:
    """Upper bound of the tokens an llm node generates (select nodes generate none)."""
    if node.type != "llm":
        return 0
    if node.choices:
        return 1 + max(_text_tokens(tokenizer, c) for c in node.choices)
    return node.max_tokens or workflow.defaults.max_tokens or DEFAULT_MAX_TOKENS


def scored_tokens(tokenizer: Any, node: Any) -> int:
    """Tokens computed after the prompt to score a node's choices (a `select` node's, or an
    llm node's `choices`) on the prompt's shared KV: every token of a choice but its last,
    whose log-probability comes from the position before it."""
    choices = getattr(node, "choices", None)
    if node.type not in ("llm", "select") or not choices:
        return 0
    return sum(_text_tokens(tokenizer, c) - 1 for c in choices)


def segment_tokens(segment: Segment, estimates: TokenEstimates) -> int:
    if segment.kind == "static":
        return len(segment.token_ids)
    template = estimates.templates.get(segment.text)
    if template is not None:
        return template
    if not segment.variables:
        return DEFAULT_VALUE_TOKENS
    return sum(estimates.variables.get(v, DEFAULT_VALUE_TOKENS) for v in segment.variables)


def call_tokens(call: CallSite, estimates: TokenEstimates) -> int:
    return sum(segment_tokens(s, estimates) for s in call.segments)


def step_seconds(node_type: str, prompt_tokens: int, decode_tokens: int) -> float:
    """Expected run time of one execution of a step (a map's body is costed separately)."""
    if node_type in ("llm", "select"):
        return prompt_tokens / PREFILL_TOKENS_PER_S + decode_tokens / DECODE_TOKENS_PER_S
    if node_type == "tool":
        return TOOL_SECONDS
    return SET_SECONDS


def _item_tokens(workflow: Any, tokenizer: Any, node: Any) -> int:
    spec = workflow.inputs.get(node.over.strip())
    if spec is not None and isinstance(spec.default, list) and spec.default:
        sizes = [_value_tokens(tokenizer, item) for item in spec.default]
        return max(1, sum(sizes) // len(sizes))
    return DEFAULT_VALUE_TOKENS


def _value_tokens(tokenizer: Any, value: Any) -> int:
    if value is None:
        return DEFAULT_VALUE_TOKENS
    text = value if isinstance(value, str) else json.dumps(value)
    return _text_tokens(tokenizer, text)


@lru_cache(maxsize=8192)
def _text_tokens(tokenizer: Any, text: str) -> int:
    return len(encode_dynamic(tokenizer, text))
