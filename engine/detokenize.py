"""Incremental detokenization and stop strings.

`IncrementalDetokenizer` turns generated token ids into text one token at a time without
decoding the whole output each step: it re-decodes only a short window and emits text once
it no longer ends in an incomplete UTF-8 sequence ("\ufffd").

`TextStream` adds stop strings on top: a stop string that ends inside the text (even one
split across several tokens) cuts the text before it, and text that might still become the
start of a stop string is held back, so a stop string is never shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def decoder_for(tokenizer: Any) -> Callable[[list[int]], str]:
    """`tokenizer.decode(ids, skip_special_tokens=True)`, called on the Rust tokenizer directly
    where that is exactly what transformers would do (a fast tokenizer that neither overrides
    decoding nor cleans up spaces): decoding runs for every sequence at every step, and
    transformers' own wrapper costs four times the decode."""
    if tokenizer is None:  # a model without a tokenizer (dummy weights): ids only
        return lambda ids: ""
    backend = getattr(tokenizer, "_tokenizer", None)
    try:
        from transformers.tokenization_utils_tokenizers import TokenizersBackend
    except ImportError:  # pragma: no cover - another transformers layout
        TokenizersBackend = None
    if (backend is not None and TokenizersBackend is not None
            and type(tokenizer)._decode is TokenizersBackend._decode
            and not _cleans_up_spaces(tokenizer)):
        return lambda ids: backend.decode(ids, skip_special_tokens=True)
    return lambda ids: tokenizer.decode(ids, skip_special_tokens=True)


def _cleans_up_spaces(tokenizer: Any) -> bool:
    """Whether transformers' decode cleans up spaces before punctuation: when asked to, except
    for a BPE model unless forced (the transformers versions that have the override)."""
    if not tokenizer.clean_up_tokenization_spaces:
        return False
    force = "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output"
    if not hasattr(tokenizer, force):
        return True
    return type(tokenizer.backend_tokenizer.model).__name__ != "BPE" or bool(
        getattr(tokenizer, force))


class IncrementalDetokenizer:
    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._decode = decoder_for(tokenizer)
        self.token_ids: list[int] = []
        self._prefix_offset = 0
        self._read_offset = 0

    def push(self, token_id: int) -> str:
        """Add one token; return the new text it completes (possibly empty)."""
        self.token_ids.append(token_id)
        if self.tokenizer is None:
            return ""
        window = self.token_ids[self._prefix_offset:]
        text = self._decode(window)
        if text.endswith("\ufffd"):
            return ""
        prefix = self._decode(self.token_ids[self._prefix_offset:self._read_offset])
        self._prefix_offset = self._read_offset
        self._read_offset = len(self.token_ids)
        return text[len(prefix):]


class TextStream:
    def __init__(self, tokenizer: Any, stop: tuple[str, ...] = ()) -> None:
        self._detokenizer = IncrementalDetokenizer(tokenizer)
        self._stop = stop
        self._longest_stop = max((len(s) for s in stop), default=0)
        self.text = ""
        self._shown = 0
        self.stopped = False

    def push(self, token_id: int) -> bool:
        """Add one token; return True when a stop string has just ended the text."""
        if self.stopped:
            return True
        piece = self._detokenizer.push(token_id)
        if not piece:
            return False
        searched_from = max(0, len(self.text) - self._longest_stop + 1)
        self.text += piece
        if self._stop:
            cut = self._find_stop(searched_from)
            if cut is not None:
                self.text = self.text[:cut]
                self.stopped = True
        return self.stopped

    def _find_stop(self, start: int) -> int | None:
        hits = [i for s in self._stop if (i := self.text.find(s, start)) >= 0]
        return min(hits) if hits else None

    def _held_back(self) -> int:
        """Length of the longest end of the text that begins some stop string."""
        if self.stopped or not self._stop:
            return 0
        for n in range(min(self._longest_stop - 1, len(self.text)), 0, -1):
            tail = self.text[-n:]
            if any(s.startswith(tail) for s in self._stop):
                return n
        return 0

    def delta(self, final: bool = False) -> str:
        """Text not shown yet that is safe to show (all of it when `final`)."""
        end = len(self.text) if final else len(self.text) - self._held_back()
        end = max(end, self._shown)
        out = self.text[self._shown:end]
        self._shown = end
        return out
