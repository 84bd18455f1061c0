"""Loading a workflow from a file, a string, bytes or a dict, with precise errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from graph import json_numbers
from graph.errors import GraphError, Problem
from graph.model import Workflow
from graph.pydantic_errors import problems_from_validation
from graph.validate import validate

MAX_SOURCE_BYTES = 64 * 1024 * 1024

Source = str | bytes | Path | dict[str, Any]


def read_source(source: Source) -> dict[str, Any]:
    """The raw JSON object of a workflow; raises GraphError on unreadable or invalid JSON."""
    if isinstance(source, dict):
        return source
    if isinstance(source, Path):
        try:
            source = source.read_bytes()
        except OSError as exc:
            raise GraphError([Problem("$", f"cannot read {source}: {exc.strerror}")]) from exc
    if not isinstance(source, str | bytes):
        raise GraphError(
            [
                Problem(
                    "$",
                    f"cannot load a workflow from {type(source).__name__}: "
                    "give a path, a JSON string, bytes or a dict",
                )
            ]
        )
    if len(source) > MAX_SOURCE_BYTES:
        raise GraphError(
            [
                Problem(
                    "$", f"the workflow is {len(source):,} bytes; the limit is {MAX_SOURCE_BYTES:,}"
                )
            ]
        )
    if isinstance(source, bytes) and source.startswith(b"\xef\xbb\xbf"):
        source = source[3:]  # a UTF-8 byte order mark, as some editors write
    try:
        data = json_numbers.loads(source)
    except UnicodeDecodeError as exc:
        raise GraphError([Problem("$", f"the file is not UTF-8 text: {exc.reason}")]) from exc
    except json.JSONDecodeError as exc:
        hint = _path_hint(source)
        message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}: {hint}"
        raise GraphError([Problem("$", message)]) from exc
    except RecursionError as exc:
        raise GraphError([Problem("$", "the JSON is nested too deeply")]) from exc
    if not isinstance(data, dict):
        raise GraphError(
            [Problem("$", f"a workflow must be a JSON object, got {_json_type(data)}")]
        )
    return data


def _path_hint(source: str | bytes) -> str:
    text = source if isinstance(source, str) else ""
    if text.strip().endswith(".json") and "\n" not in text.strip():
        return "to load a file, pass a pathlib.Path, not a string"
    return "fix the JSON syntax"


def _json_type(value: Any) -> str:
    names = {
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def parse(source: Source) -> Workflow:
    """The workflow model of `source`, checked field by field (not yet as a graph)."""
    if isinstance(source, Workflow):
        return source
    data = read_source(source)
    try:
        return Workflow.model_validate(data)
    except ValidationError as exc:
        raise GraphError(problems_from_validation(exc, data)) from None


def load_with_warnings(source: Source) -> tuple[Workflow, list[Problem]]:
    """Parse and validate; raises GraphError listing every error, else returns the warnings."""
    workflow = parse(source)
    problems = validate(workflow)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise GraphError(errors)
    return workflow, [p for p in problems if p.severity == "warning"]


def load(source: Source) -> Workflow:
    """Parse and validate a workflow; raises GraphError listing every error."""
    return load_with_warnings(source)[0]
