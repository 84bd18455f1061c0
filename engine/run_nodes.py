"""What each node type does at run time (llm, select, tool, set) and the template helpers
the executor shares. The map node and the graph loop live in `engine/run_walk.py`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.api import Generation
from graph.templates import evaluate, render

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.DOTALL)


class NodeError(RuntimeError):
    """A node failed; the run fails naming it."""

    def __init__(self, node_id: str, message: str, item: tuple[int, ...] = ()) -> None:
        where = "".join(f"[{i}]" for i in item)
        super().__init__(f"node '{node_id}'{where}: {message}")
        self.node_id = node_id
        self.item = item
        self.detail = message


class RunLimitError(NodeError):
    """A per-run limit (tokens, visits) was exceeded."""


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


def assign(node: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """A `set` node's assignments, each expression seeing the ones before it."""
    results: dict[str, Any] = {}
    for name, expression in node.assign.items():
        try:
            results[name] = evaluate(expression, {**values, **results})
        except Exception as exc:
            raise ValueError(f"assign.{name}: {type(exc).__name__}: {exc}") from exc
    return results


@dataclass(frozen=True)
class CheckedOutput:
    value: Any


def check_output(node: Any, generation: Generation) -> CheckedOutput:
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
            return CheckedOutput(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"output does not satisfy its json_schema{hint}: {exc.msg}: {text[:120]!r}"
            ) from None
    if node.regex is not None and not re.fullmatch(node.regex, text, re.DOTALL):
        raise ValueError(f"output does not match its regex {node.regex!r}{hint}: {text[:120]!r}")
    if node.choices is not None and text not in node.choices:
        raise ValueError(f"output is none of its choices{hint}: {text[:120]!r}")
    return CheckedOutput(text)


def is_constraint_problem(exc: Exception) -> bool:
    name = type(exc).__name__
    return "Constraint" in name or "Grammar" in name


def best_choice(choices: list[str], scores: list[float]) -> tuple[str, int]:
    """The choice with the highest score (the first one on ties)."""
    index = max(range(len(choices)), key=lambda i: (scores[i], -i))
    return choices[index], index
