"""A stream that fails after its first byte ends with an error event in OpenAI's envelope
and then a clean end (`[DONE]` for chat and completions, nothing more for responses)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from engine.api import PromptTooLongError
from web.openai_stream import sse
from web.responses_stream import event_stream


async def failing() -> AsyncIterator[dict]:
    yield {"type": "response.created", "n": 1}
    raise PromptTooLongError("the request needs 9 KV pages but the engine has only 8")


async def body_of(response) -> str:
    return "".join([part if isinstance(part, str) else part.decode()
                    async for part in response.body_iterator])


def test_chat_stream_ends_with_an_error_event_then_done() -> None:
    closed = []
    text = asyncio.run(body_of(sse(failing(), lambda: closed.append(True))))
    events = [e.removeprefix("data: ") for e in text.strip().split("\n\n")]
    assert json.loads(events[0]) == {"type": "response.created", "n": 1}
    error = json.loads(events[1])["error"]
    assert error["code"] == "context_length_exceeded" and "KV pages" in error["message"]
    assert error["type"] == "invalid_request_error"
    assert events[2:] == ["[DONE]"] and closed == [True]


def test_responses_stream_ends_with_an_error_event() -> None:
    closed = []
    text = asyncio.run(body_of(event_stream(failing(), lambda: closed.append(True))))
    frames = text.strip().split("\n\n")
    assert frames[1].startswith("event: error\n")
    error = json.loads(frames[1].split("data: ", 1)[1])
    assert error["type"] == "error" and error["code"] == "context_length_exceeded"
    assert error["sequence_number"] == 1 and len(frames) == 2 and closed == [True]
