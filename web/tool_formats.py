"""How a model family writes a tool call, and the grammar that makes it write one well.

Each family writes a call as fixed text around the function's name and its JSON arguments:

- `hermes` (Qwen2.5, Qwen3, and flowc's generic format, which SmolLM2 gets):
  `<tool_call>\\n{"name": "f", "arguments": {...}}\\n</tool_call>`
- `llama3` (Llama 3.1-3.3): `{"name": "f", "parameters": {...}}`
- `mistral`: `[TOOL_CALLS][{"name": "f", "arguments": {...}}]`

`tool_call_tag` turns tools and `tool_choice` into a structural tag of the grammar library:
`required` and a named function allow only calls (one, or several separated by the family's
separator when `parallel_tool_calls`), each call's arguments decoded against that function's
JSON schema; `auto` lets the model write text and constrains a call from the moment it
starts one (its trigger).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web.tool_schemas import ToolDefinition


@dataclass(frozen=True)
class ToolFormat:
    name: str
    call_open: str  # the text before the function's name
    name_close: str  # between the name and the arguments
    call_close: str  # after the arguments
    separator: str  # between two calls
    trigger: str  # the prefix of call_open that starts a call in free text

    def begin(self, function: str) -> str:
        return f"{self.call_open}{function}{self.name_close}"


HERMES = ToolFormat("hermes", '<tool_call>\n{"name": "', '", "arguments": ', "}\n</tool_call>",
                    "\n", "<tool_call>")
LLAMA3 = ToolFormat("llama3", '{"name": "', '", "parameters": ', "}", "\n", '{"name": ')
MISTRAL = ToolFormat("mistral", '[TOOL_CALLS][{"name": "', '", "arguments": ', "}]", "",
                     "[TOOL_CALLS]")


def tool_format(chat_template: str | None) -> ToolFormat:
    """The family of a chat template (the generic format, hermes, when it has no tools)."""
    template = chat_template or ""
    if "[TOOL_CALLS]" in template:
        return MISTRAL
    if "<|python_tag|>" in template or "Environment: ipython" in template:
        return LLAMA3
    return HERMES


def template_takes_tools(chat_template: str | None) -> bool:
    """Whether the template renders a `tools` list itself (else flowc's generic format)."""
    return bool(chat_template) and "tools" in chat_template  # type: ignore[operator]


def tool_call_tag(fmt: ToolFormat, tools: list[ToolDefinition], forced: bool,
                  parallel: bool) -> dict[str, Any]:
    """The structural tag of calls to `tools`: only calls when `forced`, else free text in
    which a call, once started, is well-formed; several calls only when `parallel`."""
    tags = [{"type": "tag", "begin": fmt.begin(t.function.name),
             "content": {"type": "json_schema", "json_schema": t.function.arguments_schema(),
                         "max_whitespace_cnt": 1},
             "end": fmt.call_close} for t in tools]
    if forced:
        body: dict[str, Any] = {"type": "tags_with_separator", "tags": tags,
                                "separator": fmt.separator, "at_least_one": True,
                                "stop_after_first": not parallel}
    else:
        body = {"type": "triggered_tags", "triggers": [fmt.trigger], "tags": tags,
                "at_least_one": False, "stop_after_first": not parallel}
    return {"type": "structural_tag", "format": body}
