"""The graph-layer functions the compiler uses, imported in one place."""

from __future__ import annotations

try:
    from graph.errors import GraphError, Problem
    from graph.load import load
    from graph.templates import (
        expression_variables,
        render,
        split_template,
        template_variables,
    )
    from graph.validate import back_edges, node_graph, reads_of, validate, writes_of
except ImportError:  # interim until the graph layer provides them
    from compiler._interim import (  # noqa: F401
        GraphError,
        Problem,
        back_edges,
        expression_variables,
        load,
        node_graph,
        reads_of,
        render,
        split_template,
        template_variables,
        validate,
        writes_of,
    )

__all__ = [
    "GraphError",
    "Problem",
    "back_edges",
    "expression_variables",
    "load",
    "node_graph",
    "reads_of",
    "render",
    "split_template",
    "template_variables",
    "validate",
    "writes_of",
]
