"""The graph-layer functions the compiler uses, imported in one place."""

from __future__ import annotations

from graph.dataflow import reads_of, writes_of
from graph.digraph import (
    DiGraph,
    ancestors,
    lexicographical_topological_sort,
    relabel_nodes,
    strongly_connected_components,
    topological_generations,
    topological_sort,
)
from graph.errors import GraphError, Problem
from graph.inputs import first_readers
from graph.load import load, parse
from graph.model import MapNode, Node, Workflow
from graph.templates import (
    OutputTooLong,
    expression_variables,
    render,
    split_template,
    template_variables,
)
from graph.topology import Concurrency, forward_dag, is_end_target
from graph.validate import back_edges, node_graph, validate

__all__ = [
    "DiGraph",
    "ancestors",
    "lexicographical_topological_sort",
    "relabel_nodes",
    "strongly_connected_components",
    "topological_generations",
    "topological_sort",
    "Concurrency",
    "forward_dag",
    "GraphError",
    "MapNode",
    "Node",
    "OutputTooLong",
    "Problem",
    "back_edges",
    "Workflow",
    "expression_variables",
    "first_readers",
    "is_end_target",
    "load",
    "node_graph",
    "parse",
    "reads_of",
    "render",
    "split_template",
    "template_variables",
    "validate",
    "writes_of",
]
