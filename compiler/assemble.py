"""Lower a fully analysed CompileContext to the Plan."""

from __future__ import annotations

from typing import Any

from compiler.context import CompileContext
from compiler.cost import call_tokens, decode_estimate
from compiler.plan import Plan, Route, Step
from compiler.tokenizer import tokenizer_name

EDITOR_KEYS = ("layout", "ui")  # never change the plan


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
        source=_source(ctx.workflow),
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
    return tuple(routes)


def _source(workflow: Any) -> dict[str, Any]:
    data = workflow.model_dump(mode="json", by_alias=True)
    for key in EDITOR_KEYS:
        data.pop(key, None)
    _drop_node_ui(data.get("nodes", []))
    return data


def _drop_node_ui(nodes: list[dict[str, Any]]) -> None:
    for node in nodes:
        node.pop("ui", None)
        if node.get("type") == "map":
            _drop_node_ui(node["body"]["nodes"])
