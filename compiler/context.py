"""The state that flows through the compiler's passes: each pass returns a copy with its
results added (`dataclasses.replace`), never mutating what earlier passes produced."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compiler.cost import TokenEstimates
from compiler.graphapi import DiGraph
from compiler.plan import CallSite, Diagnostic, Estimate, Loop, PrefixGroup, Thread
from compiler.sites import NodeSite


@dataclass(frozen=True)
class Flow:
    """What a step reads and writes (variable names)."""

    reads: tuple[str, ...]
    writes: tuple[str, ...]


@dataclass(frozen=True)
class Scope:
    """One graph of steps: the top level ("") or a map body ("<map step id>")."""

    name: str
    graph: DiGraph[str]  # step ids; edge attrs when, is_else, back_edge
    dag: DiGraph[str]  # graph without back edges


@dataclass(frozen=True)
class Schedule:
    order: tuple[str, ...]  # every step id, topological within each scope
    deps: Mapping[str, tuple[str, ...]]
    stages: Mapping[str, tuple[tuple[str, ...], ...]]  # scope name -> waves
    concurrent: tuple[tuple[str, ...], ...]  # per top-level wave: members that may overlap
    stage_of: Mapping[str, int]
    priority: Mapping[str, float]  # upward rank (seconds)
    cost: Mapping[str, float]  # own cost of a step (seconds)


@dataclass(frozen=True)
class CompileContext:
    workflow: Any
    tokenizer: Any
    sites: Mapping[str, NodeSite] = field(default_factory=dict)  # step id -> site, in order
    warnings: tuple[Any, ...] = ()  # graph.Problem warnings
    scopes: Mapping[str, Scope] = field(default_factory=dict)
    flows: Mapping[str, Flow] = field(default_factory=dict)
    writers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # var -> top steps
    calls: Mapping[str, CallSite] = field(default_factory=dict)
    runs: Mapping[str, int] = field(default_factory=dict)  # step id -> runs per workflow run
    dynamic_tokens: TokenEstimates = field(default_factory=TokenEstimates)
    prefix_groups: tuple[PrefixGroup, ...] = ()
    threads: tuple[Thread, ...] = ()
    loops: tuple[Loop, ...] = ()
    loop_of: Mapping[str, int] = field(default_factory=dict)
    schedule: Schedule | None = None
    estimate: Estimate | None = None
    diagnostics: tuple[Diagnostic, ...] = ()

