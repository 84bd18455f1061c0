"""The plan's prefix groups at run time: prefilled once as soon as their variables are known
(speculative ones when their router starts), pinned while consumers remain, released after
the last. A `PrefixPool` shares pins between concurrent runs of one engine by token ids."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from compiler import Plan, PrefixGroup, Segment, render_segments
from engine.api import EngineAPI, PrefixHandle
from executor.offload import off_loop
from executor.trace import PrefixTrace

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass
class _Pin:
    task: asyncio.Task[PrefixHandle]
    users: int = 0


class PrefixPool:
    """Pinned prefixes by token ids: one prefill and one pin however many runs use them."""

    def __init__(self, engine: EngineAPI) -> None:
        self.engine = engine
        self._pins: dict[tuple[int, ...], _Pin] = {}

    def acquire(self, token_ids: tuple[int, ...], priority: int) -> asyncio.Task[PrefixHandle]:
        """The pin of `token_ids`, prefilled by this call or shared with an earlier one
        (see `is_shared`)."""
        pin = self._pins.get(token_ids)
        if pin is None:
            task = asyncio.ensure_future(self.engine.prefill(list(token_ids), priority))
            pin = self._pins[token_ids] = _Pin(task)
        pin.users += 1
        return pin.task

    def is_shared(self, token_ids: tuple[int, ...]) -> bool:
        """Whether more than one user holds the pin of `token_ids`."""
        pin = self._pins.get(token_ids)
        return pin is not None and pin.users > 1

    def release(self, token_ids: tuple[int, ...]) -> None:
        pin = self._pins.get(token_ids)
        if pin is None:
            return
        pin.users -= 1
        if pin.users > 0:
            return
        del self._pins[token_ids]
        if pin.task.done() and not pin.task.cancelled() and pin.task.exception() is None:
            self.engine.release(pin.task.result())
        else:
            pin.task.cancel()
            pin.task.add_done_callback(self._release_late)

    def _release_late(self, task: asyncio.Task[PrefixHandle]) -> None:
        if not task.cancelled() and task.exception() is None:
            self.engine.release(task.result())


@dataclass
class _Group:
    group: PrefixGroup
    trace: PrefixTrace
    ids: tuple[int, ...] | None = None
    task: asyncio.Future[PrefixHandle] | None = None
    released: bool = False
    head: _Group | None = None  # pinned first: its parent group, or else its static head
    acquired: bool = False  # whether it holds a pin of the pool
    rendering: bool = False  # its prompt is being rendered, to be pinned then

    @property
    def started(self) -> bool:
        """Whether it is pinned or being rendered to be."""
        return self.task is not None or self.rendering


# Eager prefill is work ahead of need: it takes the step budget calls leave, never delays a
# call (a pin whose consumer starts now then finds the consumer's pages and only holds them).
EAGER_PRIORITY = -1


@dataclass
class PrefixPins:
    """One run's view of the plan's prefix groups."""

    plan: Plan
    pool: PrefixPool
    tokenizer: PreTrainedTokenizerBase
    clock: Callable[[], float]
    traces: list[PrefixTrace]
    page_size: int = 16  # the engine shares whole pages: only those are worth pinning
    _groups: list[_Group] = field(default_factory=list)
    _done: set[str] = field(default_factory=set)
    # renders in flight: a pin is work ahead of need, so no step waits for one
    _rendering: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        for group in self.plan.prefix_groups:
            if group.waits_on and self._on_threads(group):
                continue  # thread prompts extend earlier calls' token ids, not re-rendered text
            if group.tokens < self.page_size:
                continue
            trace = PrefixTrace(group.id, group.tokens, group.consumers, group.speculative)
            self._groups.append(_Group(group, trace))
        for entry in list(self._groups):
            entry.head = self._head_of(entry.group)

    def _head_of(self, group: PrefixGroup) -> _Group | None:
        """The group to pin before this one, so that this one's prefill extends its pages
        instead of computing them again: the enclosing group this one extends, else the
        group of its leading static segments (made when no group of the plan is exactly
        that, and shared by concurrent runs); None when there is neither."""
        parent = next((e for e in self._groups if e.group.id == group.parent), None)
        if parent is not None:
            return parent
        head: list[Segment] = []
        for segment in group.segments:
            if segment.kind != "static":
                break
            head.append(segment)
        ids = tuple(t for s in head for t in s.token_ids)
        if len(head) == len(group.segments) or len(ids) < self.page_size:
            return None
        for entry in self._groups:
            if not entry.group.waits_on and entry.group.token_ids == ids:
                return entry
        head_group = PrefixGroup(f"{group.id}.head", tuple(head), group.consumers, len(ids),
                                 release_after=group.release_after)
        trace = PrefixTrace(head_group.id, len(ids), group.consumers)
        self._groups.append(_Group(head_group, trace))
        return self._groups[-1]

    def _on_threads(self, group: PrefixGroup) -> bool:
        calls = [self.plan.step(c).call for c in group.consumers]
        return any(call is not None and call.thread for call in calls)

    def start(self, values: Mapping[str, Any], done: Iterable[str] = ()) -> None:
        """Prefill the groups ready at the start of the run (or of its resumption after the
        steps `done`)."""
        self._done.update(done)
        self._advance(values)

    def step_started(self, step_id: str, values: Mapping[str, Any]) -> None:
        self._prefill([e for e in self._groups
                       if e.group.speculative and e.group.speculate_with == step_id], values)

    def step_done(self, step_id: str, values: Mapping[str, Any]) -> None:
        self._done.add(step_id)
        self._advance(values)
        for entry in self._groups:
            after = entry.group.release_after
            if entry.started and not entry.released and after and set(after) <= self._done:
                self._release(entry)

    def close(self) -> None:
        for task in self._rendering:
            task.cancel()
        for entry in self._groups:
            if entry.started and not entry.released:
                self._release(entry)

    def _advance(self, values: Mapping[str, Any]) -> None:
        ready = []
        for entry in self._groups:
            group = entry.group
            if entry.task is not None or group.speculative and group.speculate_with:
                continue
            if set(group.ready_after) <= self._done and all(v in values for v in group.waits_on):
                ready.append(entry)
        self._prefill(ready, values)

    def _prefill(self, entries: list[_Group], values: Mapping[str, Any]) -> None:
        """Pin the entries (and their heads, first): static prompts at once, the others once
        a worker thread has rendered them off the event loop (in the same order)."""
        due: list[_Group] = []
        for entry in entries:
            for member in (entry.head, entry):
                if (member is not None and not member.started and not member.released
                        and member not in due):
                    due.append(member)
        for member in [m for m in due if _is_static(m.group)]:
            self._pin(member, list(member.group.token_ids))
            due.remove(member)
        if not due:
            return
        for member in due:
            member.rendering = True
        task = asyncio.ensure_future(self._render_and_pin(due, dict(values)))
        self._rendering.add(task)
        task.add_done_callback(self._rendering.discard)

    async def _render_and_pin(self, due: list[_Group], values: Mapping[str, Any]) -> None:
        rendered = await off_loop(self._render_all, due, values)
        for entry, ids in zip(due, rendered, strict=True):
            entry.rendering = False
            if entry.task is None and not entry.released and ids is not None:
                self._pin(entry, ids)

    def _render_all(self, entries: list[_Group], values: Mapping[str, Any]
                    ) -> list[list[int] | None]:
        rendered: list[list[int] | None] = []
        for entry in entries:
            try:
                rendered.append(render_segments(self.tokenizer, entry.group.segments, values))
            except Exception as exc:  # a value the prefix needs is not there: skip the group
                entry.trace.error = f"{type(exc).__name__}: {exc}"
                rendered.append(None)
        return rendered

    def _pin(self, entry: _Group, ids: list[int]) -> None:
        # a partial last page is never shared: its consumers would compute it again
        entry.ids = tuple(ids[:len(ids) - len(ids) % self.page_size])
        if not entry.ids:
            return
        entry.trace.start = self.clock()
        entry.task = self._acquire(entry, EAGER_PRIORITY)
        entry.task.add_done_callback(lambda task, e=entry: self._record(e, task))
        self.traces.append(entry.trace)

    def _acquire(self, entry: _Group, priority: int) -> asyncio.Task[PrefixHandle]:
        assert entry.ids is not None
        task = self.pool.acquire(entry.ids, priority)
        entry.acquired = True
        entry.trace.shared = self.pool.is_shared(entry.ids)
        return task

    def _record(self, entry: _Group, task: asyncio.Task[PrefixHandle]) -> None:
        if task.cancelled():
            entry.trace.error = "cancelled"
        elif task.exception() is not None:
            entry.trace.error = str(task.exception())
        else:
            handle = task.result()
            entry.trace.ready = self.clock()
            entry.trace.tokens = len(handle.token_ids)
            # a pin another run made costs this run nothing
            entry.trace.cached_tokens = entry.trace.tokens if entry.trace.shared else \
                handle.cached_tokens

    def _release(self, entry: _Group) -> None:
        entry.released = True
        entry.trace.released = self.clock()
        if entry.acquired and entry.ids is not None:
            self.pool.release(entry.ids)
        elif entry.task is not None:
            entry.task.cancel()


def _is_static(group: PrefixGroup) -> bool:
    return all(segment.kind == "static" for segment in group.segments)
