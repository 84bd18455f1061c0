"""Prompts as segments: the chat template is applied with sentinel placeholders standing for
the dynamic pieces of each message, and the result is split back into static text (known at
compile time) and dynamic template fragments (rendered at run time).

Invariant: a prompt's token ids are the concatenation of its segments' ids, each segment
tokenized on its own. `render_segments` is the one function that turns segments and values
into token ids, at compile time and at run time alike, so equal static prefixes always give
equal token ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from compiler.graphapi import OutputTooLong, render, split_template, template_variables
from compiler.plan import Segment
from compiler.tokenizer import apply_chat_template, encode_dynamic, encode_static

_SENTINEL = re.compile("\ue000(\\d+)\ue001")
_BLOCK_OPENERS = {"if", "for", "with", "filter", "macro", "call", "block", "autoescape"}
_WORD = re.compile(r"[{%#+\-\s]*([A-Za-z_]*)")
_BARE_NAME = re.compile(r"\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}\Z")
_CONSTANTS = {"true", "false", "none", "True", "False", "None"}


@dataclass(frozen=True)
class Turn:
    """One earlier call on a thread: its messages, then its output as the assistant's reply."""

    messages: tuple[Mapping[str, str], ...]
    output: str


@dataclass(frozen=True)
class Piece:
    """A segment before tokenization."""

    kind: str  # "static" | "dynamic" ("comment" only while splitting a message)
    text: str
    variables: tuple[str, ...] = ()


def prompt_segments(
    tokenizer: Any,
    messages: Sequence[Any],
    thread_history: Sequence[Turn] = (),
) -> tuple[Segment, ...]:
    """The call site's prompt (thread history first) as tokenized segments."""
    pieces = prompt_pieces(tokenizer, messages, thread_history)
    statics = sorted({p.text for p in pieces if p.kind == "static"})
    ids = dict(zip(statics, encode_static(tokenizer, statics), strict=True))
    return tokenize_pieces(pieces, ids)


class PromptTooLong(ValueError):
    """A prompt renders more text than its bound: it was stopped before being tokenized."""


def render_segments(
    tokenizer: Any,
    segments: Iterable[Segment],
    values: Mapping[str, Any],
    max_chars: int | None = None,
) -> list[int]:
    """A call site's token ids for the run-time `values` of its variables. With `max_chars`,
    a prompt whose text would be longer raises PromptTooLong: its rendering stops at the
    bound, and nothing of it is tokenized."""
    segments = tuple(segments)
    texts = _rendered_texts(segments, values, max_chars)
    ids: list[int] = []
    for segment, text in zip(segments, texts, strict=True):
        if segment.kind == "static":
            ids.extend(segment.token_ids)
        else:
            ids.extend(encode_dynamic(tokenizer, text))
    return ids


def _rendered_texts(segments: tuple[Segment, ...], values: Mapping[str, Any],
                    max_chars: int | None) -> list[str]:
    """Each segment's text, dynamic ones rendered, within `max_chars` in all."""
    texts: list[str] = []
    written = 0
    for segment in segments:
        left = None if max_chars is None else max_chars - written
        try:
            text = segment.text if segment.kind == "static" else \
                render(segment.text, values, left)
        except OutputTooLong:
            text = None
        if text is None or left is not None and len(text) > left:
            raise PromptTooLong(f"the prompt renders more than {max_chars:,} characters")
        texts.append(text)
        written += len(text)
    return texts


def prompt_pieces(
    tokenizer: Any, messages: Sequence[Any], thread_history: Sequence[Turn] = ()
) -> list[Piece]:
    """The prompt's static texts and dynamic fragments, in order, after the chat template."""
    fragments: list[Piece] = []
    conversation: list[dict[str, str]] = []
    for turn in thread_history:
        conversation += [_with_sentinels(m, fragments) for m in turn.messages]
        output = Piece("dynamic", "{{ " + turn.output + " }}", (turn.output,))
        conversation.append({"role": "assistant", "content": _sentinel(output, fragments)})
    conversation += [_with_sentinels(m, fragments) for m in messages]
    text = apply_chat_template(tokenizer, conversation, add_generation_prompt=True)
    return _split_sentinels(text, fragments)


