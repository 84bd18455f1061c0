"""Upload-time check of a workflow's `tool` nodes against the tools this server has, so a
graph that would fail at its first tool call is told so when it is uploaded: a warning, or
an error (422) when the server runs with strict tools."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

from graph import MapNode, Node, ToolNode, Workflow
from web.schemas import ProblemPublic


def missing_tools(workflow: Workflow, available: Collection[str], strict: bool
                  ) -> list[ProblemPublic]:
    """A problem for every tool node whose tool is not in `available`."""
    severity = "error" if strict else "warning"
    known = ", ".join(sorted(available)) or "none"
    return [ProblemPublic(path=f"{path}.tool", node_id=node.id, severity=severity,
                          message=_message(node.tool, known))
            for path, node in _tool_nodes(workflow.nodes, "nodes")
            if node.tool not in available]


def _message(tool: str, known: str) -> str:
    if tool == "http_get":
        return ("http_get is disabled on this server (it allows no HTTP hosts: start it with "
                f"--allow-http HOST); the run would fail at this node. Tools here: {known}")
    return f"this server has no tool '{tool}'; the run would fail at this node. Tools here: {known}"


def _tool_nodes(nodes: Sequence[Node], path: str) -> Iterator[tuple[str, ToolNode]]:
    for i, node in enumerate(nodes):
        if isinstance(node, ToolNode):
            yield f"{path}[{i}]", node
        elif isinstance(node, MapNode):
            yield from _tool_nodes(node.body.nodes, f"{path}[{i}].body.nodes")
