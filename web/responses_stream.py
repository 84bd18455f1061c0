"""The Responses API's streamed events, in OpenAI's shapes and order:

`response.created`, `response.in_progress`; for a text reply `response.output_item.added`,
`response.content_part.added`, `response.output_text.delta`..., `response.output_text.done`,
`response.content_part.done`, `response.output_item.done`; for each function call
`response.output_item.added`, `response.function_call_arguments.delta`...,
`response.function_call_arguments.done`, `response.output_item.done`; last
`response.completed` (or `response.incomplete` when cut at max_output_tokens) with the whole
response. A failure after the first event is an `error` event, then the stream ends.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from fastapi.responses import StreamingResponse

from engine.api import EngineAPI, Generation, SamplingParams
from web.completions import stream_all
from web.openai_errors import as_openai_error
from web.responses_api import OutputItem, build_response, new_id
from web.responses_schemas import (
    OutputFunctionCall,
    OutputMessage,
    OutputText,
    ResponseCreate,
)
from web.tool_parser import ToolCallStream
from web.tool_use import ToolUse

Event = dict[str, Any]


class ResponseEvents:
    """Turns chat deltas into Responses events, keeping the output items as they grow."""

    def __init__(self) -> None:
        self.items: list[OutputItem] = []
        self.open: OutputItem | None = None

    def delta(self, delta: dict[str, Any]) -> list[Event]:
        if "content" in delta:
            return self._text(delta["content"])
        call = delta["tool_calls"][0]
        if "id" in call:
            events = self.close()
            item = OutputFunctionCall(id=new_id("fc"), call_id=call["id"],
                                      name=call["function"]["name"], arguments="",
                                      status="in_progress")
            return events + self._add(item)
        assert isinstance(self.open, OutputFunctionCall)
        self.open.arguments += call["function"]["arguments"]
        return [{"type": "response.function_call_arguments.delta", "item_id": self.open.id,
                 "output_index": len(self.items) - 1,
                 "delta": call["function"]["arguments"]}]

    def _text(self, text: str) -> list[Event]:
        events: list[Event] = []
        if not isinstance(self.open, OutputMessage):
            events += self.close()
            events += self._add(OutputMessage(id=new_id("msg"), content=[],
                                              status="in_progress"))
            part = OutputText(text="")
            self.open.content.append(part)  # type: ignore[union-attr]
            events.append({**self._where(), "type": "response.content_part.added",
                           "content_index": 0, "part": part.model_dump()})
        self.open.content[0].text += text  # type: ignore[union-attr]
        return events + [{**self._where(), "type": "response.output_text.delta",
                          "content_index": 0, "delta": text, "logprobs": []}]

    def _add(self, item: OutputItem) -> list[Event]:
        self.items.append(item)
        self.open = item
        return [{"type": "response.output_item.added", "output_index": len(self.items) - 1,
                 "item": item.model_dump()}]

    def _where(self) -> Event:
        assert self.open is not None
        return {"item_id": self.open.id, "output_index": len(self.items) - 1}

    def close(self, status: Literal["completed", "incomplete"] = "completed") -> list[Event]:
        """Finish the open item (if any) with its done events."""
        item, events = self.open, []
        if item is None:
            return []
        item.status = status
        if isinstance(item, OutputMessage):
            part = item.content[0]
            events += [{**self._where(), "type": "response.output_text.done",
                        "content_index": 0, "text": part.text, "logprobs": []},
                       {**self._where(), "type": "response.content_part.done",
                        "content_index": 0, "part": part.model_dump()}]
        else:
            events.append({**self._where(), "type": "response.function_call_arguments.done",
                           "name": item.name, "arguments": item.arguments})
        events.append({"type": "response.output_item.done", "output_index": len(self.items) - 1,
                       "item": item.model_dump()})
        self.open = None
        return events


async def response_events(engine: EngineAPI, body: ResponseCreate, model: str,
                          prompt: list[int], sampling: SamplingParams, tools: ToolUse | None
                          ) -> AsyncIterator[Event]:
    response_id = new_id("resp")
    start = build_response(body, response_id, model, [], None, prompt).model_dump()
    yield {"type": "response.created", "response": start}
    yield {"type": "response.in_progress", "response": start}
    reader = ToolCallStream(tools.fmt) if tools is not None and tools.reads_calls else None
    events, finished = ResponseEvents(), None
    async for _, part in stream_all(engine, [prompt], [sampling]):
        final = part.finished is not None
        deltas = reader.push(part.text, final) if reader else (
            [{"content": part.text}] if part.text else [])
        for delta in deltas:
            for event in events.delta(delta):
                yield event
        finished = part.finished or finished
    assert isinstance(finished, Generation)
    for event in events.close("incomplete" if finished.finish_reason == "length"
                              else "completed"):
        yield event
    done = build_response(body, response_id, model, events.items, finished, prompt)
    kind = "response.incomplete" if done.status == "incomplete" else "response.completed"
    yield {"type": kind, "response": done.model_dump()}


def event_stream(events: AsyncIterator[Event], on_close: Callable[[], None]
                 ) -> StreamingResponse:
    """`event:`/`data:` pairs numbered by `sequence_number`; an `error` event on failure."""
    async def body() -> AsyncIterator[str]:
        number = 0
        try:
            async for event in events:
                yield _frame({**event, "sequence_number": number})
                number += 1
        except Exception as exc:  # after the first byte: the stream ends with the error
            error = as_openai_error(exc)
            yield _frame({"type": "error", "code": error.code, "message": error.message,
                          "param": error.param, "sequence_number": number})
        finally:
            on_close()

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


def _frame(event: Event) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
