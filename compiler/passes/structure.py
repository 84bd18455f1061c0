"""Threads (the calls that continue one conversation) and loops (strongly connected
components of each scope's graph, back edges included)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass

from compiler.context import CompileContext
from compiler.graphapi import lexicographical_topological_sort, strongly_connected_components
from compiler.plan import Loop, Thread
from compiler.sites import is_call


@dataclass(frozen=True)
class StructurePass:
    name: str = "structure"

    def apply(self, ctx: CompileContext) -> CompileContext:
        order = {step_id: i for i, step_id in enumerate(ctx.sites)}
        members: dict[str, list[str]] = defaultdict(list)
        for step_id, site in ctx.sites.items():
            if is_call(site.node) and site.node.thread:
                prefix = f"{site.scope}." if site.scope else ""
                members[prefix + site.node.thread].append(step_id)
        threads = tuple(
            Thread(name, tuple(_topological(ctx, steps, order)))
            for name, steps in sorted(members.items(), key=lambda kv: order[kv[1][0]])
        )
        loops: list[Loop] = []
        loop_of: dict[str, int] = {}
        max_visits = ctx.workflow.limits.max_node_visits
        for scope in ctx.scopes.values():
            for component in strongly_connected_components(scope.graph):
                node = next(iter(component))
                if len(component) == 1 and not scope.graph.has_edge(node, node):
                    continue
                nodes = tuple(sorted(component, key=order.__getitem__))
                loops.append(Loop(nodes, max_visits))
        loops.sort(key=lambda loop: order[loop.nodes[0]])
        for index, loop in enumerate(loops):
            loop_of.update(dict.fromkeys(loop.nodes, index))
        return dataclasses.replace(ctx, threads=threads, loops=tuple(loops), loop_of=loop_of)

    def summary(self, ctx: CompileContext) -> str:
        return f"{len(ctx.threads)} threads, {len(ctx.loops)} loops"


def _topological(ctx: CompileContext, steps: list[str], order: dict[str, int]) -> list[str]:
    dag = ctx.scopes[ctx.sites[steps[0]].scope].dag
    topological = lexicographical_topological_sort(dag, order.__getitem__)
    position = {n: i for i, n in enumerate(topological)}
    return sorted(steps, key=position.__getitem__)
