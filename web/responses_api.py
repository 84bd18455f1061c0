"""OpenAI's Responses API on flowc's chat machinery: a `ResponseCreate` becomes the chat
request it means (instructions as the system message, input items as messages, function
calls and their outputs as assistant tool calls and tool results, `text.format` as the
response format), and a finished generation becomes a `ResponsePublic` (a message item,
function-call items, usage)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from engine.api import Generation
from web.openai_schemas import (
    ChatCompletionCreate,
    ChatMessage,
    JsonSchemaFormat,
    ResponseFormat,
)
from web.responses_schemas import (
    FunctionCallItem,
    FunctionCallOutputItem,
    OutputFunctionCall,
    OutputMessage,
    OutputText,
    ResponseCreate,
    ResponsePublic,
    ResponseUsage,
)
from web.tool_schemas import (
    FunctionCall,
    FunctionDefinition,
    NamedToolChoice,
    ToolCall,
    ToolCallIn,
    ToolDefinition,
)

OutputItem = OutputMessage | OutputFunctionCall


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def to_chat(body: ResponseCreate) -> ChatCompletionCreate:
    messages = [ChatMessage(role="system", content=body.instructions)] \
        if body.instructions else []
    messages += _messages(body.input)
    tools = [ToolDefinition(type="function", function=FunctionDefinition(
        name=t.name, description=t.description, parameters=t.parameters, strict=t.strict))
        for t in body.tools or ()]
    choice: Any = body.tool_choice
    if choice is not None and not isinstance(choice, str):
        choice = NamedToolChoice(type="function", function={"name": choice.name})
    return ChatCompletionCreate(
        model=body.model, messages=messages, max_tokens=body.max_output_tokens,
        temperature=body.temperature, top_p=body.top_p, stream=body.stream,
        tools=tools or None, tool_choice=choice, parallel_tool_calls=body.parallel_tool_calls,
        response_format=_response_format(body))


def _messages(given: str | list[Any]) -> list[ChatMessage]:
    if isinstance(given, str):
        return [ChatMessage(role="user", content=given)]
    out: list[ChatMessage] = []
    for item in given:
        if isinstance(item, FunctionCallItem):
            call = ToolCallIn(id=item.call_id, function=FunctionCall(
                name=item.name, arguments=item.arguments))
            if out and out[-1].role == "assistant" and out[-1].tool_calls is not None:
                out[-1].tool_calls.append(call)
            else:
                out.append(ChatMessage(role="assistant", content="", tool_calls=[call]))
        elif isinstance(item, FunctionCallOutputItem):
            out.append(ChatMessage(role="tool", content=item.output, tool_call_id=item.call_id))
        else:
            out.append(ChatMessage(role=item.role, content=item.text()))
    return out


def _response_format(body: ResponseCreate) -> ResponseFormat | None:
    fmt = body.text.format if body.text else None
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return ResponseFormat(type="json_object")
    return ResponseFormat(type="json_schema", json_schema=JsonSchemaFormat(
        name=fmt.name, schema=fmt.schema_ or {}, strict=fmt.strict))


def output_items(content: str | None, calls: list[ToolCall], complete: bool
                 ) -> list[OutputItem]:
    items: list[OutputItem] = []
    if content:
        items.append(OutputMessage(id=new_id("msg"), content=[OutputText(text=content)],
                                   status="completed" if complete else "incomplete"))
    items += [OutputFunctionCall(id=new_id("fc"), call_id=c.id, name=c.function.name,
                                 arguments=c.function.arguments) for c in calls]
    return items


def response_usage(prompt: list[int], g: Generation) -> ResponseUsage:
    return ResponseUsage(input_tokens=len(prompt),
                         input_tokens_details={"cached_tokens": g.cached_tokens},
                         output_tokens=len(g.token_ids),
                         output_tokens_details={"reasoning_tokens": 0},
                         total_tokens=len(prompt) + len(g.token_ids))


def build_response(body: ResponseCreate, response_id: str, model: str,
                   output: list[OutputItem], finished: Generation | None,
                   prompt: list[int]) -> ResponsePublic:
    """The response object; `finished` None while it is still in progress."""
    incomplete = finished is not None and finished.finish_reason == "length"
    status = "in_progress" if finished is None else ("incomplete" if incomplete else
                                                     "completed")
    return ResponsePublic(
        id=response_id, created_at=int(time.time()), status=status, model=model,
        incomplete_details={"reason": "max_output_tokens"} if incomplete else None,
        output=output, instructions=body.instructions,
        max_output_tokens=body.max_output_tokens, temperature=body.temperature,
        top_p=body.top_p, parallel_tool_calls=body.parallel_tool_calls,
        tool_choice=body.tool_choice if body.tool_choice is not None else "auto",
        tools=[t.model_dump(exclude_none=True) for t in body.tools or ()],
        text=body.text.model_dump(by_alias=True, exclude_none=True) if body.text and
        body.text.format else {"format": {"type": "text"}},
        metadata=body.metadata or {},
        usage=response_usage(prompt, finished) if finished is not None else None)
