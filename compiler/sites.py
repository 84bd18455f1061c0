"""Every node of a workflow with its step id and its enclosing maps (map bodies nested)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DEFAULT_MAP_ITEMS = 4


@dataclass(frozen=True)
class NodeSite:
    """A node in its scope. Top-level step ids are node ids; a map body's steps are
    "<map step id>.<node id>"."""

    step_id: str
    node: Any
    maps: tuple[Any, ...] = ()  # enclosing map nodes, outermost first

    @property
    def scope(self) -> str:
        """The step id prefix shared by the site's siblings ("" at top level)."""
        return self.step_id.rpartition(".")[0]

    @property
    def top(self) -> str:
        """The top-level step that contains this site."""
        return self.step_id.partition(".")[0]


def node_sites(workflow: Any) -> Iterator[NodeSite]:
    """Depth-first, in source order: a map node precedes its body's nodes."""
    yield from _sites(workflow.nodes, "", ())


def _sites(nodes: list[Any], prefix: str, maps: tuple[Any, ...]) -> Iterator[NodeSite]:
    for node in nodes:
        step_id = f"{prefix}{node.id}"
        yield NodeSite(step_id, node, maps)
        if node.type == "map":
            yield from _sites(node.body.nodes, f"{step_id}.", (*maps, node))


def map_items(workflow: Any, node: Any) -> int:
    """Estimated item count of a map: the length of the list an input's default gives
    when `over` names that input, else DEFAULT_MAP_ITEMS."""
    spec = workflow.inputs.get(node.over.strip())
    if spec is not None and isinstance(spec.default, list) and spec.default:
        return len(spec.default)
    state = workflow.state.get(node.over.strip())
    if state is not None and isinstance(state.default, list) and state.default:
        return len(state.default)
    return DEFAULT_MAP_ITEMS


def runs_per_call(workflow: Any, site: NodeSite) -> int:
    """How many times the site runs in one pass over the workflow (product of map sizes)."""
    runs = 1
    for map_node in site.maps:
        runs *= map_items(workflow, map_node)
    return runs


def is_call(node: Any) -> bool:
    return node.type in ("llm", "select")
