"""The workflow format: model, loading, validation, templates, schema and a builder."""

from graph.builder import BodyBuilder, WorkflowBuilder
from graph.errors import GraphError, Problem
from graph.load import load, load_with_warnings, parse
from graph.model import Workflow
from graph.schema import json_schema
from graph.validate import validate

__all__ = [
    "BodyBuilder",
    "GraphError",
    "Problem",
    "Workflow",
    "WorkflowBuilder",
    "json_schema",
    "load",
    "load_with_warnings",
    "parse",
    "validate",
]
