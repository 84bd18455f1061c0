"""OpenAI-compatible /v1/chat/completions, /v1/completions and /v1/models on flowc's engine."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from engine.api import EngineError, Generation
from web.completions import (
    chat_prompt_ids,
    check_all,
    completion_prompts,
    finish_reason,
    generate_all,
    sampling_for,
    stream_all,
    token_texts,
)
from web.deps import ServicesDep
from web.openai_schemas import (
    AssistantMessage,
    ChatChoice,
    ChatCompletionCreate,
    ChatCompletionPublic,
    ChoiceLogprobs,
    CompletionChoice,
    CompletionCreate,
    CompletionLogprobs,
    CompletionPublic,
    ModelPublic,
    ModelsPublic,
    TokenLogprob,
    Usage,
)
from web.responses import errors

router = APIRouter(prefix="/v1", tags=["openai"])
log = logging.getLogger("flowc.web.openai")
STREAMED = {"text/event-stream": {"schema": {
    "type": "object", "required": ["data"], "properties": {"data": {"type": "string"}}}}}


@router.get("/models", response_model=ModelsPublic)
async def list_models(services: ServicesDep) -> ModelsPublic:
    created = int(time.time() - (time.monotonic() - services.started_at))
    return ModelsPublic(data=[ModelPublic(id=services.model_name, created=created)])


@router.post("/chat/completions", response_model=ChatCompletionPublic, responses={
    200: {"description": "The completion, or chunks as server-sent events when stream is true",
          "content": STREAMED}, **errors(422, 429)})
async def chat_completions(body: ChatCompletionCreate, services: ServicesDep) -> Any:
    tokenizer = services.tokenizer
    prompt = chat_prompt_ids(tokenizer, body.messages)
    samplings = sampling_for(body, services.settings, want_logprobs=body.logprobs)
    meta = _meta("chatcmpl", services.model_name)
    if body.stream:  # refusals before the first byte; generate raises them itself
        check_all(services.engine, [prompt], samplings)
    services.slots.acquire()
    if body.stream:
        chunks = _chat_chunks(services, prompt, samplings, meta, body)
        return _sse(chunks, services.slots.release)
    try:
        results = await generate_all(services.engine, [prompt], samplings)
    finally:
        services.slots.release()
    choices = [ChatChoice(index=i, message=AssistantMessage(content=g.text),
                          finish_reason=finish_reason(g),  # type: ignore[arg-type]
                          logprobs=_chat_logprobs(tokenizer, g) if body.logprobs else None)
               for i, g in enumerate(results)]
    return ChatCompletionPublic(**meta, choices=choices, usage=_usage([prompt], results))


@router.post("/completions", response_model=CompletionPublic, responses={
    200: {"description": "The completion, or chunks as server-sent events when stream is true",
          "content": STREAMED}, **errors(422, 429)})
async def completions(body: CompletionCreate, services: ServicesDep) -> Any:
    tokenizer = services.tokenizer
    prompts = completion_prompts(tokenizer, body.prompt)
    samplings = sampling_for(body, services.settings, want_logprobs=body.logprobs is not None)
    meta = _meta("cmpl", services.model_name)
    if body.stream:  # refusals before the first byte; generate raises them itself
        check_all(services.engine, prompts, samplings)
    services.slots.acquire()
    if body.stream:
        return _sse(_completion_chunks(services, prompts, samplings, meta, body),
                    services.slots.release)
    try:
        results = await generate_all(services.engine, prompts, samplings)
    finally:
        services.slots.release()
    choices = []
    for i, g in enumerate(results):
        echo = tokenizer.decode(prompts[i // len(samplings)]) if body.echo else ""
        logprobs = _completion_logprobs(tokenizer, g) if body.logprobs is not None else None
        choices.append(CompletionChoice(index=i, text=echo + g.text, logprobs=logprobs,
                                        finish_reason=finish_reason(g)))  # type: ignore[arg-type]
    return CompletionPublic(**meta, choices=choices, usage=_usage(prompts, results))


async def _chat_chunks(services: Any, prompt: list[int], samplings: list, meta: dict[str, Any],
                       body: ChatCompletionCreate) -> AsyncIterator[dict[str, Any]]:
    chunk = {**meta, "object": "chat.completion.chunk"}
    for i in range(len(samplings)):
        yield {**chunk, "choices": [{"index": i, "delta": {"role": "assistant", "content": ""},
                                     "logprobs": None, "finish_reason": None}]}
    results: list[Generation] = []
    async for index, part in stream_all(services.engine, [prompt], samplings):
        done = part.finished
        if part.text:
            yield {**chunk, "choices": [{"index": index, "delta": {"content": part.text},
                                         "logprobs": None, "finish_reason": None}]}
        if done is not None:  # logprobs come whole with the last chunk of a choice
            results.append(done)
            logprobs = (_chat_logprobs(services.tokenizer, done).model_dump()
                        if body.logprobs else None)
            yield {**chunk, "choices": [{"index": index, "delta": {}, "logprobs": logprobs,
                                         "finish_reason": finish_reason(done)}]}
    if body.stream_options and body.stream_options.include_usage:
        yield {**chunk, "choices": [], "usage": _usage([prompt], results).model_dump()}


async def _completion_chunks(services: Any, prompts: list[list[int]], samplings: list,
                             meta: dict[str, Any], body: CompletionCreate
                             ) -> AsyncIterator[dict[str, Any]]:
    chunk = {**meta, "object": "text_completion"}
    results: list[Generation] = []
    async for index, part in stream_all(services.engine, prompts, samplings):
        if part.text:
            yield {**chunk, "choices": [{"index": index, "text": part.text, "logprobs": None,
                                         "finish_reason": None}]}
        if part.finished is not None:
            results.append(part.finished)
            yield {**chunk, "choices": [{"index": index, "text": "", "logprobs": None,
                                         "finish_reason": finish_reason(part.finished)}]}
    if body.stream_options and body.stream_options.include_usage:
        yield {**chunk, "choices": [], "usage": _usage(prompts, results).model_dump()}


def _sse(chunks: AsyncIterator[dict[str, Any]], on_close: Callable[[], None]
         ) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        try:
            async for chunk in chunks:
                yield f"data: {json.dumps(chunk)}\n\n"
        except Exception as exc:  # after the first byte: the stream ends with the error
            if not isinstance(exc, EngineError):
                log.exception("a streamed completion failed")
            message = str(exc) if isinstance(exc, EngineError) else "internal error"
            error = {"message": message, "type": type(exc).__name__}
            yield f"data: {json.dumps({'error': error})}\n\n"
        finally:
            on_close()
        yield "data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


def _meta(prefix: str, model: str) -> dict[str, Any]:
    return {"id": f"{prefix}-{uuid.uuid4().hex}", "created": int(time.time()), "model": model}


def _usage(prompts: list[list[int]], results: list[Generation]) -> Usage:
    prompt_tokens = sum(len(p) for p in prompts)
    completion_tokens = sum(len(g.token_ids) for g in results)
    per_prompt = max(1, len(results) // max(1, len(prompts)))
    cached = sum(g.cached_tokens for g in results[::per_prompt])
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                 total_tokens=prompt_tokens + completion_tokens,
                 prompt_tokens_details={"cached_tokens": cached})


def _token_logprob(tokenizer: Any, token_id: int, logprob: float) -> dict[str, Any]:
    text = tokenizer.decode([token_id])
    return {"token": text, "logprob": logprob, "bytes": list(text.encode()), "top_logprobs": []}


def _chat_logprobs(tokenizer: Any, g: Generation) -> ChoiceLogprobs:
    values = g.logprobs or []
    return ChoiceLogprobs(content=[TokenLogprob(**_token_logprob(tokenizer, t, lp))
                                   for t, lp in zip(g.token_ids, values, strict=False)])


def _completion_logprobs(tokenizer: Any, g: Generation) -> CompletionLogprobs:
    tokens = token_texts(tokenizer, g.token_ids)
    offsets, at = [], 0
    for token in tokens:
        offsets.append(at)
        at += len(token)
    return CompletionLogprobs(tokens=tokens, token_logprobs=list(g.logprobs or []),
                              text_offset=offsets)
