"""The cost model: token estimates for values not known until run time, and the seconds a
step is expected to take (the weights of the critical path and the HEFT priorities).

Estimates, not measurements: prompt tokens are exact for static text and estimated for
dynamic values; decode tokens are the upper bound the node allows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

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
            tokens[node.output] = SET_VALUE_TOKENS * map_items(workflow, node)
            tokens.setdefault(node.as_, _item_tokens(workflow, tokenizer, node))
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


def segment_tokens(segment: Segment, variables: Mapping[str, int]) -> int:
    if segment.kind == "static":
        return len(segment.token_ids)
    if not segment.variables:
        return DEFAULT_VALUE_TOKENS
    return sum(variables.get(v, DEFAULT_VALUE_TOKENS) for v in segment.variables)


def call_tokens(call: CallSite, variables: Mapping[str, int]) -> int:
    return sum(segment_tokens(s, variables) for s in call.segments)


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
