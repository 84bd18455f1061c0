"""What the engine offers its callers (the workflow executor, the HTTP service, the CLI).

`engine.AsyncEngine` implements `EngineAPI`. Callers depend on this module only: the records,
the contract and the errors the engine raises. Token ids in, token ids out: tokenizing and chat
templates are the caller's (the engine only lends its model's tokenizer).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


DEFAULT_PAGE_SIZE = 16  # tokens a KV page holds unless EngineConfig says otherwise


class EngineError(Exception):
    """Base of the errors the engine raises to its callers."""


class RequestError(EngineError, ValueError):
    """A request the engine refuses as given; the message says why (a client error)."""


class EmptyPromptError(RequestError):
    """The prompt has no tokens."""


class PromptTooLongError(RequestError):
    """The prompt (plus what it asks to generate) does not fit the model's context or the
    KV pool."""


class ConstraintError(RequestError):
    """A regex, JSON schema or choice list that cannot be compiled to a grammar."""


class RequestFailedError(RequestError):
    """A request the engine failed alone while it ran (choosing or accepting its next token
    raised, e.g. in its constraint); the other requests of the step carried on."""


class EngineOverloadedError(EngineError):
    """The engine cannot take the request now (closed, or its queue is full): try later."""


GREEDY_BELOW = 1e-5  # a temperature under this decodes greedily (never divides by it)


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 256
    temperature: float = 0.0  # below GREEDY_BELOW (0 included) means greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 means off
    seed: int | None = None
    stop: tuple[str, ...] = ()  # stop strings: never shown in the output text
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False
    logprobs: bool = False
    top_logprobs: int = 0  # with logprobs: this many most likely alternatives per token
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, added to its logit)
    regex: str | None = None  # at most one of regex, json_schema, choices, structural_tag
    json_schema: dict[str, Any] | None = None
    choices: tuple[str, ...] | None = None
    structural_tag: dict[str, Any] | None = None  # the grammar library's structural tag JSON

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_BELOW


TopLogprobs = list[list[tuple[int, float]]]  # per token: (token id, log-probability), best first


@dataclass(frozen=True)
class PrefixHandle:
    """A pinned, fully prefilled prefix. Its pages stay resident until `release`."""

    handle_id: int
    token_ids: tuple[int, ...]
    cached_tokens: int  # how many of its tokens were found already cached


class Generation(NamedTuple):
    token_ids: list[int]
    text: str
    finish_reason: str  # "stop" | "length" | "abort"
    prompt_tokens: int
    cached_tokens: int  # prompt tokens whose KV came from the prefix cache
    logprobs: list[float] | None
    first_token_s: float  # seconds from submit to the first generated token
    decode_s: float
    top_logprobs: TopLogprobs | None = None  # with SamplingParams.top_logprobs


class PromptScores(NamedTuple):
    """Log-probabilities of a prompt's tokens after the first, each given the ones before."""

    logprobs: list[float]
    top_logprobs: TopLogprobs | None


class ChoiceScores(NamedTuple):
    """Each continuation's summed log-probability after one prompt, and how many of the
    prompt's tokens the prefix cache served (the prompt is computed once for all of them)."""

    logprobs: list[float]
    cached_tokens: int


class StreamChunk(NamedTuple):
    token_ids: list[int]
    text: str  # text delta
    finished: Generation | None = None


@dataclass
class EngineStats:
    pages_total: int = 0
    pages_in_use: int = 0
    running: int = 0
    waiting: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generated_tokens: int = 0
    steps: int = 0
    extra: dict[str, float] = field(default_factory=dict)


class EngineAPI(ABC):
    """An engine serving one model. Every method may raise the errors above: `RequestError`s
    before the request touches other requests, `EngineOverloadedError` when closed or full."""

    @property
    @abstractmethod
    def model_name(self) -> str:
        """The served model's name."""

    @property
    @abstractmethod
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """The model's tokenizer, with its chat template."""

    @property
    @abstractmethod
    def eos_token_ids(self) -> tuple[int, ...]:
        """Token ids that end a generation (unless `ignore_eos`)."""

    @property
    @abstractmethod
    def page_size(self) -> int:
        """Tokens per KV page: prefixes are shared in whole pages."""

    @property
    @abstractmethod
    def max_context(self) -> int:
        """The most tokens (prompt plus generated) one sequence may hold."""

    @abstractmethod
    def check(self, token_ids: Sequence[int], sampling: SamplingParams) -> None:
        """Raise the `RequestError` that submitting this request would raise, without
        queueing it (lets a streaming server answer 4xx before its first byte)."""

    @abstractmethod
    async def prefill(self, token_ids: Sequence[int], priority: int = 0) -> PrefixHandle:
        """Compute the KV of `token_ids` once (reusing any cached prefix) and pin it. A
        negative priority marks work ahead of need (a caller's eager prefill of a prefix it
        expects to use): it runs after every request of higher priority, and an engine that
        loads its model lazily does not load it for such work."""

    @abstractmethod
    def release(self, handle: PrefixHandle) -> None:
        """Unpin a prefix; its pages become evictable (they stay cached until needed)."""

    @abstractmethod
    async def generate(
        self,
        token_ids: Sequence[int],
        sampling: SamplingParams,
        priority: int = 0,
        request_id: str | None = None,
    ) -> Generation:
        """Generate a continuation of `token_ids`. Any cached prefix of them (a pinned
        handle's or a radix-cache hit) is reused, never recomputed. Higher priority runs first."""

    @abstractmethod
    def stream(
        self,
        token_ids: Sequence[int],
        sampling: SamplingParams,
        priority: int = 0,
        request_id: str | None = None,
    ) -> AsyncIterator[StreamChunk]:
        """Like `generate`, yielding text deltas; the last chunk carries `finished`."""

    @abstractmethod
    async def score(self, token_ids: Sequence[int], continuations: Sequence[Sequence[int]],
                    priority: int = 0) -> ChoiceScores:
        """Summed log-probability of each continuation after `token_ids` (for `select` and
        `choices`)."""

    async def score_prompt(self, token_ids: Sequence[int], top_logprobs: int = 0
                           ) -> PromptScores:
        """The log-probability of every token of `token_ids` after the first (and its
        `top_logprobs` most likely alternatives). This default scores one token at a time
        through `score`, without alternatives; engines override it with one pass."""
        ids = list(token_ids)
        values = [(await self.score(ids[:i], [[ids[i]]])).logprobs[0]
                  for i in range(1, len(ids))]
        return PromptScores(values, [[] for _ in values] if top_logprobs else None)

    @abstractmethod
    def abort(self, request_id: str) -> None:
        """Stop a request; its `generate` returns with finish_reason "abort"."""

    @abstractmethod
    def stats(self) -> EngineStats:
        """Counters for traces and /metrics."""

    @abstractmethod
    def close(self) -> None:
        """Stop the engine: running requests end with finish_reason "abort", new ones raise
        `EngineOverloadedError`. Idempotent."""
