"""The plan as a Graphviz digraph: steps ranked by stage, map bodies as clusters, routes
labelled with their conditions (back edges dashed), prefix groups as notes on their
consumers."""

from __future__ import annotations

import json

from compiler.plan import Plan, Step
from compiler.render.summary import end_node

SHAPES = {"llm": "box", "select": "box", "tool": "component", "set": "ellipse", "map": "box3d"}


def render_dot(plan: Plan) -> str:
    lines = [
        f"digraph {_quote(plan.workflow)} {{",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    lines += _steps(plan.steps, "  ")
    for number, wave in enumerate(plan.stages):
        members = " ".join(_quote(step) for step in wave)
        lines.append(f"  {{ rank=same; {members} }}  // stage {number}")
    ends = sorted({end_node(route) for route in plan.routes if route.ends})
    lines += [f"  {_quote(end)} [shape=doublecircle, label=\"done\"];" for end in ends]
    lines += [_route(plan, route) for route in plan.routes]
    lines += _groups(plan)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _steps(steps: tuple[Step, ...], indent: str) -> list[str]:
    lines = []
    for step in steps:
        lines.append(f"{indent}{_quote(step.id)} [shape={SHAPES.get(step.node_type, 'box')}, "
                     f"label={_quote(_label(step))}];")
        if step.body:
            lines.append(f"{indent}subgraph {_quote('cluster_' + step.id)} {{")
            lines.append(f"{indent}  label={_quote('map ' + step.id + ' (per item)')};")
            lines.append(f"{indent}  style=rounded;")
            lines += _steps(step.body, indent + "  ")
            lines.append(f"{indent}}}")
    return lines


def _label(step: Step) -> str:
    tokens = f"\n{step.prompt_tokens} + {step.decode_tokens} tokens" if step.call else ""
    return f"{step.id}\n{step.node_type}{tokens}"


def _route(plan: Plan, route) -> str:
    attributes = []
    if route.is_else:
        attributes.append('label="else"')
    elif route.when:
        attributes.append(f"label={_quote(route.when)}")
    if route.back_edge:
        attributes.append("style=dashed, constraint=false")
    suffix = f" [{', '.join(attributes)}]" if attributes else ""
    target = end_node(route) if route.ends else route.target
    return f"  {_quote(route.source)} -> {_quote(target)}{suffix};"


def _groups(plan: Plan) -> list[str]:
    lines = []
    for group in plan.prefix_groups:
        node = _quote("prefix " + group.id)
        kind = "speculative" if group.speculative else f"saves {group.saved_tokens}"
        calls = "1 call" if group.runs == 1 else f"{group.runs} calls"
        label = f"{group.id}: {group.tokens} tokens\n{calls}, {kind}"
        lines.append(
            f"  {node} [shape=note, style=filled, fillcolor=lightyellow, label={_quote(label)}];"
        )
        for consumer in group.consumers:
            lines.append(f"  {node} -> {_quote(consumer)} [style=dotted, arrowhead=none];")
    return lines


def _quote(text: str) -> str:
    """A DOT string literal (JSON escaping is valid DOT escaping for quotes and newlines)."""
    return json.dumps(text, ensure_ascii=False)
