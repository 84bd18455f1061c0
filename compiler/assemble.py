"""Lower a fully analysed CompileContext to the Plan."""

from __future__ import annotations

from compiler.context import CompileContext
from compiler.cost import call_tokens, decode_estimate
from compiler.graphapi import MapNode, Node, Workflow, first_readers, is_end_target
from compiler.plan import Interface, Plan, Route, Step
from compiler.tokenizer import tokenizer_name


def assemble(ctx: CompileContext) -> Plan:
    assert ctx.schedule is not None and ctx.estimate is not None
    return Plan(
        workflow=ctx.workflow.name,
        tokenizer=tokenizer_name(ctx.tokenizer),
        steps=_steps(ctx, ""),
        routes=_routes(ctx),
        stages=ctx.schedule.stages[""],
        prefix_groups=ctx.prefix_groups,
        threads=ctx.threads,
        loops=ctx.loops,
        diagnostics=ctx.diagnostics,
        estimate=ctx.estimate,
        interface=_interface(ctx.workflow),
        concurrent=ctx.schedule.concurrent,
    )


def _steps(ctx: CompileContext, scope: str) -> tuple[Step, ...]:
    assert ctx.schedule is not None
    schedule = ctx.schedule
    steps = []
    for step_id in schedule.order:
        site = ctx.sites[step_id]
        if site.scope != scope:
            continue
        call = ctx.calls.get(step_id)
        flow = ctx.flows[step_id]
        steps.append(
            Step(
                id=step_id,
                node_type=site.node.type,
                deps=schedule.deps[step_id],
                reads=flow.reads,
                writes=flow.writes,
                prompt_tokens=call_tokens(call, ctx.dynamic_tokens) if call else 0,
                decode_tokens=decode_estimate(ctx.workflow, ctx.tokenizer, site.node),
                priority=round(schedule.priority[step_id], 6),
                stage=schedule.stage_of[step_id],
                call=call,
                body=_steps(ctx, step_id) if site.node.type == "map" else (),
                loop=ctx.loop_of.get(step_id),
                node=_without_ui(site.node),
            )
        )
    return tuple(steps)


def _routes(ctx: CompileContext) -> tuple[Route, ...]:
    routes = []
    for scope in ctx.scopes.values():
        for source, target, data in scope.graph.edges(data=True):
            routes.append(
                Route(
                    source,
                    target,
                    when=data.get("when"),
                    is_else=bool(data.get("is_else")),
                    back_edge=bool(data.get("back_edge")),
                )
            )
        routes += _end_routes(ctx, scope.name)
    return tuple(routes)


def _end_routes(ctx: CompileContext, scope: str) -> list[Route]:
    """The scope's edges to the end of its run ("done"), which join no two steps."""
    nodes, edges = ctx.workflow.nodes, ctx.workflow.edges
    if scope:
        map_node = ctx.sites[scope].node
        assert isinstance(map_node, MapNode)
        nodes, edges = map_node.body.nodes, map_node.body.edges
    ids = [n.id for n in nodes]
    prefix = f"{scope}." if scope else ""
    return [Route(prefix + e.from_, e.to, when=e.when, is_else=e.is_else, ends=True)
            for e in edges if e.from_ in ids and is_end_target(e.to, ids)]


def _interface(workflow: Workflow) -> Interface:
    return Interface(inputs=dict(workflow.inputs), state=dict(workflow.state),
                     outputs=dict(workflow.outputs), defaults=workflow.defaults,
                     limits=workflow.limits, readers=first_readers(workflow.nodes))


def _without_ui(node: Node) -> Node:
    """The node without editor-only keys (they never change the plan)."""
    if isinstance(node, MapNode):
        body = node.body.model_copy(update={"nodes": [_without_ui(n) for n in node.body.nodes]})
        return node.model_copy(update={"ui": None, "body": body})
    return node.model_copy(update={"ui": None})
