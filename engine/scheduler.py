"""Continuous batching: which sequences compute how many tokens in the next step.

Each step spends at most `max_batch_tokens` tokens. Running sequences go first, decodes
before prefill chunks, higher priority first; then waiting sequences are admitted in
priority order (highest first, then arrival) while pages and budget last. A prompt longer
than `prefill_chunk` (or than the budget left) is computed in chunks over several steps.
When a running sequence needs a page and none is free (after evicting cached prefixes), the
lowest-priority, latest running sequence not yet scheduled is preempted by recompute: it
loses its pages and waits again with all its tokens.

A waiting sequence whose next `SHARED_PAGES_TO_WAIT` uncached pages are the very tokens a
running sequence is still prefilling waits for them to be computed and cached rather than
computing them a second time (many requests with one new long prefix arriving together: a
batch of runs, a fan-out of branches).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from engine.kv.manager import KVManager
from engine.sequence import Sequence, SequenceStatus

SHARED_PAGES_TO_WAIT = 1


@dataclass
class ScheduledChunk:
    seq: Sequence
    start: int  # position of the first token computed
    num_tokens: int

    @property
    def end(self) -> int:
        return self.start + self.num_tokens


@dataclass
class SchedulerOutput:
    chunks: list[ScheduledChunk] = field(default_factory=list)
    preempted: list[Sequence] = field(default_factory=list)
    ready: list[Sequence] = field(default_factory=list)  # admitted with nothing to compute


class WaitingQueue:
    """Waiting sequences, highest priority first, then first come first served."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Sequence]] = []

    def __len__(self) -> int:
        return len(self._heap)

    def __iter__(self):
        return (entry[2] for entry in self._heap)

    def push(self, seq: Sequence) -> None:
        heapq.heappush(self._heap, (-seq.priority, seq.arrival, seq))

    def peek(self) -> Sequence:
        return self._heap[0][2]

    def pop(self) -> Sequence:
        return heapq.heappop(self._heap)[2]

    def remove(self, request_id: str) -> Sequence | None:
        for i, (_, _, seq) in enumerate(self._heap):
            if seq.request_id == request_id:
                self._heap.pop(i)
                heapq.heapify(self._heap)
                return seq
        return None


class Scheduler:
    def __init__(self, kv: KVManager, max_num_seqs: int, max_batch_tokens: int,
                 prefill_chunk: int) -> None:
        if min(max_num_seqs, max_batch_tokens, prefill_chunk) < 1:
            raise ValueError("max_num_seqs, max_batch_tokens and prefill_chunk must be >= 1")
        self.kv = kv
        self.max_num_seqs = max_num_seqs
        self.max_batch_tokens = max_batch_tokens
        self.prefill_chunk = prefill_chunk
        self.waiting = WaitingQueue()
        self.running: list[Sequence] = []
        self.num_preemptions = 0

    def has_work(self) -> bool:
        return bool(self.waiting) or bool(self.running)

    def add(self, seq: Sequence) -> None:
        seq.status = SequenceStatus.WAITING
        self.waiting.push(seq)

    def add_running(self, seq: Sequence) -> None:
        """A sequence that already holds its pages (a fork)."""
        seq.status = SequenceStatus.RUNNING
        self.running.append(seq)

    def finish(self, seq: Sequence) -> None:
        if seq in self.running:
            self.running.remove(seq)
        self.kv.release(seq)
        seq.status = SequenceStatus.FINISHED

    def abort(self, request_id: str) -> Sequence | None:
        seq = self.waiting.remove(request_id)
        if seq is None:
            seq = next((s for s in self.running if s.request_id == request_id), None)
        if seq is not None:
            self.finish(seq)
        return seq

    def schedule(self) -> SchedulerOutput:
        out = SchedulerOutput()
        budget = self._schedule_running(out, self.max_batch_tokens)
        self._admit_waiting(out, budget)
        return out

    def _chunk_size(self, seq: Sequence, budget: int) -> int:
        return min(seq.num_uncomputed, budget, self.prefill_chunk)

    def _schedule_running(self, out: SchedulerOutput, budget: int) -> int:
        pending = sorted(self.running, key=lambda s: (not s.is_decoding, -s.priority, s.arrival))
        pending.reverse()  # pop() takes the most urgent; victims come from the front
        while pending and budget > 0:
            seq = pending.pop()
            n = self._chunk_size(seq, budget)
            while not self.kv.can_grow(seq, n):
                victim = self._pick_victim(pending, seq)
                self._preempt(victim, out)
                if victim is seq:
                    break
                pending.remove(victim)
            else:
                out.chunks.append(ScheduledChunk(seq, seq.num_computed_tokens, n))
                self.kv.grow(seq, n)
                budget -= n
        return budget

    @staticmethod
    def _pick_victim(pending: list[Sequence], seq: Sequence) -> Sequence:
        if not pending:
            return seq
        victim = min(pending, key=lambda s: (s.priority, -s.arrival))
        return seq if victim.priority > seq.priority else victim

    def _preempt(self, seq: Sequence, out: SchedulerOutput) -> None:
        self.running.remove(seq)
        self.kv.release(seq)
        seq.reset_for_recompute()
        self.waiting.push(seq)
        out.preempted.append(seq)
        self.num_preemptions += 1

    def _admit_waiting(self, out: SchedulerOutput, budget: int) -> None:
        deferred: list[Sequence] = []
        try:
            self._admit(out, budget, deferred)
        finally:
            for seq in deferred:
                self.waiting.push(seq)

    def _admit(self, out: SchedulerOutput, budget: int, deferred: list[Sequence]) -> None:
        # the running sequences with prompt tokens still to compute: the only ones a waiting
        # sequence may wait for (computed counts do not move while a step is planned)
        prefilling = [s for s in self.running if s.num_computed_tokens < s.num_prompt_tokens]
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs:
            seq = self.waiting.peek()
            if seq in out.preempted:
                return
            cached = self.kv.take_cached_prefix(seq)
            if seq.num_preemptions == 0:
                seq.num_cached_tokens = cached
            n = self._chunk_size(seq, budget)
            wait = bool(n) and self._computed_by_another(seq, prefilling)
            if wait or n and not self.kv.can_grow(seq, n):
                self.kv.release(seq)
                seq.num_computed_tokens = 0
                if not wait:
                    return
                deferred.append(self.waiting.pop())
                continue
            self.waiting.pop()
            seq.status = SequenceStatus.RUNNING
            self.running.append(seq)
            if seq.num_computed_tokens < seq.num_prompt_tokens:
                prefilling.append(seq)
            if n == 0:
                out.ready.append(seq)
                continue
            out.chunks.append(ScheduledChunk(seq, seq.num_computed_tokens, n))
            self.kv.grow(seq, n)
            budget -= n

    def _computed_by_another(self, seq: Sequence, prefilling: list[Sequence]) -> bool:
        """Whether a running sequence is still prefilling the next uncached pages of `seq`."""
        start = seq.num_computed_tokens
        end = start + SHARED_PAGES_TO_WAIT * self.kv.page_size
        if end > seq.max_cached_prefix:
            return False
        ids = seq.token_ids
        pages, head = ids[start:end], None
        for other in prefilling:
            if not (other.num_computed_tokens < end <= other.num_prompt_tokens
                    and other.token_ids[start:end] == pages):
                continue  # the pages to wait for first: most others differ there
            head = ids[:start] if head is None else head
            if other.token_ids[:start] == head:
                return True
        return False
