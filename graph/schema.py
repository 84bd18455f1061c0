"""The JSON Schema of the workflow format, generated from the pydantic model."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from graph.model import FORMAT_VERSION, Workflow

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    schema = Workflow.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = SCHEMA_DIALECT
    schema["title"] = f"flowc workflow, format {FORMAT_VERSION}"
    schema["description"] = (
        "An LLM workflow: inputs, state, nodes (llm, select, tool, set, map) and edges "
        "(unconditional, `when` expression or `else`). Edges may target 'done' to end the run."
    )
    return schema


def json_schema() -> dict[str, Any]:
    """The format's JSON Schema (draft 2020-12), a fresh copy each call."""
    import copy

    return copy.deepcopy(_schema())