def tokenize_pieces(
    pieces: Iterable[Piece], ids: Mapping[str, tuple[int, ...]]
) -> tuple[Segment, ...]:
    return tuple(
        Segment("static", p.text, token_ids=ids[p.text])
        if p.kind == "static"
        else Segment("dynamic", p.text, variables=p.variables)
        for p in pieces
    )


@lru_cache(maxsize=16384)
def content_pieces(content: str) -> tuple[Piece, ...]:
    """A message template as static text and self-contained dynamic fragments: a control
    block (`{% if %}...{% endif %}`) is one fragment, since its text is conditional; a
    statement outside any block (`{% set %}`) makes the rest of the template one fragment."""
    raw = split_template(content)
    pieces: list[Piece] = []
    group: list[str] = []
    depth = 0
    tail = False
    for kind, text in raw:
        if kind == "static" and not group:
            pieces.append(Piece("static", text))
            continue
        if not group and text.startswith("{#"):
            pieces.append(Piece("comment", text))  # renders nothing, but may trim
            continue
        group.append(text)
        if kind == "dynamic" and text.startswith("{%"):
            word = _tag_word(text)
            if word in _BLOCK_OPENERS or (word == "set" and "=" not in text):
                depth += 1
            elif word.startswith("end"):
                depth -= 1
            elif depth == 0 and word not in ("else", "elif", "raw"):  # raw: one whole piece
                tail = True
        if depth <= 0 and not tail:
            pieces.append(_dynamic("".join(group)))
            group = []
    if group:
        pieces.append(_dynamic("".join(group)))
    return tuple(_trim_whitespace_control(pieces, content.endswith("\n")))


def _dynamic(source: str) -> Piece:
    bare = _BARE_NAME.match(source)
    if bare and bare.group(1) not in _CONSTANTS:  # `{{ name }}`, without a jinja parse
        return Piece("dynamic", source, (bare.group(1),))
    return Piece("dynamic", source, tuple(sorted(template_variables(source))))


def _tag_word(tag: str) -> str:
    match = _WORD.match(tag)
    return match.group(1) if match else ""


def _trim_whitespace_control(pieces: list[Piece], final_newline: bool) -> list[Piece]:
    """Apply jinja's `{{-`/`-}}` trimming (comments trim too, then vanish) and its removal of
    one trailing newline to the static texts, so they equal what the whole template would
    render."""
    texts = [p.text for p in pieces]
    for i, piece in enumerate(pieces):
        if piece.kind == "static":
            continue
        if piece.text[2:3] == "-" and i > 0 and pieces[i - 1].kind == "static":
            texts[i - 1] = texts[i - 1].rstrip()
        if piece.text[-3:-2] == "-" and i + 1 < len(pieces) and pieces[i + 1].kind == "static":
            texts[i + 1] = texts[i + 1].lstrip()
    if final_newline and pieces and pieces[-1].kind == "static":
        last = texts[-1]
        texts[-1] = last[:-2] if last.endswith("\r\n") else last.removesuffix("\n")
    merged: list[Piece] = []
    for piece, text in zip(pieces, texts, strict=True):
        if piece.kind == "comment":
            continue
        if piece.kind == "dynamic":
            merged.append(piece)
        elif merged and merged[-1].kind == "static":
            merged[-1] = Piece("static", merged[-1].text + text)
        elif text:
            merged.append(Piece("static", text))
    return merged


def _with_sentinels(message: Any, fragments: list[Piece]) -> dict[str, str]:
    role, content = _role_content(message)
    text = "".join(
        p.text if p.kind == "static" else _sentinel(p, fragments) for p in content_pieces(content)
    )
    return {"role": role, "content": text}


def _role_content(message: Any) -> tuple[str, str]:
    if isinstance(message, Mapping):
        return message["role"], message["content"]
    return message.role, message.content


def _sentinel(piece: Piece, fragments: list[Piece]) -> str:
    fragments.append(piece)
    return f"\ue000{len(fragments) - 1}\ue001"


def _split_sentinels(text: str, fragments: list[Piece]) -> list[Piece]:
    pieces: list[Piece] = []
    position = 0
    for match in _SENTINEL.finditer(text):
        if match.start() > position:
            pieces.append(Piece("static", text[position : match.start()]))
        pieces.append(fragments[int(match.group(1))])
        position = match.end()
    if position < len(text):
        pieces.append(Piece("static", text[position:]))
    return pieces
