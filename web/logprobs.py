"""Log-probabilities in OpenAI's two shapes: chat's per-token objects with their top
alternatives, and completions' parallel lists (an echoed prompt's tokens first, the first
of them without a log-probability since nothing precedes it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.api import Generation, PromptScores
from web.openai_schemas import ChoiceLogprobs, CompletionLogprobs, TokenLogprob, TopLogprob

Alternatives = list[tuple[int, float]]


def _piece(tokenizer: Any, token_id: int) -> str:
    return tokenizer.decode([token_id])


def _top(tokenizer: Any, alternatives: Alternatives) -> list[TopLogprob]:
    out = []
    for token_id, logprob in alternatives:
        text = _piece(tokenizer, token_id)
        out.append(TopLogprob(token=text, logprob=logprob, bytes=list(text.encode())))
    return out


def chat_logprobs(tokenizer: Any, g: Generation) -> ChoiceLogprobs:
    values = g.logprobs or []
    tops = g.top_logprobs or [[] for _ in values]
    content = []
    for token_id, logprob, alternatives in zip(g.token_ids, values, tops, strict=False):
        text = _piece(tokenizer, token_id)
        content.append(TokenLogprob(token=text, logprob=logprob, bytes=list(text.encode()),
                                    top_logprobs=_top(tokenizer, alternatives)))
    return ChoiceLogprobs(content=content)


def completion_logprobs(tokenizer: Any, g: Generation | None, want_top: int,
                        prompt: Sequence[int] = (), scores: PromptScores | None = None
                        ) -> CompletionLogprobs:
    """The generated tokens' log-probabilities, after the prompt's when it is echoed
    (`scores` given)."""
    ids: list[int] = []
    values: list[float | None] = []
    tops: list[Alternatives | None] = []
    if scores is not None:
        ids += list(prompt)
        values += [None, *scores.logprobs]
        tops += [None, *(scores.top_logprobs or [[] for _ in scores.logprobs])]
    if g is not None:
        ids += g.token_ids
        values += list(g.logprobs or [])
        tops += list(g.top_logprobs or [[] for _ in g.token_ids])
    tokens = [_piece(tokenizer, t) for t in ids]
    offsets, at = [], 0
    for token in tokens:
        offsets.append(at)
        at += len(token)
    top_maps = [None if alt is None else {_piece(tokenizer, t): lp for t, lp in alt}
                for alt in tops] if want_top else None
    return CompletionLogprobs(tokens=tokens, token_logprobs=values, top_logprobs=top_maps,
                              text_offset=offsets)
