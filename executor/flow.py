"""Dataflow over one graph (the workflow's or a map body's): which nodes may run now.

Semantics:
- Nodes without an in-edge start the run.
- A finished node fires its unconditional out-edges, every `when` edge whose condition holds,
  and its `else` edge only when none of its `when` edges fired.
- A node with a fired in-edge runs once no other forward in-edge can still fire: an in-edge
  can still fire while its source is running, about to run, or reachable (through any edges,
  back edges included, but not through the waiting node itself) from a node that is. This is
  dead-path elimination: a join after a router never waits for the branch not taken.
- A back edge re-triggers its target and never makes it wait.
- A node never runs twice at once; fired in-edges are consumed when it starts.
- If nothing runs and nothing is ready but some node holds a fired in-edge (waits on each
  other through cycles), the first such node in graph order is released.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from compiler.plan import Route


@dataclass(frozen=True)
class Flow:
    """A graph's static shape: step ids in plan order and the routes between them."""

    nodes: tuple[str, ...]
    edges: tuple[Route, ...]

    def out_edges(self, node: str) -> list[Route]:
        return [e for e in self.edges if e.source == node]

    def forward_in(self, node: str) -> list[Route]:
        return [e for e in self.edges if e.target == node and not e.back_edge]

    def starts(self) -> list[str]:
        return [n for n in self.nodes if not any(e.target == n for e in self.edges)]

    def successors(self, node: str) -> list[str]:
        return [e.target for e in self.edges if e.source == node]


@dataclass(frozen=True)
class FlowState:
    """Where a dataflow stands between nodes, as if the nodes running now had not started:
    the fired in-edges (indices into `Flow.edges`) and the triggers each node holds."""

    fired: dict[str, tuple[int, ...]]
    triggered: tuple[str, ...]


@dataclass
class Dataflow:
    flow: Flow
    fired: dict[str, set[Route]] = field(default_factory=dict)  # unconsumed fired in-edges
    triggered: set[str] = field(default_factory=set)  # start / back-edge triggers
    running: set[str] = field(default_factory=set)
    consumed: dict[str, tuple[set[Route], bool]] = field(default_factory=dict)  # by `running`

    def start(self) -> None:
        self.triggered.update(self.flow.starts())

    def restore(self, state: FlowState) -> None:
        """Continue from `state` (taken by `state()` on the same flow)."""
        self.fired = {node: {self.flow.edges[i] for i in edges}
                      for node, edges in state.fired.items()}
        self.triggered = set(state.triggered)

    def state(self) -> FlowState:
        fired = {node: set(edges) for node, edges in self.fired.items()}
        triggered = set(self.triggered)
        for node in self.running:
            edges, was_triggered = self.consumed[node]
            fired.setdefault(node, set()).update(edges)
            if was_triggered:
                triggered.add(node)
        index = {edge: i for i, edge in enumerate(self.flow.edges)}
        return FlowState({node: tuple(sorted(index[e] for e in edges))
                          for node, edges in fired.items() if edges},
                         tuple(n for n in self.flow.nodes if n in triggered))

    def fire(self, edges: list[Route]) -> None:
        for edge in edges:
            if edge.back_edge:
                self.triggered.add(edge.target)
            else:
                self.fired.setdefault(edge.target, set()).add(edge)

    def pending(self) -> list[str]:
        """Nodes holding a trigger or a fired in-edge, in graph order."""
        return [n for n in self.flow.nodes if n in self.triggered or self.fired.get(n)]

    def ready(self) -> list[str]:
        """Nodes that may start now, in graph order."""
        ready = [n for n in self.pending() if n not in self.running and not self._waits(n)]
        if not ready and not self.running:
            stuck = [n for n in self.pending() if n not in self.running]
            return stuck[:1]
        return ready

    def begin(self, node: str) -> None:
        self.running.add(node)
        self.consumed[node] = (self.fired.pop(node, set()), node in self.triggered)
        self.triggered.discard(node)

    def finish(self, node: str) -> None:
        self.running.discard(node)
        self.consumed.pop(node, None)

    def _waits(self, node: str) -> bool:
        fired = self.fired.get(node, set())
        open_sources = {e.source for e in self.flow.forward_in(node) if e not in fired}
        if not open_sources:
            return False
        active = (self.running | set(self.pending())) - {node}
        return bool(open_sources & self._reachable(active, avoid=node))

    def _reachable(self, sources: set[str], avoid: str) -> set[str]:
        seen = set(sources)
        queue = deque(sources)
        while queue:
            for nxt in self.flow.successors(queue.popleft()):
                if nxt != avoid and nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return seen


def choose_edges(edges: list[Route], holds: dict[Route, bool]) -> list[Route]:
    """The out-edges that fire, given which conditional edges' conditions hold."""
    fired = [e for e in edges if e.when is None or (e.conditional and holds[e])]
    any_when = any(e.conditional and holds[e] for e in edges)
    fired += [e for e in edges if e.is_else and not any_when]
    return fired
