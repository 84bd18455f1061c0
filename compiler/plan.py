"""The Plan: the compiler's output and the executor's input. Plain frozen dataclasses,
JSON-serialisable through `to_dict` / `from_dict`, versioned by `PLAN_VERSION`.

Invariants:
- `steps` holds one Step per top-level node, in a topological order of the static DAG
  (back edges removed); a map node's body steps are nested in `Step.body` with ids
  "<map id>.<node id>".
- Every dependency of a step precedes it in `steps`; `stages` are antichains of step ids.
- A PrefixGroup's static token ids are a common prefix of the static token ids of every
  consumer's call site.
- Each step carries its node as the format declares it (editor-only keys dropped) and
  `interface` the workflow's declarations: with `routes`, the Plan is all a run needs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter

from graph.model import InputSpec, Limits, Node, Sampling, StateSpec

PLAN_VERSION = 1

SegmentKind = Literal["static", "dynamic"]
Severity = Literal["error", "warning", "advice"]


@dataclass(frozen=True)
class Segment:
    """A piece of a prompt tokenized on its own. Static: text known at compile time, with its
    token ids. Dynamic: a rendered template fragment (`text` is its source), with the
    variables it reads; its tokens are known only at run time."""

    kind: SegmentKind
    text: str
    token_ids: tuple[int, ...] = ()
    variables: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallSite:
    """An LLM call's prompt after the chat template, as segments (thread history first)."""

    segments: tuple[Segment, ...]
    thread: str | None = None
    static_prefix_tokens: int = 0  # tokens before the first dynamic segment


@dataclass(frozen=True)
class Step:
    id: str
    node_type: str
    deps: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    prompt_tokens: int = 0  # estimate
    decode_tokens: int = 0  # estimate
    priority: float = 0.0  # upward rank: cost of the longest path from here to the end
    stage: int = 0
    call: CallSite | None = None
    body: tuple[Step, ...] = ()
    loop: int | None = None  # index into Plan.loops
    node: Node | None = None  # the node as declared (a map's includes its body)


@dataclass(frozen=True)
class Route:
    """An edge between two steps of one graph (the workflow's or a map body's)."""

    source: str
    target: str
    when: str | None = None
    is_else: bool = False
    back_edge: bool = False  # closes a cycle: re-triggers its target, never makes it wait
    ends: bool = False  # targets the end of its graph's run ("done"), no step

    @property
    def conditional(self) -> bool:
        """A `when` edge other than `else`."""
        return self.when is not None and not self.is_else


@dataclass(frozen=True)
class Interface:
    """What a run of the plan takes and gives: the workflow's declarations."""

    inputs: dict[str, InputSpec] = field(default_factory=dict)
    state: dict[str, StateSpec] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    defaults: Sampling = field(default_factory=Sampling)
    limits: Limits = field(default_factory=Limits)
    readers: dict[str, str] = field(default_factory=dict)  # input -> first node reading it


@dataclass(frozen=True)
class PrefixGroup:
    """A prompt prefix shared by several call sites: prefilled once, pinned while consumers
    remain, released after the last."""

    id: str
    segments: tuple[Segment, ...]
    consumers: tuple[str, ...]
    tokens: int  # tokens in the prefix (dynamic parts estimated)
    waits_on: tuple[str, ...] = ()  # variables the prefix reads; empty: ready at start
    ready_after: tuple[str, ...] = ()  # steps that write those variables
    release_after: tuple[str, ...] = ()  # steps after which no consumer remains
    speculative: bool = False  # a router target's prefix, prefilled while the router runs
    saved_tokens: int = 0  # prefill tokens this group saves beyond its parent group
    parent: str | None = None  # the enclosing group whose prefix this one extends
    runs: int = 0  # calls that consume the prefix per workflow run (map bodies: per item)
    speculate_with: str | None = None  # the router whose start triggers a speculative prefill

    @property
    def token_ids(self) -> tuple[int, ...]:
        """The static token ids (the whole prefix when `waits_on` is empty)."""
        return tuple(t for s in self.segments if s.kind == "static" for t in s.token_ids)


