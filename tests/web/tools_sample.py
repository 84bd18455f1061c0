"""A tools file for `flowc serve --tools`: the one extra tool the test server allows."""

from __future__ import annotations


def shout(text: str) -> str:
    return text.upper() + "!"


TOOLS = {"shout": (shout, {"type": "object", "properties": {"text": {"type": "string"}},
                           "required": ["text"], "additionalProperties": False})}
