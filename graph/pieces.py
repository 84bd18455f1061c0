"""A template's source pieces: literal text and tags, in order; and the fast path for
templates whose only tags are bare variable names."""

from __future__ import annotations

import re
from typing import Literal

Piece = tuple[Literal["static", "dynamic"], str]
_OPENERS = re.compile(r"\{\{|\{%|\{#")
_RAW_START = re.compile(r"\{%-?\s*raw\s*-?%\}")
_RAW_END = re.compile(r"\{%-?\s*endraw\s*-?%\}")


def split_template(text: str) -> list[Piece]:
    """The template as literal text and tag pieces (`{{ }}`, `{% %}`, `{# #}`) in order, each
    piece its exact source text, so joining them gives `text` back."""
    pieces: list[Piece] = []
    position = 0
    while position < len(text):
        opener = _OPENERS.search(text, position)
        if opener is None:
            pieces.append(("static", text[position:]))
            break
        if opener.start() > position:
            pieces.append(("static", text[position : opener.start()]))
        end = _tag_end(text, opener.start())
        pieces.append(("dynamic", text[opener.start() : end]))
        position = end
    return pieces


def _tag_end(text: str, start: int) -> int:
    """The index just past the tag that opens at `start` (the end of text if unclosed)."""
    kind = text[start : start + 2]
    if kind == "{#":
        close = text.find("#}", start + 2)
        return len(text) if close < 0 else close + 2
    if kind == "{%":
        raw = _RAW_START.match(text, start)
        if raw:
            end = _RAW_END.search(text, raw.end())
            return len(text) if end is None else end.end()
    closer = "}}" if kind == "{{" else "%}"
    index = start + 2
    quote: str | None = None
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif text.startswith(closer, index):
            return index + 2
        index += 1
    return len(text)


_BARE_TAG = re.compile(r"\{\{-?\s*([A-Za-z][A-Za-z0-9_]*)\s*-?\}\}\Z")
_BARE_EXPRESSION = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*\Z")
NOT_VARIABLES = frozenset(
    [
        "true",
        "false",
        "none",
        "True",
        "False",
        "None",
        "and",
        "or",
        "not",
        "in",
        "is",
        "if",
        "else",
        "loop",
        "range",
        "dict",
        "lipsum",
        "cycler",
        "joiner",
        "namespace",
    ]
)


def bare_names(text: str) -> frozenset[str] | None:
    """The variables of a template whose every tag is `{{ name }}`, without a jinja parse
    (such a template is valid and safe); None when any tag is anything else."""
    names = set()
    for kind, piece in split_template(text):
        if kind == "static":
            continue
        match = _BARE_TAG.match(piece)
        if match is None or match.group(1) in NOT_VARIABLES:
            return None
        names.add(match.group(1))
    return frozenset(names)


def bare_expression(expr: str) -> str | None:
    """The name an expression consists of, when it is one plain variable name."""
    match = _BARE_EXPRESSION.match(expr)
    return match.group(1) if match and match.group(1) not in NOT_VARIABLES else None


_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_VALID_ESCAPES = frozenset("\n\\'\"abfnrtvxuUN01234567")


def invalid_escapes(text: str, is_expression: bool) -> list[str]:
    """Backslash escapes in jinja string literals that Python's string escapes do not know
    (such as `\\d`): jinja keeps them today with a deprecation warning."""
    tags = [text] if is_expression else [p for k, p in split_template(text) if k == "dynamic"]
    found: list[str] = []
    for tag in tags:
        for literal in _STRING_LITERAL.findall(tag):
            for match in _ESCAPE.finditer(literal):
                if match.group(1) not in _VALID_ESCAPES and match.group(0) not in found:
                    found.append(match.group(0))
    return found
