"""Reading a JSON request body at the boundary: a parse error names its line, column and
character, and a string that is not valid Unicode text (a lone UTF-16 surrogate such as
"\\ud800", which JSON allows but UTF-8 cannot encode) is refused with the JSON path of the
string or key that holds it, so nothing is stored that could not be served back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi.exceptions import RequestValidationError

MAX_INT_DIGITS = 1000  # far past 64 bits, well under Python's conversion limit
SHOWN_DIGITS = 24


def is_json(content_type: str | None) -> bool:
    """FastAPI's rule: a body without a content type, or application/json or */*+json, is
    parsed as JSON."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def parse_json(raw: bytes) -> Any:
    """The body's JSON value; RequestValidationError naming where and what is wrong."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _invalid("json_invalid", (), f"the body is not UTF-8 text: {exc.reason} at "
                                            f"byte {exc.start}") from exc
    try:
        value = json.loads(text, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise _invalid("json_invalid", (), f"the body is not valid JSON: {exc.msg} at line "
                                            f"{exc.lineno}, column {exc.colno} (character "
                                            f"{exc.pos})") from exc
    except RecursionError as exc:
        raise _invalid("json_invalid", (), "the JSON is nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer literal over Python's digit limit
        raise _invalid("json_invalid", (), f"the body is not valid JSON: {exc}") from exc
    check_text(value)
    return value


def _integer(literal: str) -> int:
    """An integer literal; one too long to convert is refused naming its size (the schemas
    bound integers to 64 bits)."""
    digits = len(literal.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"the number {literal[:SHOWN_DIGITS]}... ({len(literal)} characters) "
                         "is out of range: integers are 64-bit, at most 19 digits")
    return int(literal)


def check_text(value: Any) -> None:
    """Raise RequestValidationError at the first string or key of `value` that UTF-8 cannot
    encode."""
    for loc, text in _strings(value, ()):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = text[exc.start:exc.end].encode("utf-8", "backslashreplace").decode()
            raise _invalid("string_unicode", loc,
                           f"not valid Unicode text: {bad} at character {exc.start} (a lone "
                           "UTF-16 surrogate?)") from None


def _strings(value: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...],
                                                                        str]]:
    """Every string of `value` with its location; a key is located at its own entry."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [(loc, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            children: list[tuple[tuple[str | int, ...], Any]] = []
            for key, child in item.items():
                at = (*where, key.encode("utf-8", "backslashreplace").decode())
                children += [(at, key), (at, child)]
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(reversed([((*where, i), child) for i, child in enumerate(item)]))


def _invalid(kind: str, loc: tuple[str | int, ...], message: str) -> RequestValidationError:
    """At `body.<loc>`, or at `$` (the whole body) when `loc` is empty."""
    return RequestValidationError([{"type": kind, "loc": ("body", *loc) if loc else (),
                                    "msg": message, "input": None}])
