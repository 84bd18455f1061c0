"""The plan as one self-contained HTML page (inline CSS, no scripts or external assets)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from compiler.plan import Plan
from compiler.render.summary import (
    group_readiness,
    prefix_of,
    preview,
    route_note,
    saved_percent,
    stage_note,
    walk,
)

_TEMPLATES = Path(__file__).parent / "templates"


def render_html(plan: Plan) -> str:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("plan.html.j2")
    return template.render(
        plan=plan,
        steps=list(walk(plan.steps)),
        prefixes=prefix_of(plan),
        previews={g.id: preview(g) for g in plan.prefix_groups},
        readiness={g.id: group_readiness(g) for g in plan.prefix_groups},
        saved_percent=saved_percent(plan),
        notes=[stage_note(plan, n) for n in range(len(plan.stages))],
        notes_of=[route_note(r) for r in plan.routes],
    )
