"""Values at run time: templates rendered to typed values, tool arguments, `set` assignments,
an llm node's output checked against its constraint, a select node's best choice."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from engine.api import Generation
from graph import LlmNode, SetNode, compile_regex, evaluate, render

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.DOTALL)


def render_value(template: str, values: Mapping[str, Any]) -> Any:
    """A template's value: a lone `{{ expression }}` keeps its type (lists, objects, numbers);
    anything else renders to text."""
    match = _SINGLE_EXPRESSION.match(template)
    if match:
        return evaluate(match.group("expr"), values)
    return render(template, values)


def render_args(args: Any, values: Mapping[str, Any]) -> Any:
    """Tool arguments with every string rendered as a template (nested lists and objects)."""
    if isinstance(args, str):
        return render_value(args, values)
    if isinstance(args, Mapping):
        return {k: render_args(v, values) for k, v in args.items()}
    if isinstance(args, list):
        return [render_args(v, values) for v in args]
    return args


def assign(node: SetNode, values: Mapping[str, Any]) -> dict[str, Any]:
    """A `set` node's assignments, each expression seeing the ones before it."""
    results: dict[str, Any] = {}
    for name, expression in node.assign.items():
        try:
            results[name] = evaluate(expression, {**values, **results})
        except Exception as exc:
            raise ValueError(f"assign.{name}: {type(exc).__name__}: {exc}") from exc
    return results


def check_output(node: LlmNode, generation: Generation) -> Any:
    """The llm node's output value: JSON parsed under a json_schema constraint; a regex or a
    choice constraint that the output does not satisfy is an error."""
    text = generation.text
    if generation.finish_reason == "abort":
        raise ValueError("generation was aborted")
    hint = ""
    if generation.finish_reason == "length":
        hint = f" (stopped by max_tokens={len(generation.token_ids)})"
    elif not text:
        hint = " (the constraint allowed no output: can anything satisfy it?)"
    if node.json_schema is not None:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"output does not satisfy its json_schema{hint}: {exc.msg}: {text[:120]!r}"
            ) from None
    if node.regex is not None and not compile_regex(f"(?s:{node.regex})").fullmatch(text):
        raise ValueError(f"output does not match its regex {node.regex!r}{hint}: {text[:120]!r}")
    if node.choices is not None and text not in node.choices:
        raise ValueError(f"output is none of its choices{hint}: {text[:120]!r}")
    return text


def best_choice(choices: list[str], scores: list[float]) -> tuple[str, int]:
    """The choice with the highest score (the first one on ties)."""
    index = max(range(len(choices)), key=lambda i: (scores[i], -i))
    return choices[index], index
