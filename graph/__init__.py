"""The workflow format: model, loading, validation, templates, inputs, reducers, schema and a
builder."""

from graph.builder import BodyBuilder, WorkflowBuilder
from graph.digraph import DiGraph, ancestors, strongly_connected_components
from graph.errors import GraphError, Problem
from graph.inputs import InputError, coerce_input, first_readers, resolve_inputs
from graph.load import load, load_with_warnings, parse
from graph.model import (
    InputSpec,
    Limits,
    LlmNode,
    MapNode,
    Message,
    Node,
    Sampling,
    SelectNode,
    SetNode,
    StateSpec,
    ToolNode,
    Workflow,
)
from graph.reducers import REDUCERS, ReduceError, Reducer, reducers_of
from graph.regex import RegexError, compile_regex
from graph.render_budget import RenderBudget, render_budget
from graph.schema import json_schema
from graph.templates import TemplateProblem, evaluate, render
from graph.validate import validate

__all__ = [
    "REDUCERS",
    "BodyBuilder",
    "DiGraph",
    "GraphError",
    "InputError",
    "InputSpec",
    "Limits",
    "LlmNode",
    "MapNode",
    "Message",
    "Node",
    "Problem",
    "ReduceError",
    "Reducer",
    "RegexError",
    "RenderBudget",
    "Sampling",
    "SelectNode",
    "SetNode",
    "StateSpec",
    "ToolNode",
    "TemplateProblem",
    "Workflow",
    "WorkflowBuilder",
    "ancestors",
    "coerce_input",
    "compile_regex",
    "evaluate",
    "first_readers",
    "json_schema",
    "load",
    "load_with_warnings",
    "parse",
    "reducers_of",
    "render",
    "render_budget",
    "resolve_inputs",
    "strongly_connected_components",
    "validate",
]
