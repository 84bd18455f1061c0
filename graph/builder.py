"""Writing workflows in Python: a builder that stores plain specs and validates on `build()`.

wf = (WorkflowBuilder("qa")
      .add_input("question", default="What is 2 + 2?")
      .add_node("answer", "llm", prompt="Q: {{ question }}\\nA:", output="answer")
      .add_output("answer", "{{ answer }}")
      .build())
"""

from __future__ import annotations

import copy
from typing import Any

from graph.load import load
from graph.model import FORMAT_VERSION, Workflow

_ALIASES = {"as_": "as", "from_": "from"}


def _spec(fields: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments as JSON fields: `as_` becomes `as`, None values are left out,
    nested builders become their dicts."""
    spec: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, BodyBuilder):
            value = value.to_dict()
        spec[_ALIASES.get(key, key)] = value
    return spec


class _Graph:
    """Nodes and edges, shared by workflows and map bodies."""

    def __init__(self) -> None:
        self._nodes: list[dict[str, Any]] = []
        self._edges: list[dict[str, Any]] = []

    def add_node(self, node_id: str, node_type: str, **fields: Any) -> Any:
        """Add a node: `add_node("classify", "llm", prompt=..., output="label")`."""
        self._nodes.append({"id": node_id, "type": node_type, **_spec(fields)})
        return self

    def add_edge(self, source: str, target: str, when: str | None = None) -> Any:
        """Add an edge; `when` is an expression or "else"; target "done" ends the run."""
        self._edges.append(_spec({"from": source, "to": target, "when": when}))
        return self

    def add_sequence(self, *node_ids: str) -> Any:
        """Unconditional edges through `node_ids` in order."""
        for source, target in zip(node_ids, node_ids[1:], strict=False):
            self.add_edge(source, target)
        return self


class BodyBuilder(_Graph):
    """The body of a map node; pass it as `body=` to `add_node(..., "map", ...)`."""

    def __init__(self, result: str) -> None:
        super().__init__()
        self.result = result

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": copy.deepcopy(self._nodes),
            "edges": copy.deepcopy(self._edges),
            "result": self.result,
        }


class WorkflowBuilder(_Graph):
    """Builds a workflow; every method returns the builder, `build()` returns the validated
    Workflow (raising GraphError listing every problem)."""

    def __init__(self, name: str, description: str = "") -> None:
        super().__init__()
        self.name = name
        self.description = description
        self._inputs: dict[str, dict[str, Any]] = {}
        self._state: dict[str, dict[str, Any]] = {}
        self._defaults: dict[str, Any] = {}
        self._limits: dict[str, Any] = {}
        self._outputs: dict[str, str] = {}

    def add_input(
        self,
        name: str,
        type: str = "string",
        default: Any = None,  # noqa: A002
        description: str = "",
    ) -> WorkflowBuilder:
        self._inputs[name] = _spec(
            {"type": type, "default": default, "description": description or None}
        )
        return self

    def add_state(
        self, name: str, reducer: str = "replace", default: Any = None
    ) -> WorkflowBuilder:
        self._state[name] = _spec({"reducer": reducer, "default": default})
        return self

    def set_defaults(self, **sampling: Any) -> WorkflowBuilder:
        self._defaults.update(_spec(sampling))
        return self

    def set_limits(self, **limits: Any) -> WorkflowBuilder:
        self._limits.update(_spec(limits))
        return self

    def add_output(self, name: str, template: str) -> WorkflowBuilder:
        self._outputs[name] = template
        return self

    def to_dict(self) -> dict[str, Any]:
        """The workflow as its JSON object."""
        data: dict[str, Any] = {"flowc": FORMAT_VERSION, "name": self.name}
        if self.description:
            data["description"] = self.description
        optional = {
            "inputs": self._inputs,
            "state": self._state,
            "defaults": self._defaults,
            "limits": self._limits,
        }
        data.update({key: value for key, value in optional.items() if value})
        data["nodes"] = self._nodes
        if self._edges:
            data["edges"] = self._edges
        if self._outputs:
            data["outputs"] = self._outputs
        return copy.deepcopy(data)

    def build(self) -> Workflow:
        return load(self.to_dict())