@dataclass(frozen=True)
class Thread:
    name: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Loop:
    nodes: tuple[str, ...]
    max_visits: int


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    node_id: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class Estimate:
    prefill_tokens_naive: int = 0  # every call once (map items and runs counted)
    prefill_tokens_planned: int = 0
    decode_tokens: int = 0
    critical_path: tuple[str, ...] = ()
    critical_path_cost: float = 0.0
    # over the paths a run can take (compiler/paths.py): expected and worst case, loops too
    expected_prefill_naive: int = 0
    expected_prefill_planned: int = 0
    worst_prefill_naive: int = 0
    worst_prefill_planned: int = 0
    speculative_prefill: int = 0  # tokens prefilled ahead for router targets (expected)
    speculative_wasted: int = 0  # of those, expected for branches not taken

    @property
    def prefill_saved(self) -> int:
        return self.prefill_tokens_naive - self.prefill_tokens_planned


@dataclass(frozen=True)
class Plan:
    workflow: str
    tokenizer: str
    steps: tuple[Step, ...]
    routes: tuple[Route, ...]
    stages: tuple[tuple[str, ...], ...]
    prefix_groups: tuple[PrefixGroup, ...]
    threads: tuple[Thread, ...]
    loops: tuple[Loop, ...]
    diagnostics: tuple[Diagnostic, ...]
    estimate: Estimate
    interface: Interface = field(default_factory=Interface)
    version: int = PLAN_VERSION
    # per stage: the members that may run at the same time as another member of it (a
    # router's `when` and `else` alternatives never do)
    concurrent: tuple[tuple[str, ...], ...] = ()

    def step(self, step_id: str) -> Step:
        for step in _walk(self.steps):
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def walk(self) -> Iterator[Step]:
        """Every step, map bodies after their map, in plan order."""
        return _walk(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self, dict_factory=_json_ready)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        if data.get("version") != PLAN_VERSION:
            raise ValueError(f"plan version {data.get('version')!r} is not {PLAN_VERSION}")
        return _build(cls, data)


def _walk(steps: tuple[Step, ...]) -> Iterator[Step]:
    for step in steps:
        yield step
        yield from _walk(step.body)


def _json_ready(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {name: _dump(value) for name, value in pairs}


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def _build(cls: type, data: Any) -> Any:
    """Rebuild nested frozen dataclasses from `dataclasses.asdict` output."""
    kwargs = {}
    hints = {f.name: f for f in dataclasses.fields(cls)}
    for name, value in data.items():
        kwargs[name] = _convert(hints[name].type, value)
    return cls(**kwargs)


_RECORDS: dict[str, type] = {}
_MODELS: dict[str, TypeAdapter[Any]] = {
    "Node | None": TypeAdapter(Node | None),
    "dict[str, InputSpec]": TypeAdapter(dict[str, InputSpec]),
    "dict[str, StateSpec]": TypeAdapter(dict[str, StateSpec]),
    "Sampling": TypeAdapter(Sampling),
    "Limits": TypeAdapter(Limits),
}


def _convert(annotation: str, value: Any) -> Any:
    if value is None:
        return None
    if annotation in _MODELS:
        return _MODELS[annotation].validate_python(value)
    for record_name, record in _RECORDS.items():
        if annotation.startswith(f"tuple[{record_name},") or annotation.startswith(
            f"tuple[tuple[{record_name}"
        ):
            return tuple(_build(record, v) for v in value)
        if annotation in (record_name, f"{record_name} | None"):
            return _build(record, value)
    if annotation.startswith("tuple[tuple["):
        return tuple(tuple(v) for v in value)
    if annotation.startswith("tuple["):
        return tuple(value)
    return value


_RECORDS.update(
    {c.__name__: c for c in (Segment, CallSite, Step, Route, PrefixGroup, Thread, Loop,
                             Diagnostic, Estimate, Interface)}
)
