"""A conversation (with tools, tool calls and tool results) as the prompt's token ids.

The model's own chat template renders it through transformers' `apply_chat_template`, given
`tools=` when the template renders tools itself (Qwen2.5, Qwen3, Llama 3.1+, Mistral). A
template that does not (SmolLM2's) gets flowc's generic format, the hermes one:

- the tools' JSON, with how to call them, at the end of the system message (one is added
  first when the conversation has none);
- an assistant message's calls as `<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>`
  lines after its text;
- tool results as a user message of `<tool_response>\\n...\\n</tool_response>` blocks
  (consecutive results in one message).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from web.openai_schemas import ChatMessage
from web.tool_formats import HERMES, template_takes_tools
from web.tool_schemas import ToolCallIn, ToolDefinition

ROLES = {"developer": "system"}
GENERIC_TOOLS = """\

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{tools}
</tools>

For each function call, return a json object with function name and arguments within \
<tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""


def chat_prompt_ids(tokenizer: Any, messages: Sequence[ChatMessage],
                    tools: Sequence[ToolDefinition] | None = None) -> list[int]:
    template = getattr(tokenizer, "chat_template", None)
    if template_takes_tools(template):
        chat = [_native(m, messages) for m in messages]
        specs = [t.model_dump(exclude_none=True) for t in tools] if tools else None
        text = tokenizer.apply_chat_template(chat, tools=specs, tokenize=False,
                                             add_generation_prompt=True)
    else:
        chat = _generic(messages, tools or ())
        text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return list(tokenizer.encode(text, add_special_tokens=False))


def _arguments(call: ToolCallIn) -> Any:
    try:
        return json.loads(call.function.arguments or "{}")
    except json.JSONDecodeError:
        return call.function.arguments


def _native(message: ChatMessage, messages: Sequence[ChatMessage]) -> dict[str, Any]:
    """A message as transformers' templates take it (arguments as objects, results named)."""
    out: dict[str, Any] = {"role": ROLES.get(message.role, message.role),
                           "content": message.text()}
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "type": "function", "function": {
            "name": c.function.name, "arguments": _arguments(c)}} for c in message.tool_calls]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
        out["name"] = message.name or _called_name(message.tool_call_id, messages)
    return out


def _called_name(call_id: str | None, messages: Sequence[ChatMessage]) -> str | None:
    for message in messages:
        for call in message.tool_calls or ():
            if call.id == call_id:
                return call.function.name
    return None


def _generic(messages: Sequence[ChatMessage], tools: Sequence[ToolDefinition]
             ) -> list[dict[str, str]]:
    chat: list[dict[str, str]] = []
    for message in messages:
        role = ROLES.get(message.role, message.role)
        if role == "tool":
            block = f"<tool_response>\n{message.text()}\n</tool_response>"
            if chat and chat[-1]["role"] == "user" and chat[-1]["content"].startswith(
                    "<tool_response>"):
                chat[-1]["content"] += "\n" + block
            else:
                chat.append({"role": "user", "content": block})
            continue
        calls = [json.dumps({"name": c.function.name, "arguments": _arguments(c)},
                            ensure_ascii=False) for c in message.tool_calls or ()]
        parts = [message.text()] if message.text() else []
        parts += [f"{HERMES.trigger}\n{c}\n</tool_call>" for c in calls]
        chat.append({"role": role, "content": "\n".join(parts)})
    if tools:
        listing = "\n".join(json.dumps(t.model_dump(exclude_none=True), ensure_ascii=False)
                            for t in tools)
        text = GENERIC_TOOLS.format(tools=listing)
        if chat and chat[0]["role"] == "system":
            chat[0]["content"] += "\n" + text
        else:
            chat.insert(0, {"role": "system", "content": text.lstrip("\n")})
    return chat
