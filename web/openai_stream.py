"""Server-sent events of the OpenAI routes: chat chunks (text and tool-call deltas, as
OpenAI streams them), completion chunks, and the stream wrapper that turns a failure after
the first byte into an error event followed by a clean end."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.responses import StreamingResponse

from engine.api import EngineAPI, Generation, SamplingParams
from web.completions import finish_reason, stream_all, usage
from web.logprobs import chat_logprobs
from web.openai_errors import stream_error
from web.tool_parser import ToolCallStream
from web.tool_use import ToolUse

Chunk = dict[str, Any]
STREAMED = {"text/event-stream": {"schema": {
    "type": "object", "required": ["data"], "properties": {"data": {"type": "string"}}}}}


def sse(chunks: AsyncIterator[Chunk], on_close: Callable[[], None],
        done_marker: bool = True) -> StreamingResponse:
    """`data:` events of `chunks`, then `[DONE]` (chat and completions) when `done_marker`."""
    async def body() -> AsyncIterator[str]:
        try:
            async for chunk in chunks:
                yield f"data: {json.dumps(chunk)}\n\n"
        except Exception as exc:  # after the first byte: the stream ends with the error
            yield f"data: {json.dumps(stream_error(exc))}\n\n"
        finally:
            on_close()
        if done_marker:
            yield "data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


async def chat_chunks(engine: EngineAPI, tokenizer: Any, prompt: list[int],
                      samplings: list[SamplingParams], meta: dict[str, Any],
                      tools: ToolUse | None, logprobs: bool, include_usage: bool
                      ) -> AsyncIterator[Chunk]:
    chunk = {**meta, "object": "chat.completion.chunk"}

    def one(index: int, delta: dict[str, Any], reason: str | None = None,
            choice_logprobs: Any = None) -> Chunk:
        return {**chunk, "choices": [{"index": index, "delta": delta,
                                      "logprobs": choice_logprobs, "finish_reason": reason}]}

    readers = {i: ToolCallStream(tools.fmt) for i in range(len(samplings))
               } if tools is not None and tools.reads_calls else {}
    for i in range(len(samplings)):
        yield one(i, {"role": "assistant", "content": ""})
    results: list[Generation] = []
    async for index, part in stream_all(engine, [prompt], samplings):
        reader = readers.get(index)
        deltas = reader.push(part.text, part.finished is not None) if reader else (
            [{"content": part.text}] if part.text else [])
        for delta in deltas:
            yield one(index, delta)
        done = part.finished
        if done is not None:  # logprobs come whole with the last chunk of a choice
            results.append(done)
            reason = "tool_calls" if reader and reader.called else finish_reason(done)
            yield one(index, {}, reason,
                      chat_logprobs(tokenizer, done).model_dump() if logprobs else None)
    if include_usage:
        yield {**chunk, "choices": [], "usage": usage([prompt], results).model_dump()}


async def completion_chunks(engine: EngineAPI, prompts: list[list[int]],
                            samplings: list[SamplingParams], meta: dict[str, Any],
                            echoes: list[str], include_usage: bool) -> AsyncIterator[Chunk]:
    """`echoes[i]` (the prompt's text when echoing, else "") opens choice i."""
    chunk = {**meta, "object": "text_completion"}

    def one(index: int, text: str, reason: str | None = None) -> Chunk:
        return {**chunk, "choices": [{"index": index, "text": text, "logprobs": None,
                                      "finish_reason": reason}]}

    for index, echo in enumerate(echoes):
        if echo:
            yield one(index, echo)
    results: list[Generation] = []
    async for index, part in stream_all(engine, prompts, samplings):
        if part.text:
            yield one(index, part.text)
        if part.finished is not None:
            results.append(part.finished)
            yield one(index, "", finish_reason(part.finished))
    if include_usage:
        yield {**chunk, "choices": [], "usage": usage(prompts, results).model_dump()}
