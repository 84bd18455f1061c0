"""What the engine offers its callers (the plan executor, the HTTP service, the CLI).

The engine core implements `EngineAPI` in `engine/engine.py` (`AsyncEngine` wrapping the
synchronous `LLMEngine`). Callers depend on this module only. Token ids in, token ids out:
tokenizing and chat templates are the caller's (see `engine/tokenizer.py`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 256
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 means off
    seed: int | None = None
    stop: tuple[str, ...] = ()  # stop strings: never shown in the output text
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False
    logprobs: bool = False
    regex: str | None = None  # at most one of regex, json_schema, choices
    json_schema: dict[str, Any] | None = None
    choices: tuple[str, ...] | None = None


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
    @abstractmethod
    async def prefill(self, token_ids: Sequence[int], priority: int = 0) -> PrefixHandle:
        """Compute the KV of `token_ids` once (reusing any cached prefix) and pin it."""

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
    async def score(self, token_ids: Sequence[int], continuations: Sequence[Sequence[int]]
                    ) -> list[float]:
        """Summed log-probability of each continuation after `token_ids` (for `select`)."""

    @abstractmethod
    def abort(self, request_id: str) -> None:
        """Stop a request; its `generate` returns with finish_reason "abort"."""

    @abstractmethod
    def stats(self) -> EngineStats:
        """Counters for traces and /metrics."""
