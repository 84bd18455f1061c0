"""What a run did, node by node: the records behind `--trace OUT.json` and `--explain`.

Times are seconds since the run started (monotonic clock). A node that runs several times (a
loop) or once per item (a map body) has one `NodeTrace` per visit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from executor.schedule import Schedule


@dataclass
class NodeTrace:
    node_id: str  # plan step id: "<map id>.<node id>" inside a map body
    node_type: str
    visit: int = 1
    item: tuple[int, ...] = ()  # map item indices, outermost first
    ready: float = 0.0  # when its dependencies were done
    start: float = 0.0
    end: float | None = None
    status: str = "running"  # running | succeeded | failed | cancelled
    error: str | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens whose KV came from the prefix cache
    generated_tokens: int = 0
    first_token_s: float | None = None  # from submit to the first generated token
    decode_s: float = 0.0
    engine_steps: tuple[int, int] | None = None  # engine step counter at submit and finish
    finish_reason: str | None = None

    @property
    def queue_s(self) -> float:
        return max(0.0, self.start - self.ready)

    @property
    def duration_s(self) -> float:
        return 0.0 if self.end is None else self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["queue_s"] = self.queue_s
        data["duration_s"] = self.duration_s
        return data


@dataclass
class PrefixTrace:
    group_id: str
    tokens: int
    consumers: tuple[str, ...]
    speculative: bool = False
    start: float | None = None
    ready: float | None = None  # when its KV was computed and pinned
    released: float | None = None
    cached_tokens: int = 0  # of its tokens already cached when it was prefilled
    shared: bool = False  # pinned by an earlier run on the same engine (PrefixPool)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Trace:
    workflow: str
    schedule: Schedule = Schedule.PLANNED
    started_at: float = 0.0  # wall clock (time.time) at the start
    duration_s: float = 0.0
    status: str = "running"
    nodes: list[NodeTrace] = field(default_factory=list)
    prefixes: list[PrefixTrace] = field(default_factory=list)
    predicted_prefill_naive: int = 0
    predicted_prefill_planned: int = 0
    predicted_saving: int = 0
    engine_steps: int = 0  # engine steps taken while the run was going
    # on a replica pool, each replica that ran it ({replica, pid, error}); more than one when
    # a replica died during the run and another ran it again
    replicas: list[dict[str, Any]] = field(default_factory=list)

    @property
    def optimized(self) -> bool:
        """Whether the run honoured the plan (its prefix pins, speculation, priorities)."""
        return self.schedule.honours_plan

    @property
    def llm_calls(self) -> list[NodeTrace]:
        return [n for n in self.nodes if n.prompt_tokens]

    @property
    def prompt_tokens(self) -> int:
        return sum(n.prompt_tokens for n in self.nodes)

    @property
    def cached_tokens(self) -> int:
        """Prompt tokens of the run's calls served from the prefix cache."""
        return sum(n.cached_tokens for n in self.nodes)

    @property
    def generated_tokens(self) -> int:
        return sum(n.generated_tokens for n in self.nodes)

    @property
    def prefill_computed(self) -> int:
        """Prompt tokens whose KV was computed for this run: by its calls and its eager
        prefills."""
        by_calls = sum(n.prompt_tokens - n.cached_tokens for n in self.nodes)
        by_prefills = sum(p.tokens - p.cached_tokens for p in self.prefixes if p.ready)
        return by_calls + by_prefills

    @property
    def actual_saving(self) -> int:
        """Prefill avoided compared with computing every call's prompt in full."""
        return self.prompt_tokens - self.prefill_computed

    def node(self, node_id: str) -> list[NodeTrace]:
        return [n for n in self.nodes if n.node_id == node_id]

    def to_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "schedule": str(self.schedule),
            "optimized": self.optimized,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "status": self.status,
            "engine_steps": self.engine_steps,
            "totals": {
                "prompt_tokens": self.prompt_tokens,
                "cached_tokens": self.cached_tokens,
                "generated_tokens": self.generated_tokens,
                "prefill_computed": self.prefill_computed,
            },
            "prefill_saving": {
                "predicted": self.predicted_saving,
                "actual": self.actual_saving,
                "served_from_cache": self.cached_tokens,
                "predicted_naive": self.predicted_prefill_naive,
                "predicted_planned": self.predicted_prefill_planned,
            },
            "nodes": [n.to_dict() for n in self.nodes],
            "prefixes": [p.to_dict() for p in self.prefixes],
        } | ({"replicas": self.replicas} if self.replicas else {})


def overlapping(a: NodeTrace, b: NodeTrace) -> bool:
    """Whether two node spans overlap in time."""
    a_end = a.end if a.end is not None else float("inf")
    b_end = b.end if b.end is not None else float("inf")
    return a.start < b_end and b.start < a_end


def shared_steps(a: NodeTrace, b: NodeTrace) -> int:
    """How many engine steps the two calls' step ranges have in common."""
    if a.engine_steps is None or b.engine_steps is None:
        return 0
    low = max(a.engine_steps[0], b.engine_steps[0])
    high = min(a.engine_steps[1], b.engine_steps[1])
    return max(0, high - low)
