"""A request's engine-side state and the checks a new request must pass.

Every check raises a `RequestError` (engine/api.py) with a precise message before the
request touches the scheduler, so a bad request never disturbs the others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from engine.api import (
    EmptyPromptError,
    Generation,
    PromptTooLongError,
    RequestError,
    RequestFailedError,
    SamplingParams,
)
from engine.constraints import Constraint
from engine.detokenize import TextStream
from engine.kv.block_pool import pages_for
from engine.sampling import check_sampling, row_key
from engine.sequence import Sequence


class StepOutput(NamedTuple):
    request_id: str
    token_ids: list[int]  # tokens generated this step
    text: str  # text delta safe to show
    finished: Generation | None = None
    error: RequestFailedError | None = None  # set when the request failed (finished too)


@dataclass
class Request:
    seq: Sequence
    stream: TextStream
    constraint: Constraint | None = None
    seed: int = 0  # decides a sampled request's noise (engine.sampling.row_key)

    @property
    def request_id(self) -> str:
        return self.seq.request_id

    def noise_key(self) -> int:
        """The key of the token this request draws next: at the position after its computed
        tokens."""
        return row_key(self.seed, self.seq.num_computed_tokens)

    def accept(self, token: int, logprob: float, eos_token_ids: tuple[int, ...],
               max_context: int) -> str | None:
        """Append a sampled token; return the finish reason if it ends the request."""
        seq, sampling = self.seq, self.seq.sampling
        seq.append_token(token)
        if sampling.logprobs:
            seq.logprobs.append(logprob)
        reason = None
        if self.constraint is not None and (not self.constraint.accept(token)
                                            or self.constraint.is_terminated):
            reason = "stop"
        if token in sampling.stop_token_ids or (not sampling.ignore_eos
                                                 and token in eos_token_ids):
            reason = "stop"
        if self.stream.push(token):
            reason = "stop"
        if reason is None and (seq.num_output_tokens >= sampling.max_tokens
                               or seq.num_tokens >= max_context):
            reason = "length"
        return reason

    def generation(self, finish_reason: str) -> Generation:
        seq = self.seq
        now = time.perf_counter()
        first = seq.first_token_time
        return Generation(
            token_ids=seq.output_ids,
            text=self.stream.text,
            finish_reason=finish_reason,
            prompt_tokens=seq.num_prompt_tokens,
            cached_tokens=seq.num_cached_tokens,
            logprobs=list(seq.logprobs) if seq.sampling.logprobs else None,
            first_token_s=(first - seq.submit_time) if first is not None else 0.0,
            decode_s=(now - first) if first is not None else 0.0,
            top_logprobs=list(seq.top_logprobs) if seq.sampling.top_logprobs else None,
        )


@dataclass(frozen=True)
class Limits:
    vocab_size: int
    max_context: int
    page_size: int
    pool_pages: int


def check_prompt(token_ids: Any, limits: Limits) -> list[int]:
    return check_extended([], token_ids, limits)


def check_extended(checked: list[int], token_ids: Any, limits: Limits) -> list[int]:
    """`checked` (a prompt `check_prompt` passed) followed by `token_ids`, checked as one
    prompt without reading `checked` again."""
    if isinstance(token_ids, str | bytes) or not hasattr(token_ids, "__len__"):
        raise RequestError("token_ids must be a sequence of integer token ids")
    ids = list(token_ids)
    if not ids and not checked:
        raise EmptyPromptError("the prompt is empty: give at least one token")
    if ids and not _all_in_vocabulary(ids, limits.vocab_size):
        for i, t in enumerate(ids, start=len(checked)):
            if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < limits.vocab_size:
                raise RequestError(f"token id {t!r} at position {i} is outside the "
                                      f"vocabulary (0..{limits.vocab_size - 1})")
    total = len(checked) + len(ids)
    if total >= limits.max_context:
        raise PromptTooLongError(f"the prompt has {total} tokens but the model's context is "
                                 f"{limits.max_context} tokens, one of them for the reply")
    return checked + ids


def _all_in_vocabulary(ids: list[Any], vocab_size: int) -> bool:
    """Whether every id is a plain int in range (builtins only: long prompts stay cheap)."""
    return set(map(type, ids)) == {int} and min(ids) >= 0 and max(ids) < vocab_size


def check_request(token_ids: Any, sampling: SamplingParams, limits: Limits) -> list[int]:
    ids = check_prompt(token_ids, limits)
    try:
        check_sampling(sampling, limits.max_context, limits.vocab_size)
    except ValueError as error:
        raise RequestError(str(error)) from None
    total = min(len(ids) + sampling.max_tokens, limits.max_context)
    needed = pages_for(total, limits.page_size)
    if needed > limits.pool_pages:
        raise PromptTooLongError(f"the request needs up to {needed} KV pages ({total} tokens) but "
                              f"the engine has only {limits.pool_pages}")
    return ids


def is_constrained(sampling: SamplingParams) -> bool:
    return any(x is not None for x in (sampling.regex, sampling.json_schema, sampling.choices,
                                       sampling.structural_tag))
