"""A small server-sent-events reader for the tests (the wire format, parsed by hand)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


def sse_events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Each event as {"id", "event", "data"} with data parsed as JSON when it is JSON."""
    event: dict[str, Any] = {}
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                text = "\n".join(data)
                try:
                    event["data"] = json.loads(text)
                except json.JSONDecodeError:
                    event["data"] = text
                yield event
            event, data = {}, []
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field in ("id", "event"):
            event[field] = value
