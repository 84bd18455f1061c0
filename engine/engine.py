"""The synchronous engine: requests in, one scheduled model step at a time, tokens out.

`LLMEngine` is single-threaded: call its methods from one thread (the `AsyncEngine` in
`engine/async_engine.py`, re-exported here, runs it in a background thread).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence as Seq
from typing import Any

import torch

from engine.api import EngineStats, Generation, PrefixHandle, SamplingParams
from engine.batching import run_chunks
from engine.config import EngineConfig
from engine.constraints import Constraint, ConstraintError, GrammarCompiler, allowed_tokens
from engine.decode_batch import DecodeBatches
from engine.detokenize import TextStream
from engine.kv.block_pool import BlockPool, PageCopy
from engine.kv.manager import KVManager
from engine.kv.radix_cache import RadixNode
from engine.overlap import InflightStep, greedy_step, next_members, overlappable
from engine.requests import (
    BadRequestError,
    KVUsage,
    Limits,
    Request,
    StepOutput,
    check_prompt,
    check_request,
    context_length,
    is_constrained,
)
from engine.sampling import Sampler, make_generator
from engine.scheduler import ScheduledChunk, Scheduler
from engine.sequence import Sequence, SequenceKind, SequenceStatus

_PREFILL_ONLY = SamplingParams(max_tokens=0)


class LLMEngine:
    def __init__(self, config: EngineConfig | None = None, *, loaded: Any = None,
                 runner: Any = None) -> None:
        """`loaded` reuses an already loaded model (`engine.models.loader.load_model`); `runner`
        replaces the `ModelRunner` (anything with its `forward`, `kv_caches`, `num_pages`
        and `page_size`)."""
        self.config = config or EngineConfig()
        if loaded is None:
            from engine.models.loader import load_model

            loaded = load_model(self.config)
        self.loaded = loaded
        if runner is None:
            from engine.runner import ModelRunner

            runner = ModelRunner(self.config, loaded)
        self.runner = runner
        self.tokenizer = self.loaded.tokenizer
        self.model_name: str = self.loaded.name
        self.eos_token_ids = tuple(self.loaded.eos_token_ids)
        pool = BlockPool(self.runner.num_pages, self.runner.page_size)
        self.kv = KVManager(pool, self.config.enable_prefix_cache)
        self.scheduler = Scheduler(self.kv, self.config.max_num_seqs,
                                   self.config.max_batch_tokens, self.config.prefill_chunk)
        model_config = self.loaded.model_config
        self.limits = Limits(vocab_size=int(model_config.vocab_size),
                             max_context=context_length(model_config),
                             page_size=pool.page_size, pool_pages=pool.capacity)
        self.sampler = Sampler()
        self._grammars: GrammarCompiler | None = None
        self.requests: dict[str, Request] = {}
        self.handles: dict[str, PrefixHandle] = {}  # finished prefill requests
        self._pinned: dict[int, RadixNode | None] = {}
        self._ids = itertools.count()
        self._pending: list[StepOutput] = []
        self._inflight: InflightStep | None = None
        self._decode_batches = DecodeBatches(pool.page_size, self.runner.kv_caches[0][0].device,
                                             self.kv.tables)
        self.overlapped_steps = 0
        self.overlap = self.config.overlap_decode
        if self.overlap is None:
            self.overlap = self.runner.kv_caches[0][0].device.type == "cuda"
        self.counters = EngineStats()

    # -- submitting ---------------------------------------------------------------------------
    def add_request(self, token_ids: Seq[int], sampling: SamplingParams | None = None,
                    priority: int = 0, request_id: str | None = None) -> str:
        """Queue a generation; raise a `ValueError` subclass for a bad request."""
        sampling = sampling or SamplingParams()
        ids = check_request(token_ids, sampling, self.limits)
        return self._queue_generation(ids, sampling, priority, request_id)

    def _queue_generation(self, ids: list[int], sampling: SamplingParams, priority: int,
                          request_id: str | None) -> str:
        """add_request for ids and sampling that check_request has passed."""
        grammar = self._grammar_compiler().compile(sampling) if is_constrained(sampling) else None
        request = self._new_request(ids, sampling, priority, request_id, SequenceKind.GENERATE)
        if grammar is not None:
            request.constraint = Constraint(grammar)
        if sampling.max_tokens == 0:
            self._pending.append(self._finish(request, "length"))
        else:
            self.scheduler.add(request.seq)
        return request.request_id

    def add_prefill(self, token_ids: Seq[int], priority: int = 0,
                    request_id: str | None = None) -> str:
        """Queue computing the KV of `token_ids`; when done, `handles[request_id]` holds its
        pinned `PrefixHandle`."""
        ids = check_prompt(token_ids, self.limits)
        request = self._new_request(ids, _PREFILL_ONLY, priority, request_id,
                                    SequenceKind.PREFILL)
        self.scheduler.add(request.seq)
        return request.request_id

    def add_score(self, token_ids: Seq[int], continuation: Seq[int], priority: int = 0,
                  request_id: str | None = None) -> str:
        """Queue scoring `continuation` after `token_ids`; the finished generation's
        `logprobs` hold one log-probability per continuation token."""
        prefix = check_prompt(token_ids, self.limits)
        if not continuation:
            raise BadRequestError("a continuation to score is empty")
        full = check_prompt([*prefix, *continuation], self.limits)
        sampling = SamplingParams(max_tokens=0, logprobs=True)
        request = self._new_request(full, sampling, priority, request_id, SequenceKind.SCORE)
        request.seq.score_from = len(prefix)
        self.scheduler.add(request.seq)
        return request.request_id

    def _new_request(self, ids: list[int], sampling: SamplingParams, priority: int,
                     request_id: str | None, kind: SequenceKind) -> Request:
        request_id = request_id if request_id is not None else f"req-{next(self._ids)}"
        if request_id in self.requests:
            raise BadRequestError(f"request id {request_id!r} is already in use")
        seq = Sequence(request_id, ids, sampling, priority, kind)
        request = Request(seq, TextStream(self.tokenizer, tuple(sampling.stop)))
        if sampling.temperature > 0:
            seed = sampling.seed if sampling.seed is not None else hash(
                (self.config.seed, request_id, next(self._ids)))
            request.generator = make_generator(seed)
        self.requests[request_id] = request
        self.counters.prompt_tokens += len(ids)
        return request

    def _grammar_compiler(self) -> GrammarCompiler:
        if self.tokenizer is None:
            raise ConstraintError(f"model {self.model_name!r} has no tokenizer, so it cannot "
                                  "follow a regex, JSON schema or choices")
        if self._grammars is None:
            self._grammars = GrammarCompiler(self.tokenizer, self.limits.vocab_size,
                                             self.eos_token_ids)
        return self._grammars

    # -- running ------------------------------------------------------------------------------
    def has_unfinished(self) -> bool:
        return self.scheduler.has_work() or bool(self._pending) or self._inflight is not None

    def step(self) -> list[StepOutput]:
        outputs, self._pending = self._pending, []
        if self._inflight is not None:
            return outputs + self._advance()
        plan = self.scheduler.schedule()
        self.counters.steps += 1
        for seq in plan.preempted:
            if seq.kind is SequenceKind.SCORE:
                seq.logprobs.clear()
        for seq in plan.ready:
            outputs.append(self._finish(self.requests[seq.request_id], "stop"))
        if plan.chunks:
            outputs.extend(self._run_chunks(plan.chunks))
        return outputs

    def _run_chunks(self, chunks: list[ScheduledChunk]) -> list[StepOutput]:
        device = self.runner.kv_caches[0][0].device
        seqs, logits = run_chunks(self.runner, self.kv, chunks, device)
        outputs = []
        for chunk in chunks:
            seq = chunk.seq
            if not seq.samples and seq.num_uncomputed == 0 and seq.status is not \
                    SequenceStatus.FINISHED:
                outputs.append(self._finish(self.requests[seq.request_id], "stop"))
        if not seqs:
            return outputs
        requests = [self.requests[s.request_id] for s in seqs]
        if self.overlap and all(overlappable(r) for r in requests):
            self._inflight = greedy_step(logits, requests)
            return outputs + self._advance()
        # sample on the device; grammar masks are built on the host (constrained batches)
        on_host = any(r.constraint is not None for r in requests)
        return outputs + self._sample(logits.cpu() if on_host else logits, requests)

    def _advance(self) -> list[StepOutput]:
        """Launch the next greedy step of the step in flight when nothing else needs the
        scheduler (engine/overlap.py), then read the step in flight's tokens."""
        step, self._inflight = self._inflight, None
        assert step is not None
        members = None if self.scheduler.waiting else next_members(
            step, self.scheduler.running, self.limits.max_context)
        if members and self.kv.grow_each_by_one([step.requests[i].seq for i in members]):
            self._inflight = self._launch(step, members)
        return self._accept(step.requests, *step.read())

    def _launch(self, step: InflightStep, members: list[int]) -> InflightStep:
        requests = [step.requests[i] for i in members]
        chunks = [ScheduledChunk(r.seq, r.seq.num_computed_tokens, 1) for r in requests]
        tokens = step.tokens
        if len(members) < len(step.requests):
            tokens = tokens[torch.tensor(members, device=tokens.device)]
        logits = self.runner.forward(self._decode_batches.next(chunks, tokens))
        for chunk in chunks:
            chunk.seq.num_computed_tokens += 1  # pages are published once tokens are read
        self.counters.steps += 1
        self.overlapped_steps += 1
        return greedy_step(logits, requests)

    def _drain(self) -> None:
        """Read the step in flight (its outputs come with the next `step`)."""
        if self._inflight is not None:
            step, self._inflight = self._inflight, None
            self._pending.extend(self._accept(step.requests, *step.read()))

    def _sample(self, logits: torch.Tensor, requests: list[Request]) -> list[StepOutput]:
        allowed = allowed_tokens([r.constraint for r in requests], logits.shape[-1])
        result = self.sampler(logits, [r.seq.sampling for r in requests],
                              [r.generator for r in requests], allowed)
        return self._accept(requests, result.token_ids, result.logprobs)

    def _accept(self, requests: list[Request], tokens: list[int], logprobs: list[float]
                ) -> list[StepOutput]:
        """Append each request's token; requests finished meanwhile (an abort, or the token
        before this one, for a step that ran overlapped) drop theirs."""
        outputs = []
        for request, token, logprob in zip(requests, tokens, logprobs, strict=True):
            if request.seq.status is SequenceStatus.FINISHED:
                continue
            reason = request.accept(token, logprob, self.eos_token_ids,
                                    self.limits.max_context)
            if request.seq.num_computed_tokens % self.kv.page_size == 0:
                self.kv.publish(request.seq)  # a page completed (overlapped steps)
            self.counters.generated_tokens += 1
            if reason is not None:
                outputs.append(self._finish(request, reason, [token]))
            else:
                outputs.append(StepOutput(request.request_id, [token], request.stream.delta()))
        return outputs

    def _finish(self, request: Request, reason: str, new_ids: list[int] | None = None
                ) -> StepOutput:
        seq = request.seq
        if seq.kind is SequenceKind.PREFILL and reason == "stop":
            self.handles[seq.request_id] = self._pin(seq)
        self.scheduler.finish(seq)
        self.requests.pop(seq.request_id, None)
        self.counters.cached_tokens += seq.num_cached_tokens
        return StepOutput(seq.request_id, new_ids or [], request.stream.delta(final=True),
                          request.generation(reason))

    def _pin(self, seq: Sequence) -> PrefixHandle:
        node = self.kv.pin_prefix(seq.token_ids)
        handle = PrefixHandle(next(self._ids), tuple(seq.token_ids), seq.num_cached_tokens)
        self._pinned[handle.handle_id] = node
        return handle

    # -- blocking helpers ---------------------------------------------------------------------
    def run_until_done(self, request_ids: Seq[str]) -> dict[str, Generation]:
        """Step until every request in `request_ids` has finished."""
        waiting, done = set(request_ids), {}
        while waiting:
            if not self.has_unfinished():
                raise RuntimeError(f"requests {sorted(waiting)} are not known to the engine")
            for out in self.step():
                if out.finished is not None and out.request_id in waiting:
                    done[out.request_id] = out.finished
                    waiting.discard(out.request_id)
        return done

    def generate(self, prompts: Seq[Seq[int] | str],
                 sampling: SamplingParams | Seq[SamplingParams] | None = None,
                 priority: int = 0) -> list[Generation]:
        """Run a batch of prompts (token ids, or text tokenized as is) to completion. Every
        request is checked before any runs; a bad one raises naming its index."""
        params = list(sampling) if isinstance(sampling, list | tuple) else \
            [sampling or SamplingParams()] * len(prompts)
        if len(params) != len(prompts):
            raise BadRequestError(f"{len(prompts)} prompts but {len(params)} sampling params")
        token_lists = [self.tokenizer.encode(p, add_special_tokens=False) if isinstance(p, str)
                       else list(p) for p in prompts]
        checked = []
        for i, (ids, p) in enumerate(zip(token_lists, params, strict=True)):
            try:
                checked.append(check_request(ids, p, self.limits))
                if is_constrained(p):
                    self._grammar_compiler().compile(p)
            except ValueError as error:
                raise type(error)(f"prompt {i}: {error}") from None
        ids = [self._queue_generation(t, p, priority, None)
               for t, p in zip(checked, params, strict=True)]
        done = self.run_until_done(ids)
        return [done[i] for i in ids]

    def prefill(self, token_ids: Seq[int], priority: int = 0) -> PrefixHandle:
        """Compute the KV of `token_ids` (reusing any cached prefix) and pin its whole pages."""
        request_id = self.add_prefill(token_ids, priority)
        self.run_until_done([request_id])
        return self.handles.pop(request_id)

    def release(self, handle: PrefixHandle) -> None:
        if handle.handle_id not in self._pinned:
            raise ValueError(f"prefix handle {handle.handle_id} is not pinned (released twice?)")
        node = self._pinned.pop(handle.handle_id)
        if node is not None:
            self.kv.unpin(node)

    def score(self, token_ids: Seq[int], continuations: Seq[Seq[int]]) -> list[float]:
        """Summed log-probability of each continuation after `token_ids`."""
        handle = self.prefill(token_ids) if len(continuations) > 1 else None
        try:
            ids = [self.add_score(token_ids, c) for c in continuations]
            done = self.run_until_done(ids)
        finally:
            if handle is not None:
                self.release(handle)
        return [sum(done[i].logprobs or []) for i in ids]

    def fork(self, request_id: str, sampling: SamplingParams | None = None,
             new_request_id: str | None = None) -> str:
        """A new request continuing from everything `request_id` holds now (prompt and
        tokens so far); it shares the parent's whole pages and copies its partial last one."""
        self._drain()
        parent = self.requests.get(request_id)
        if parent is None or not parent.seq.is_decoding:
            raise BadRequestError(f"request {request_id!r} is not running in decode; only a "
                                  "decoding request can be forked")
        sampling = sampling or parent.seq.sampling
        ids = check_request(parent.seq.token_ids, sampling, self.limits)
        if not self.kv.can_fork(parent.seq):
            raise BadRequestError("no free KV page to fork into")
        child = self._new_request(ids, sampling, parent.seq.priority, new_request_id,
                                  SequenceKind.GENERATE)
        if is_constrained(sampling):
            child.constraint = Constraint(self._grammar_compiler().compile(sampling))
        copy = self.kv.fork(parent.seq, child.seq)
        child.seq.num_cached_tokens = child.seq.num_computed_tokens
        if copy is not None:
            self._copy_page(copy)
        self.scheduler.add_running(child.seq)
        return child.request_id

    def _copy_page(self, copy: PageCopy) -> None:
        for k_cache, v_cache in self.runner.kv_caches:
            k_cache[copy.dst, :copy.num_tokens] = k_cache[copy.src, :copy.num_tokens]
            v_cache[copy.dst, :copy.num_tokens] = v_cache[copy.src, :copy.num_tokens]

    def abort(self, request_id: str) -> bool:
        """Stop a request; its finished output (reason "abort") comes with the next step."""
        request = self.requests.get(request_id)
        if request is None:
            return False
        self.scheduler.abort(request_id)
        self._pending.append(self._finish(request, "abort"))
        return True

    # -- introspection ------------------------------------------------------------------------
    def kv_usage(self) -> KVUsage:
        return KVUsage(self.kv.pool.num_used, self.kv.live_tokens(self.scheduler.running),
                       self.kv.page_size)

    def stats(self) -> EngineStats:
        c = self.counters
        return EngineStats(
            pages_total=self.kv.pool.capacity, pages_in_use=self.kv.pool.num_used,
            running=len(self.scheduler.running), waiting=len(self.scheduler.waiting),
            prompt_tokens=c.prompt_tokens, cached_tokens=c.cached_tokens,
            generated_tokens=c.generated_tokens, steps=c.steps,
            extra={"preemptions": float(self.scheduler.num_preemptions),
                   "cached_pages": float(self.kv.cache.num_pages if self.kv.cache else 0),
                   "overlapped_steps": float(self.overlapped_steps)})


from engine.async_engine import AsyncEngine  # noqa: E402  (re-exported; it imports LLMEngine)

__all__ = ["AsyncEngine", "KVUsage", "LLMEngine", "StepOutput"]
