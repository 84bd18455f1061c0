"""Reading tool calls out of a model's text, whole or as it streams.

`parse_calls` reads the text generated so far in a family's format (web/tool_formats.py) into
the text before the first call and the calls, the last possibly unfinished. Streaming
re-reads the growing text after every delta and sends what is new (`ToolCallStream`), so a
streamed answer and a whole one read the same. A call's arguments end where their JSON value
ends (strings and escapes respected); text that may still become a call's trigger is held
back from the content until it is decided.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from web.tool_formats import ToolFormat
from web.tool_schemas import FunctionCall, ToolCall


@dataclass
class PartialCall:
    name: str | None  # None until the whole name is written
    arguments: str  # the arguments' JSON text so far
    complete: bool


@dataclass
class ParsedText:
    content: str  # text before the first call (held-back trigger prefixes excluded)
    calls: list[PartialCall]


def json_value_end(text: str, start: int) -> int | None:
    """The index just past the JSON object or array starting at `start`, None if unfinished."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _held_back(text: str, trigger: str) -> int:
    """How many trailing characters of `text` could be the start of `trigger`."""
    for n in range(min(len(trigger) - 1, len(text)), 0, -1):
        if trigger.startswith(text[-n:]):
            return n
    return 0


def parse_calls(fmt: ToolFormat, text: str, final: bool = False) -> ParsedText:
    start = text.find(fmt.call_open)
    if start < 0:
        keep = len(text) if final else len(text) - _held_back(text, fmt.call_open)
        return ParsedText(text[:keep], [])
    content, calls, at = text[:start], [], start
    while at >= 0:
        call, at = _read_call(fmt, text, at + len(fmt.call_open))
        calls.append(call)
        if not call.complete:
            break
        nxt = text.find(fmt.call_open, at)
        at = nxt
    return ParsedText(content, calls)


def _read_call(fmt: ToolFormat, text: str, at: int) -> tuple[PartialCall, int]:
    name_end = text.find(fmt.name_close, at)
    if name_end < 0:
        return PartialCall(None, "", False), len(text)
    name = text[at:name_end]
    args_start = name_end + len(fmt.name_close)
    args_end = json_value_end(text, args_start)
    if args_end is None:
        return PartialCall(name, text[args_start:], False), len(text)
    # the call is whole once its arguments are (a reply cut inside the closing text keeps it)
    closed = text.startswith(fmt.call_close, args_end)
    return PartialCall(name, text[args_start:args_end], True), (
        args_end + len(fmt.call_close) if closed else args_end)


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def finished_calls(fmt: ToolFormat, text: str) -> tuple[str | None, list[ToolCall]]:
    """The content and the complete calls of a finished answer (content None when empty)."""
    parsed = parse_calls(fmt, text, final=True)
    calls = [ToolCall(id=new_call_id(), function=FunctionCall(
        name=c.name or "", arguments=c.arguments)) for c in parsed.calls if c.complete]
    if not calls:
        return text, []
    return (parsed.content.strip() or None), calls


@dataclass
class ToolCallStream:
    """What of a streamed answer has been sent: content and, per call, its id and arguments."""

    fmt: ToolFormat
    text: str = ""
    sent_content: int = 0
    ids: list[str] = field(default_factory=list)
    sent_arguments: list[int] = field(default_factory=list)

    def push(self, delta: str, final: bool = False) -> list[dict[str, Any]]:
        """Chat-completion deltas (`{"content": ...}` or `{"tool_calls": [...]}`) for the text
        added."""
        self.text += delta
        parsed = parse_calls(self.fmt, self.text, final)
        out: list[dict[str, Any]] = []
        if len(parsed.content) > self.sent_content:
            out.append({"content": parsed.content[self.sent_content:]})
            self.sent_content = len(parsed.content)
        for index, call in enumerate(parsed.calls):
            if call.name is None:
                break
            if index == len(self.ids):
                self.ids.append(new_call_id())
                self.sent_arguments.append(0)
                out.append({"tool_calls": [{"index": index, "id": self.ids[index],
                                            "type": "function",
                                            "function": {"name": call.name, "arguments": ""}}]})
            new = call.arguments[self.sent_arguments[index]:]
            if new:
                out.append({"tool_calls": [{"index": index,
                                            "function": {"arguments": new}}]})
                self.sent_arguments[index] = len(call.arguments)
        return out

    @property
    def called(self) -> bool:
        return bool(self.ids)
