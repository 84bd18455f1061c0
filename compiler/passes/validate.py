"""Validate the workflow (graph layer) and build the step graphs of every scope."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from compiler.context import CompileContext, Scope
from compiler.graphapi import GraphError, forward_dag, node_graph, relabel_nodes, validate
from compiler.sites import node_sites


@dataclass(frozen=True)
class ValidatePass:
    name: str = "validate"

    def apply(self, ctx: CompileContext) -> CompileContext:
        problems = validate(ctx.workflow)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise GraphError(errors)
        sites = {site.step_id: site for site in node_sites(ctx.workflow)}
        scopes = {"": _scope("", ctx.workflow.nodes, ctx.workflow.edges)}
        for site in sites.values():
            if site.node.type == "map":
                body = site.node.body
                scopes[site.step_id] = _scope(site.step_id, body.nodes, body.edges)
        warnings = tuple(p for p in problems if p.severity != "error")
        return dataclasses.replace(ctx, sites=sites, scopes=scopes, warnings=warnings)

    def summary(self, ctx: CompileContext) -> str:
        return f"{len(ctx.sites)} steps in {len(ctx.scopes)} scopes, {len(ctx.warnings)} warnings"


def _scope(name: str, nodes: list, edges: list) -> Scope:
    graph = node_graph(nodes, edges)
    if name:
        graph = relabel_nodes(graph, lambda n: f"{name}.{n}")
    return Scope(name, graph, forward_dag(graph))
