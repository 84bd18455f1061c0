"""Plan renderers: text (EXPLAIN-like), json (the versioned Plan), dot (Graphviz), html."""

from __future__ import annotations

from typing import Literal

from compiler.plan import Plan

Format = Literal["text", "json", "dot", "html"]
FORMATS: tuple[str, ...] = ("text", "json", "dot", "html")


def render(plan: Plan, fmt: Format = "text") -> str:
    if fmt == "text":
        from compiler.render.text import render_text

        return render_text(plan)
    if fmt == "json":
        return plan.to_json() + "\n"
    if fmt == "dot":
        from compiler.render.dot import render_dot

        return render_dot(plan)
    if fmt == "html":
        from compiler.render.html import render_html

        return render_html(plan)
    raise ValueError(f"unknown plan format {fmt!r}: use one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "Format", "render"]
