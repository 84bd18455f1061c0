"""The JSON workflow format, version 1, as a pydantic model (the normative contract).

Every other layer reads a `Workflow`; nothing here knows about compiling or running.
Field-level checks live here; graph-level checks (edges, cycles, variables) live in
`graph/validate.py`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from graph.json_numbers import INT64
from graph.render_budget import DEFAULT_MAX_CHARS, DEFAULT_TIMEOUT_S

FORMAT_VERSION = 1
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"

Identifier = Annotated[str, Field(pattern=IDENTIFIER, max_length=64)]
InputType = Literal["string", "integer", "number", "boolean", "array", "object"]
Reducer = Literal["append", "extend", "merge", "replace"]
Role = Literal["system", "user", "assistant"]


class Strict(BaseModel):
    """Base of every record in the format: unknown keys are errors, never ignored; values are
    never coerced (`true` is not a number, `"3"` not an integer); numbers are finite."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True,
                              allow_inf_nan=False)


class InputSpec(Strict):
    type: InputType = "string"
    default: Any = None
    description: str = ""


class StateSpec(Strict):
    reducer: Reducer = "replace"
    default: Any = None


class Sampling(Strict):
    """Sampling settings; on `defaults` they apply to every llm node that leaves them unset."""

    max_tokens: Annotated[int, Field(ge=1, le=32768)] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=5.0)] | None = None
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    top_k: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    stop: list[str] | None = None
    seed: Annotated[int, Field(ge=-INT64, lt=INT64)] | None = None


class Limits(Strict):
    max_node_visits: Annotated[int, Field(ge=1, le=10_000)] = 25
    max_tokens_total: Annotated[int, Field(ge=1, le=10**12)] = 100_000
    timeout_s: Annotated[float, Field(gt=0, le=7 * 86_400)] = 600.0
    render_timeout_s: Annotated[float, Field(gt=0, le=60)] = DEFAULT_TIMEOUT_S
    max_render_chars: Annotated[int, Field(ge=1, le=16_000_000)] = DEFAULT_MAX_CHARS


class Message(Strict):
    role: Role
    content: Annotated[str, Field(max_length=200_000)]


class Point(Strict):
    x: float
    y: float


class NodeBase(Strict):
    id: Identifier
    label: str | None = None
    ui: dict[str, Any] | None = None


class PromptMixin(Strict):
    """A prompt is either a plain `prompt` (one user message) or a list of chat `messages`."""

    prompt: Annotated[str, Field(max_length=200_000)] | None = None
    messages: list[Message] | None = None

    @model_validator(mode="after")
    def _one_prompt_form(self) -> PromptMixin:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' or 'messages'")
        if self.messages is not None and not self.messages:
            raise ValueError("'messages' must not be empty")
        return self

    def chat(self) -> list[Message]:
        """The prompt as chat messages (a plain prompt is one user message)."""
        if self.messages is not None:
            return list(self.messages)
        return [Message(role="user", content=self.prompt or "")]


class LlmNode(NodeBase, PromptMixin, Sampling):
    type: Literal["llm"]
    output: Identifier
    thread: Identifier | None = None
    regex: str | None = None
    json_schema: dict[str, Any] | None = None
    choices: Annotated[list[str], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _at_most_one_constraint(self) -> LlmNode:
        given = [k for k in ("regex", "json_schema", "choices") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"at most one constraint may be given, found {', '.join(given)}")
        return self


class SelectNode(NodeBase, PromptMixin):
    type: Literal["select"]
    choices: Annotated[list[str], Field(min_length=2)]
    output: Identifier
    thread: Identifier | None = None


class ToolNode(NodeBase):
    type: Literal["tool"]
    tool: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")]
    args: dict[str, Any] = Field(default_factory=dict)
    output: Identifier
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0


class SetNode(NodeBase):
    type: Literal["set"]
    assign: Annotated[dict[str, str], Field(min_length=1)]


class Edge(Strict):
    from_: Annotated[str, Field(alias="from")]
    to: str
    when: str | None = None

    @property
    def is_else(self) -> bool:
        return self.when is not None and self.when.strip() == "else"


class Body(Strict):
    """The nested graph a `map` node runs once per item."""

    nodes: Annotated[list[Node], Field(min_length=1)]
    edges: list[Edge] = Field(default_factory=list)
    result: str


class MapNode(NodeBase):
    type: Literal["map"]
    over: str
    as_: Annotated[Identifier, Field(alias="as")] = "item"
    output: Identifier
    body: Body
    max_concurrency: Annotated[int, Field(ge=1, le=10_000)] | None = None


Node = Annotated[
    LlmNode | SelectNode | ToolNode | SetNode | MapNode, Field(discriminator="type")
]
NODE_TYPES = ("llm", "select", "tool", "set", "map")


class Workflow(Strict):
    flowc: Literal[1]
    name: Identifier
    description: str = ""
    inputs: dict[Identifier, InputSpec] = Field(default_factory=dict)
    state: dict[Identifier, StateSpec] = Field(default_factory=dict)
    defaults: Sampling = Field(default_factory=Sampling)
    limits: Limits = Field(default_factory=Limits)
    nodes: Annotated[list[Node], Field(min_length=1)]
    edges: list[Edge] = Field(default_factory=list)
    outputs: dict[Identifier, str] = Field(default_factory=dict)
    layout: dict[str, Point] = Field(default_factory=dict)
    ui: dict[str, Any] | None = None

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)


Body.model_rebuild()
MapNode.model_rebuild()
Workflow.model_rebuild()
