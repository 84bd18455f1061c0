"""The synchronous engine: requests in, one scheduled model step at a time, tokens out.

`LLMEngine` is single-threaded: call its methods from one thread (`AsyncEngine` in
engine/async_engine.py runs it in a background thread). Only `check` may be called from
another thread meanwhile.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence as Seq
from typing import TYPE_CHECKING

import torch

from engine.api import (
    ChoiceScores,
    ConstraintError,
    EngineOverloadedError,
    EngineStats,
    Generation,
    PrefixHandle,
    RequestError,
    RequestFailedError,
    SamplingParams,
)
from engine.batching import sampling_rows
from engine.config import EngineConfig
from engine.constraints import Constraint, GrammarCompiler, allowed_tokens
from engine.detokenize import TextStream
from engine.kv.block_pool import BlockPool, PageCopy
from engine.kv.manager import KVManager
from engine.kv.radix_cache import RadixNode
from engine.overlap import OverlapDecoder, StepTokens
from engine.requests import (
    Limits,
    Request,
    StepOutput,
    check_extended,
    check_prompt,
    check_request,
    is_constrained,
)
from engine.sampling import Sampler
from engine.scheduler import ScheduledChunk, Scheduler, SchedulerOutput
from engine.sequence import Sequence, SequenceKind, SequenceStatus
from engine.token_scores import apply_logit_bias, top_alternatives

if TYPE_CHECKING:
    import xgrammar as xgr

    from engine.models.loader import LoadedModel

_PREFILL_ONLY = SamplingParams(max_tokens=0)
log = logging.getLogger(__name__)


class LLMEngine:
    def __init__(self, config: EngineConfig | None = None, *,
                 loaded: LoadedModel | None = None) -> None:
        """`loaded` reuses an already loaded model (`engine.models.loader.load_model`)."""
        from engine.runner import ModelRunner

        self.config = config or EngineConfig()
        if loaded is None:
            from engine.models.loader import load_model

            loaded = load_model(self.config)
        self.loaded = loaded
        self.runner = ModelRunner(self.config, loaded)
        self.tokenizer = loaded.tokenizer
        self.model_name: str = loaded.name
        self.eos_token_ids = tuple(loaded.eos_token_ids)
        pool = BlockPool(self.runner.num_pages, self.runner.page_size)
        self.kv = KVManager(pool, self.config.enable_prefix_cache)
        self.scheduler = Scheduler(self.kv, self.config.max_num_seqs,
                                   self.config.max_batch_tokens, self.config.prefill_chunk)
        self.limits = Limits(vocab_size=int(loaded.model_config.vocab_size),
                             max_context=loaded.model_config.max_position_embeddings,
                             page_size=pool.page_size, pool_pages=pool.capacity)
        self.sampler = Sampler()
        self._grammars = None if self.tokenizer is None else GrammarCompiler(
            self.tokenizer, self.limits.vocab_size, self.eos_token_ids)
        self.requests: dict[str, Request] = {}
        self.handles: dict[str, PrefixHandle] = {}  # finished prefill requests
        self._pinned: dict[int, RadixNode | None] = {}
        self._branches: dict[str, list[Request]] = {}  # scoring root -> children to start
        self._ids = itertools.count()
        self._pending: list[StepOutput] = []
        overlap = self.config.overlap_decode
        if overlap is None:
            overlap = self.runner.device.type == "cuda"
        self.overlap = OverlapDecoder(self.runner, self.kv, self.limits.max_context, overlap,
                                      self.sampler)
        self.counters = EngineStats()
        self.warmup_s = 0.0
        warm = self.config.warm_up
        if warm or (warm is None and self.runner.device.type == "cuda"):
            from engine.warmup import warm_up

            self.warmup_s = warm_up(self)

    @property
    def page_size(self) -> int:
        return self.kv.page_size

    @property
    def max_context(self) -> int:
        return self.limits.max_context

    # -- submitting ---------------------------------------------------------------------------
    def check(self, token_ids: Seq[int], sampling: SamplingParams) -> None:
        """Raise the `RequestError` that `add_request` would raise. Safe to call from another
        thread while the engine steps (it reads only what never changes)."""
        self._checked(token_ids, sampling)

    def _checked(self, token_ids: Seq[int], sampling: SamplingParams
                 ) -> tuple[list[int], xgr.CompiledGrammar | None]:
        ids = check_request(token_ids, sampling, self.limits)
        return ids, self._grammar(sampling)

    def add_request(self, token_ids: Seq[int], sampling: SamplingParams | None = None,
                    priority: int = 0, request_id: str | None = None) -> str:
        """Queue a generation; raise a `RequestError` for a bad request."""
        sampling = sampling or SamplingParams()
        ids, grammar = self._checked(token_ids, sampling)
        return self._queue_generation(ids, sampling, grammar, priority, request_id)

    def _queue_generation(self, ids: list[int], sampling: SamplingParams,
                          grammar: xgr.CompiledGrammar | None, priority: int,
                          request_id: str | None) -> str:
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
                  request_id: str | None = None, top_logprobs: int = 0) -> str:
        """Queue scoring `continuation` after `token_ids`; the finished generation's
        `logprobs` hold one log-probability per continuation token (and `top_logprobs` that
        many alternatives each)."""
        prefix = check_prompt(token_ids, self.limits)
        if not continuation:
            raise RequestError("a continuation to score is empty")
        full = check_prompt([*prefix, *continuation], self.limits)
        sampling = SamplingParams(max_tokens=0, logprobs=True, top_logprobs=top_logprobs)
        request = self._new_request(full, sampling, priority, request_id, SequenceKind.SCORE)
        request.seq.score_from = len(prefix)
        self.scheduler.add(request.seq)
        return request.request_id

    def add_score_group(self, token_ids: Seq[int], continuations: Seq[Seq[int]],
                        priority: int = 0, request_ids: Seq[str] | None = None,
                        root_id: str | None = None) -> list[str]:
        """Queue scoring each continuation after `token_ids`, the prompt computed once: a root
        request (`root_id`) computes the prompt's uncached tail and the first token of every
        continuation; each continuation longer than one token then continues on a copy of the
        root's pages. The finished generations are those `add_score` gives; the root's own
        says how much of the prompt the cache served. No root without continuations."""
        prefix = check_prompt(token_ids, self.limits)
        if not continuations:
            return []
        if not all(continuations):
            raise RequestError("a continuation to score is empty")
        fulls = [check_extended(prefix, c, self.limits) for c in continuations]
        ids = list(request_ids) if request_ids is not None else [None] * len(fulls)
        sampling = SamplingParams(max_tokens=0, logprobs=True)
        children = []
        for full, request_id in zip(fulls, ids, strict=True):
            child = self._new_request(full, sampling, priority, request_id, SequenceKind.SCORE)
            child.seq.score_from = len(prefix) + 1
            child.seq.kept_logprobs = 1
            children.append(child)
        root = self._new_request(prefix, SamplingParams(max_tokens=0), priority, root_id,
                                 SequenceKind.SCORE)
        root.seq.score_from = len(prefix)
        root.seq.branch_targets = tuple(c[0] for c in continuations)
        self._branches[root.request_id] = children
        self.scheduler.add(root.seq)
        return [c.request_id for c in children]

    def _branch(self, root: Sequence, reason: str) -> None:
        """Start the children of a finished scoring root on copies of its pages."""
        children = self._branches.pop(root.request_id, [])
        for child, first in zip(children, root.branch_logprobs or [None] * len(children),
                                strict=True):
            seq = child.seq
            if seq.status is SequenceStatus.FINISHED:
                continue  # aborted meanwhile
            if reason != "stop" or first is None:
                self._pending.append(self._finish(child, "abort" if reason == "stop"
                                                  else reason))
                continue
            seq.logprobs = [first]
            if seq.num_tokens == root.num_tokens + 1:
                seq.num_cached_tokens = seq.num_tokens
                self._pending.append(self._finish(child, "stop"))
            elif self.kv.can_fork(root):
                copy = self.kv.fork(root, seq)
                seq.num_cached_tokens = seq.num_computed_tokens
                if copy is not None:
                    self._copy_page(copy)
                self.scheduler.add_running(seq)
            else:
                self.scheduler.add(seq)  # no free page to copy into: computed from the cache

    def _new_request(self, ids: list[int], sampling: SamplingParams, priority: int,
                     request_id: str | None, kind: SequenceKind) -> Request:
        request_id = request_id if request_id is not None else f"req-{next(self._ids)}"
        if request_id in self.requests:
            raise RequestError(f"request id {request_id!r} is already in use")
        seq = Sequence(request_id, ids, sampling, priority, kind)
        request = Request(seq, TextStream(self.tokenizer, tuple(sampling.stop)))
        if not sampling.greedy:
            request.seed = sampling.seed if sampling.seed is not None else hash(
                (self.config.seed, request_id, next(self._ids)))
        self.requests[request_id] = request
        self.counters.prompt_tokens += len(ids)
        return request

    def _grammar(self, sampling: SamplingParams) -> xgr.CompiledGrammar | None:
        if not is_constrained(sampling):
            return None
        if self._grammars is None:
            raise ConstraintError(f"model {self.model_name!r} has no tokenizer, so it cannot "
                                  "follow a regex, JSON schema or choices")
        return self._grammars.compile(sampling)

    def clear_prefix_cache(self) -> int:
        """Forget every cached prefix not in use (a cold start for benchmarks); return the
        pages freed."""
        return self.kv.clear_cache()

    # -- running ------------------------------------------------------------------------------
    def has_unfinished(self) -> bool:
        return (self.scheduler.has_work() or bool(self._pending)
                or self.overlap.inflight is not None)

    def step(self) -> list[StepOutput]:
        outputs, self._pending = self._pending, []
        if self.overlap.inflight is not None:
            return outputs + self._accept(self.overlap.advance(self.scheduler))
        plan = self.scheduler.schedule()
        outputs += self._settle(plan)
        if plan.chunks:
            outputs += self._postprocess(plan.chunks)
        return outputs

    def _settle(self, plan: SchedulerOutput) -> list[StepOutput]:
        """What a schedule decides without the model: preempted scores start over, and
        prefills whose every token is cached finish."""
        self.counters.steps += 1
        for seq in plan.preempted:
            if seq.kind is SequenceKind.SCORE:
                del seq.logprobs[seq.kept_logprobs:]
                seq.top_logprobs.clear()
                seq.branch_logprobs = []
        return [self._finish(self.requests[seq.request_id], "stop") for seq in plan.ready]

    def _postprocess(self, chunks: list[ScheduledChunk]) -> list[StepOutput]:
        """Run the model on `chunks`, publish their computed pages, finish what needs no
        token, and sample the others."""
        out = self.runner.run(chunks, self.kv.tables)
        for chunk in chunks:
            chunk.seq.num_computed_tokens += chunk.num_tokens
            self.kv.publish(chunk.seq)
        seqs, logits = sampling_rows(chunks, out)
        outputs = [self._finish(self.requests[c.seq.request_id], "stop") for c in chunks
                   if not c.seq.samples and c.seq.num_uncomputed == 0
                   and c.seq.status is not SequenceStatus.FINISHED]
        if not seqs:
            return outputs
        return outputs + self._sample(logits, [self.requests[s.request_id] for s in seqs])

    def _sample(self, logits: torch.Tensor, requests: list[Request]) -> list[StepOutput]:
        overlapped = self.overlap.takes(requests)
        try:
            if overlapped:
                self.overlap.start(logits, requests)
            else:
                chosen = self._choose(logits, requests)
        except Exception as error:  # one request's failure must not end the step
            return self._sample_apart(logits, requests, error)
        return self._accept(self.overlap.advance(self.scheduler) if overlapped else chosen)

    def _sample_apart(self, logits: torch.Tensor, requests: list[Request], error: Exception
                      ) -> list[StepOutput]:
        """A batch whose choice raised: each request chooses alone, and only those that still
        fail are failed (choosing changes no request's state, so it can be repeated)."""
        if len(requests) == 1:
            return [self._fail(requests[0], error)]
        return [out for i, request in enumerate(requests)
                for out in self._sample(logits[i:i + 1], [request])]

    def _choose(self, logits: torch.Tensor, requests: list[Request]) -> StepTokens:
        # grammar masks are built on the host and applied on the logits' device
        allowed = allowed_tokens([r.constraint for r in requests], logits.shape[-1])
        params = [r.seq.sampling for r in requests]
        logits = apply_logit_bias(logits, params)
        result = self.sampler(logits, params, [r.noise_key() for r in requests], allowed)
        tops = top_alternatives(logits, [p.top_logprobs if p.logprobs else 0 for p in params])
        for request, top in zip(requests, tops, strict=True):
            if request.seq.sampling.top_logprobs and \
                    request.seq.status is not SequenceStatus.FINISHED:
                request.seq.top_logprobs.append(top)
        return StepTokens(requests, result.token_ids, result.logprobs)

    def _drain(self) -> None:
        """Read the step in flight (its outputs come with the next `step`)."""
        tokens = self.overlap.drain()
        if tokens is not None:
            self._pending.extend(self._accept(tokens))

    def _accept(self, step: StepTokens) -> list[StepOutput]:
        """Append each request's token; requests finished meanwhile (an abort, or the token
        before this one, for a step that ran overlapped) drop theirs."""
        outputs = []
        for request, token, logprob in zip(*step, strict=True):
            if request.seq.status is SequenceStatus.FINISHED:
                continue
            try:
                reason = request.accept(token, logprob, self.eos_token_ids,
                                        self.limits.max_context)
            except Exception as error:  # e.g. its constraint broke: it alone fails
                outputs.append(self._fail(request, error))
                continue
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
        if seq.branch_targets:
            self._branch(seq, reason)
        self.scheduler.finish(seq)
        self.requests.pop(seq.request_id, None)
        self.counters.cached_tokens += seq.num_cached_tokens
        return StepOutput(seq.request_id, new_ids or [], request.stream.delta(final=True),
                          request.generation(reason))

    def _fail(self, request: Request, error: Exception) -> StepOutput:
        """End `request` alone with an error its caller receives; the step goes on."""
        log.warning("request %s failed alone: %r", request.request_id, error, exc_info=error)
        out = self._finish(request, "abort")
        failed = RequestFailedError(f"the request failed while choosing its next token: "
                                    f"{type(error).__name__}: {error}")
        return out._replace(error=failed)

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
                if out.error is not None and out.request_id in waiting:
                    raise out.error
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
            raise RequestError(f"{len(prompts)} prompts but {len(params)} sampling params")
        token_lists = [self.tokenizer.encode(p, add_special_tokens=False) if isinstance(p, str)
                       else list(p) for p in prompts]
        checked = []
        for i, (ids, p) in enumerate(zip(token_lists, params, strict=True)):
            try:
                checked.append(self._checked(ids, p))
            except RequestError as error:
                raise type(error)(f"prompt {i}: {error}") from None
        ids = [self._queue_generation(t, p, grammar, priority, None)
               for (t, grammar), p in zip(checked, params, strict=True)]
        done = self.run_until_done(ids)
        return [done[i] for i in ids]

    def prefill(self, token_ids: Seq[int], priority: int = 0) -> PrefixHandle:
        """Compute the KV of `token_ids` (reusing any cached prefix) and pin its whole pages."""
        request_id = self.add_prefill(token_ids, priority)
        self.run_until_done([request_id])
        return self.handles.pop(request_id)

    def release(self, handle: PrefixHandle) -> None:
        if handle.handle_id not in self._pinned:
            raise RequestError(f"prefix handle {handle.handle_id} is not pinned "
                               "(released twice?)")
        node = self._pinned.pop(handle.handle_id)
        if node is not None:
            self.kv.unpin(node)

    def score(self, token_ids: Seq[int], continuations: Seq[Seq[int]],
              priority: int = 0) -> ChoiceScores:
        """Summed log-probability of each continuation after `token_ids`."""
        root = f"req-{next(self._ids)}"
        ids = self.add_score_group(token_ids, continuations, priority, root_id=root)
        if not ids:
            return ChoiceScores([], 0)
        done = self.run_until_done([root, *ids])
        return ChoiceScores([sum(done[i].logprobs or []) for i in ids],
                            done[root].cached_tokens)

    def fork(self, request_id: str, sampling: SamplingParams | None = None,
             new_request_id: str | None = None) -> str:
        """A new request continuing from everything `request_id` holds now (prompt and
        tokens so far); it shares the parent's whole pages and copies its partial last one."""
        self._drain()
        parent = self.requests.get(request_id)
        if parent is None or not parent.seq.is_decoding:
            raise RequestError(f"request {request_id!r} is not running in decode; only a "
                               "decoding request can be forked")
        sampling = sampling or parent.seq.sampling
        ids, grammar = self._checked(parent.seq.token_ids, sampling)
        if not self.kv.can_fork(parent.seq):
            raise EngineOverloadedError("no free KV page to fork into")
        child = self._new_request(ids, sampling, parent.seq.priority, new_request_id,
                                  SequenceKind.GENERATE)
        if grammar is not None:
            child.constraint = Constraint(grammar)
        copy = self.kv.fork(parent.seq, child.seq)
        child.seq.num_cached_tokens = child.seq.num_computed_tokens
        if copy is not None:
            self._copy_page(copy)
        self.scheduler.add_running(child.seq)
        return child.request_id

    def _copy_page(self, copy: PageCopy) -> None:
        self.runner.copy_page(copy.src, copy.dst, copy.num_tokens)

    def abort(self, request_id: str) -> bool:
        """Stop a request; its finished output (reason "abort") comes with the next step."""
        request = self.requests.get(request_id)
        if request is None:
            return False
        self.scheduler.abort(request_id)
        self._pending.append(self._finish(request, "abort"))
        return True

    # -- introspection ------------------------------------------------------------------------
    def stats(self) -> EngineStats:
        c = self.counters
        return EngineStats(
            pages_total=self.kv.pool.capacity, pages_in_use=self.kv.pool.num_used,
            running=len(self.scheduler.running), waiting=len(self.scheduler.waiting),
            prompt_tokens=c.prompt_tokens, cached_tokens=c.cached_tokens,
            generated_tokens=c.generated_tokens, steps=c.steps + self.overlap.launched,
            extra={"preemptions": float(self.scheduler.num_preemptions),
                   "cached_pages": float(self.kv.cache.num_pages if self.kv.cache else 0),
                   "overlapped_steps": float(self.overlap.launched)})
