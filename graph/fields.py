"""Checks of single fields the pydantic model cannot express: input defaults against their
type, reducer defaults, constraints (regex, JSON Schema, choices), names and layout keys."""

from __future__ import annotations

import re
from typing import Any

from graph.errors import Problem
from graph.inputs import is_of_type
from graph.model import IDENTIFIER
from graph.reducers import REDUCERS
from graph.regex import regex_problem


def check_inputs(workflow: Any) -> list[Problem]:
    problems = []
    for name, spec in workflow.inputs.items():
        if spec.default is not None and not is_of_type(spec.default, spec.type):
            problems.append(
                Problem(
                    f"inputs.{name}.default",
                    f"default {spec.default!r} is not of type {spec.type}: "
                    f"give a default of type {spec.type} or change the type",
                )
            )
    return problems


def check_state(workflow: Any) -> list[Problem]:
    problems = []
    for name, spec in workflow.state.items():
        problem = REDUCERS[spec.reducer].default_problem(spec)
        if problem is not None:
            problems.append(Problem(f"state.{name}.default", problem))
    return problems


def check_layout(workflow: Any) -> list[Problem]:
    ids = {n.id for n in workflow.nodes}
    return [
        Problem(
            f"layout.{key}",
            f"layout names unknown node '{key}': remove the entry",
            severity="warning",
        )
        for key in workflow.layout
        if key not in ids
    ]


def check_node_fields(node: Any, path: str) -> list[Problem]:
    """Constraint and name checks of one node (any scope)."""
    problems: list[Problem] = []

    def add(field: str, message: str) -> None:
        problems.append(Problem(f"{path}.{field}", message, node.id))

    if getattr(node, "regex", None) is not None:
        problem = regex_problem(node.regex)
        if problem:
            add("regex", f"{problem}: fix the pattern")
    pattern = _literal_tool_pattern(node)
    if pattern is not None:
        problem = regex_problem(pattern)
        if problem:
            add("args.pattern", f"{problem}: fix the pattern")
    if getattr(node, "json_schema", None) is not None:
        message = _schema_problem(node.json_schema)
        if message:
            add("json_schema", f"not a valid JSON Schema: {message}")
    choices = getattr(node, "choices", None) or []
    for index, choice in enumerate(choices):
        if choice in choices[:index]:
            add(f"choices[{index}]", f"duplicate choice {choice!r}: list each choice once")
        elif not choice:
            add(f"choices[{index}]", "empty choice: every choice needs some text")
    for index, stop in enumerate(getattr(node, "stop", None) or []):
        if not stop:
            add(f"stop[{index}]", "empty stop string: remove it")
    if node.type == "set":
        for name in node.assign:
            if not re.match(IDENTIFIER, name):
                add(
                    f"assign.{name}",
                    f"{name!r} is not a valid variable name: use letters, "
                    "digits and '_', not starting with a digit",
                )
    return problems


def _literal_tool_pattern(node: Any) -> str | None:
    """The `pattern` of a `regex_extract` tool node, when it is a literal, not a template."""
    if node.type != "tool" or node.tool != "regex_extract" or not isinstance(node.args, dict):
        return None
    pattern = node.args.get("pattern")
    if isinstance(pattern, str) and "{{" not in pattern and "{%" not in pattern:
        return pattern
    return None


def _schema_problem(schema: Any) -> str | None:
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        return f"{exc.message}" + (f" (at {where})" if where else "")
    return None
