"""Prompts and sampling settings of a run's llm and select calls.

Token ids come from the compiler's `prompt_segments` / `render_segments`, so static prefixes
give exactly the ids the plan's prefix groups were built from. A call on a thread is the
concatenation of its history's turns (each turn's own prompt ids, then its reply's ids as
generated) and its own turn: the prompt extends the earlier calls' token ids exactly, so their
KV is found in the prefix cache instead of being prefilled again.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from compiler import (
    PromptTooLong,
    Segment,
    Turn,
    encode_dynamic,
    longest_token_chars,
    prompt_segments,
    render_segments,
)
from engine.api import SamplingParams
from executor.state import TurnRecord
from graph import LlmNode, Sampling, SelectNode

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

REPLY_SLOT = "__flowc_reply"
_SAMPLING_FIELDS = ("max_tokens", "temperature", "top_p", "top_k", "stop", "seed")


CallNode = LlmNode | SelectNode


def messages_of(node: CallNode) -> tuple[dict[str, str], ...]:
    return tuple({"role": m.role, "content": m.content} for m in node.chat())


@dataclass
class PromptBuilder:
    """Turns a call node and the run's values into token ids (segments cached per node)."""

    tokenizer: PreTrainedTokenizerBase
    # read when first needed: an engine that loads its model lazily knows them only then
    eos_token_ids: Callable[[], Collection[int]] = tuple
    max_context: Callable[[], int | None] = type(None)
    _own: dict[tuple[str, bool], tuple[Segment, ...]] = field(default_factory=dict)

    def own_segments(
        self, step_id: str, node: CallNode, previous: TurnRecord | None
    ) -> tuple[Segment, ...]:
        """The call's own turn: its whole prompt on a fresh thread; after earlier turns, the
        part of the conversation after the previous reply."""
        key = (step_id, previous is not None)
        if key not in self._own:
            messages = messages_of(node)
            if previous is None:
                self._own[key] = prompt_segments(self.tokenizer, messages)
            else:
                history = (Turn(tuple(previous.messages), REPLY_SLOT),)
                full = prompt_segments(self.tokenizer, messages, thread_history=history)
                self._own[key] = _after_reply(full)
        return self._own[key]

    def build(
        self,
        step_id: str,
        node: CallNode,
        values: Mapping[str, Any],
        history: Sequence[TurnRecord] = (),
    ) -> tuple[list[int], tuple[int, ...]]:
        """(prompt token ids, the call's own turn ids). A prompt whose text cannot fit the
        model's context fails before it is tokenized (PromptTooLong)."""
        previous = history[-1] if history else None
        ids: list[int] = []
        for turn in history:
            ids += turn.own_ids
            ids += turn.reply_ids
        segments = self.own_segments(step_id, node, previous)
        bound = self.max_chars(len(ids))
        try:
            own = tuple(render_segments(self.tokenizer, segments, values, bound))
        except PromptTooLong:
            raise PromptTooLong(
                f"the prompt renders more than {bound:,} characters: the model's context of "
                f"{self.max_context() or 0:,} tokens cannot hold it (a token is at most "
                f"{self.longest_token_chars()} characters); stopped before tokenizing: "
                f"shorten the inputs or the template") from None
        return ids + list(own), own

    def max_chars(self, history_tokens: int = 0) -> int | None:
        """The most characters a prompt's own turn can render and still fit the context:
        each token covers at most the longest token's characters."""
        context = self.max_context()
        if context is None:
            return None
        return max(0, context - history_tokens) * self.longest_token_chars()

    def longest_token_chars(self) -> int:
        return longest_token_chars(self.tokenizer)

    def reply_ids(self, token_ids: Sequence[int]) -> tuple[int, ...]:
        """A reply as the thread keeps it: without the end-of-turn token the chat template
        adds back itself."""
        ids = list(token_ids)
        ends = frozenset(self.eos_token_ids())
        while ids and ids[-1] in ends:
            ids.pop()
        return tuple(ids)

    def encode(self, text: str) -> list[int]:
        return encode_dynamic(self.tokenizer, text)


def _after_reply(segments: tuple[Segment, ...]) -> tuple[Segment, ...]:
    for index, segment in enumerate(segments):
        if segment.kind == "dynamic" and REPLY_SLOT in segment.variables:
            return segments[index + 1 :]
    raise ValueError("the chat template dropped an earlier reply of the thread")


def sampling_for(
    node: LlmNode,
    defaults: Sampling,
    request_key: str,
    run_seed: int,
    max_tokens_cap: int | None = None,
) -> SamplingParams:
    """The node's sampling settings over the workflow's defaults, with its constraint. A
    sampled call without a seed gets one derived from the run's seed and its request key, so
    the same seed gives the same outputs whatever the batching."""
    settings: dict[str, Any] = {}
    for name in _SAMPLING_FIELDS:
        value = getattr(node, name, None)
        if value is None:
            value = getattr(defaults, name, None)
        if value is not None:
            settings[name] = value
    if "stop" in settings:
        settings["stop"] = tuple(settings["stop"])
    if settings.get("seed") is None:
        settings["seed"] = (run_seed * 1_000_003 + zlib.crc32(request_key.encode())) % 2**31
    if max_tokens_cap is not None:
        settings["max_tokens"] = max(1, min(settings.get("max_tokens", 256), max_tokens_cap))
    if node.regex is not None:
        settings["regex"] = node.regex
    if node.json_schema is not None:
        settings["json_schema"] = node.json_schema
    if node.choices is not None:
        settings["choices"] = tuple(node.choices)
    return SamplingParams(**settings)
