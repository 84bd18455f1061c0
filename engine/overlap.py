"""Overlapped decoding: the next decode step is launched before the host reads the tokens of
the step in flight, so that reading, detokenising and building the next batch run while the
GPU computes instead of between its steps.

The launched step takes each sequence's new token straight from device memory; the host
learns it one step later. A sequence that turns out to have finished on that token (EOS, a
stop string) drops the result of its extra step, whose K/V went into a page it owns and
that is released with it (later work on the page is ordered after it on the stream).

Unconstrained generation overlaps, greedy and sampled (see `overlappable`: a sampled row's
draw happens on the device, keyed by its position), and only while nothing else waits
for the scheduler: every running sequence is in the step, no request waits for admission,
and each next token finds a page without preempting anyone. Anything else reads the step in
flight first and goes through the scheduler as usual.

Invariant: while a step is in flight, each of its live sequences has `num_computed_tokens ==
len(token_ids) + 1` (the token it is computing has not been appended yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from engine.decode_batch import DecodeBatches
from engine.kv.manager import KVManager
from engine.ops import fused_ops_enabled
from engine.requests import Request
from engine.runner import ModelRunner
from engine.sampling import Sampler
from engine.scheduler import ScheduledChunk, Scheduler
from engine.sequence import Sequence, SequenceKind, SequenceStatus


class StepTokens(NamedTuple):
    """A step's chosen token and its log-probability, one per request."""

    requests: list[Request]
    token_ids: list[int]
    logprobs: list[float]


@dataclass
class InflightStep:
    requests: list[Request]
    tokens: torch.Tensor  # [n] int64, on the device
    host: torch.Tensor  # [2, n] float64 (token ids, log-probabilities), filled asynchronously
    ready: torch.cuda.Event | None  # recorded after the copy into `host` (None on the CPU)

    def read(self) -> StepTokens:
        if self.ready is not None:
            self.ready.synchronize()
        token_ids, logprobs = self.host.tolist()
        return StepTokens(self.requests, [int(t) for t in token_ids], logprobs)


class OverlapDecoder:
    """The step in flight, and the launch of the next one before its tokens are read."""

    def __init__(self, runner: ModelRunner, kv: KVManager, max_context: int, enabled: bool,
                 sampler: Sampler) -> None:
        self.runner = runner
        self.sampler = sampler
        self.kv = kv
        self.max_context = max_context
        self.enabled = enabled
        self.batches = DecodeBatches(kv.page_size, runner.device, kv.tables)
        self.inflight: InflightStep | None = None
        self.launched = 0  # steps launched before the tokens of the step before were read

    def takes(self, requests: list[Request]) -> bool:
        return self.enabled and all(overlappable(r) for r in requests)

    def start(self, logits: torch.Tensor, requests: list[Request]) -> None:
        self.inflight = draw_step(self.sampler, logits, requests)

    def advance(self, scheduler: Scheduler) -> StepTokens:
        """Launch the next step of the step in flight when nothing else needs the scheduler,
        then read the step in flight's tokens."""
        step, self.inflight = self.inflight, None
        assert step is not None
        members = None if scheduler.waiting else next_members(
            step, scheduler.running, self.max_context)
        if members and self.kv.grow_each_by_one([step.requests[i].seq for i in members]):
            self.inflight = self._launch(step, members)
        return step.read()

    def drain(self) -> StepTokens | None:
        """Read the step in flight, launching nothing after it."""
        step, self.inflight = self.inflight, None
        return step.read() if step is not None else None

    def _launch(self, step: InflightStep, members: list[int]) -> InflightStep:
        requests = [step.requests[i] for i in members]
        chunks = [ScheduledChunk(r.seq, r.seq.num_computed_tokens, 1) for r in requests]
        tokens = step.tokens
        if len(members) < len(step.requests):
            tokens = tokens[torch.tensor(members, device=tokens.device)]
        logits = self.runner.forward(self.batches.next(chunks, tokens))
        for chunk in chunks:
            chunk.seq.num_computed_tokens += 1  # pages are published once tokens are read
        self.launched += 1
        return draw_step(self.sampler, logits, requests)


def draw_step(sampler: Sampler, logits: torch.Tensor, requests: list[Request]) -> InflightStep:
    """The requests' next tokens and their log-probabilities, left on the device with an
    asynchronous copy to the host. All-greedy steps on CUDA take the fused argmax pass (equal
    to `Sampler` up to float32 summation order)."""
    params = [r.seq.sampling for r in requests]
    if fused_ops_enabled(logits) and all(p.greedy for p in params):
        from engine.ops.triton_greedy import greedy_tokens

        tokens, chosen = greedy_tokens(logits)
    else:
        tokens, chosen = sampler.choose(logits, params, [r.noise_key() for r in requests])
    packed = torch.stack((tokens.double(), chosen.double()))
    if not packed.is_cuda:
        return InflightStep(requests, tokens, packed, None)
    host = torch.empty(packed.shape, dtype=packed.dtype, pin_memory=True)
    host.copy_(packed, non_blocking=True)
    ready = torch.cuda.Event()
    ready.record()
    return InflightStep(requests, tokens, host, ready)


def overlappable(request: Request) -> bool:
    seq = request.seq
    sampling = seq.sampling
    return (seq.kind is SequenceKind.GENERATE and request.constraint is None
            and not sampling.logit_bias and not sampling.top_logprobs)


def next_members(step: InflightStep, running: list[Sequence], max_context: int
                 ) -> list[int] | None:
    """Indices into `step.requests` of the sequences to launch the next step for before the
    step's tokens are read; None when every running sequence is not in the step. Sequences
    the step's token certainly finishes (length limits) are left out."""
    members = {id(r.seq) for r in step.requests}
    if any(id(seq) not in members for seq in running):
        return None
    return [i for i, r in enumerate(step.requests) if _continues(r.seq, max_context)]


def _continues(seq: Sequence, max_context: int) -> bool:
    """Whether the sequence may still need a token after the one in flight."""
    return (seq.status is SequenceStatus.RUNNING
            and seq.num_output_tokens + 1 < seq.sampling.max_tokens
            and seq.num_tokens + 2 <= max_context)
