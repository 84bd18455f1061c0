"""What a chat request's `tools`, `tool_choice` and `parallel_tool_calls` ask of a
generation: the constraint on its output and whether its text is read for calls.

| tool_choice | output | read for calls |
|---|---|---|
| `none` | free text (the tools are still in the prompt) | no |
| `auto` (the default with tools) | text, or calls well-formed once begun | yes |
| `required` | one or more calls to any of the tools | yes |
| a named function | one call to that function | yes |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web.openai_errors import invalid
from web.openai_schemas import ChatCompletionCreate
from web.tool_formats import ToolFormat, tool_call_tag, tool_format
from web.tool_schemas import NamedToolChoice


@dataclass(frozen=True)
class ToolUse:
    fmt: ToolFormat
    structural_tag: dict[str, Any] | None
    reads_calls: bool


def tool_use(request: ChatCompletionCreate, chat_template: str | None) -> ToolUse | None:
    """None when the request offers no tools; raise a 400 for a choice that cannot hold."""
    choice, tools = request.tool_choice, request.tools or []
    if not tools:
        if choice is not None and choice != "none":
            raise invalid("tool_choice", "tool_choice needs tools: give the functions in "
                                         "'tools'")
        return None
    names = [t.function.name for t in tools]
    if len(set(names)) != len(names):
        raise invalid("tools", "two tools have the same name")
    fmt = tool_format(chat_template)
    choice = choice or "auto"
    if choice == "none":
        return ToolUse(fmt, None, reads_calls=False)
    forced = choice != "auto"
    if isinstance(choice, NamedToolChoice):
        if choice.function.name not in names:
            raise invalid("tool_choice.function.name",
                          f"no tool named {choice.function.name!r} among {names}")
        tools = [t for t in tools if t.function.name == choice.function.name]
    fmt_given = request.response_format is not None and request.response_format.type != "text"
    if forced and (fmt_given or request.guided_choice is not None):
        raise invalid("tool_choice", "a required tool call and a response_format or "
                                     "guided_choice both constrain the reply: give one")
    if fmt_given or request.guided_choice is not None:
        return ToolUse(fmt, None, reads_calls=True)  # that constraint holds; calls still read
    parallel = request.parallel_tool_calls and not isinstance(choice, NamedToolChoice)
    return ToolUse(fmt, tool_call_tag(fmt, tools, forced, parallel), reads_calls=True)
