"""JSON with bounded numbers: an integer is at most 64-bit and a number finite, so a huge
literal is refused while parsing (before Python converts thousands of digits) and nothing
is read that could not be written back as JSON."""

from __future__ import annotations

import json
import math
from typing import Any

from graph.errors import GraphError, Problem

INT64 = 2**63
_MAX_DIGITS = 19  # 2**63 has 19 digits
_SHOWN_CHARS = 24


def loads(source: str | bytes) -> Any:
    """`json.loads`, raising GraphError for an integer outside 64 bits or a number that is
    not finite (NaN, Infinity, 1e400)."""
    return json.loads(source, parse_int=_integer, parse_float=_finite,
                      parse_constant=_not_a_number)


def first_out_of_range(value: Any) -> int | float | None:
    """The first number in a JSON-like value (dicts and lists walked) that JSON read by
    `loads` could not hold: an integer outside 64 bits or a float that is not finite."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -INT64 <= value < INT64 else value
    if isinstance(value, float):
        return None if math.isfinite(value) else value
    items = value.values() if isinstance(value, dict) else value \
        if isinstance(value, list | tuple) else ()
    return next((n for n in map(first_out_of_range, items) if n is not None), None)


def _integer(text: str) -> int:
    if len(text.lstrip("-")) <= _MAX_DIGITS:
        value = int(text)
        if -INT64 <= value < INT64:
            return value
    raise _out_of_range(text, "integers are 64-bit")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _out_of_range(text, "numbers are finite")
    return value


def _not_a_number(text: str) -> float:
    raise _out_of_range(text, "numbers are finite")


def _out_of_range(text: str, rule: str) -> GraphError:
    shown = text if len(text) <= _SHOWN_CHARS else \
        f"{text[:_SHOWN_CHARS]}... ({len(text)} characters)"
    return GraphError([Problem("$", f"the number {shown} is out of range: {rule}")])
