"""OpenAI-compatible /v1/chat/completions, /v1/completions and /v1/models on flowc's engine.
Every error here is answered in OpenAI's envelope (web/openai_errors.py)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Request

from engine.api import EngineAPI, Generation, PromptScores
from web.chat_request import prepare_chat
from web.completions import (
    check_all,
    check_context,
    completion_prompts,
    finish_reason,
    generate_all,
    sampling_for,
    take_slots,
    usage,
)
from web.deps import ServicesDep
from web.disconnect import unless_disconnected
from web.errors import shown_id
from web.logprobs import chat_logprobs, completion_logprobs
from web.openai_errors import OPENAI_ERRORS, OpenAIError, OpenAIRoute
from web.openai_schemas import (
    AssistantMessage,
    ChatChoice,
    ChatCompletionCreate,
    ChatCompletionPublic,
    CompletionChoice,
    CompletionCreate,
    CompletionPublic,
    ModelPublic,
    ModelsPublic,
)
from web.openai_stream import STREAMED, chat_chunks, completion_chunks, sse
from web.services import Services
from web.tool_parser import finished_calls
from web.tool_use import ToolUse

router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute)
DEFAULT_MODEL = "default"


def served_model(services: Services, name: str) -> None:
    """Raise a 404 unless `name` is the served model (or 'default')."""
    if name not in (services.model_name, DEFAULT_MODEL):
        raise OpenAIError(404, f"The model {shown_id(name)} does not exist: this server serves "
                               f"'{services.model_name}' (also called '{DEFAULT_MODEL}')",
                          param="model", code="model_not_found")


def _model(services: Services) -> ModelPublic:
    created = int(time.time() - (time.monotonic() - services.started_at))
    return ModelPublic(id=services.model_name, created=created)


@router.get("/models", response_model=ModelsPublic, responses=OPENAI_ERRORS)
async def list_models(services: ServicesDep) -> ModelsPublic:
    return ModelsPublic(data=[_model(services)])


@router.get("/models/{model_id}", response_model=ModelPublic, responses=OPENAI_ERRORS)
async def get_model(model_id: str, services: ServicesDep) -> ModelPublic:
    served_model(services, model_id)
    return _model(services)


@router.post("/chat/completions", response_model=ChatCompletionPublic, responses={
    200: {"description": "The completion, or chunks as server-sent events when stream is true",
          "content": STREAMED}, **OPENAI_ERRORS})
async def chat_completions(body: ChatCompletionCreate, services: ServicesDep,
                           request: Request) -> Any:
    served_model(services, body.model)
    tokenizer, engine = services.tokenizer, services.engine
    chat = prepare_chat(body, services)
    prompt, samplings, tools = chat.prompt, chat.samplings, chat.tools
    meta = _meta("chatcmpl", services.model_name)
    slots = take_slots(services.slots, 1, len(samplings))
    if body.stream:
        include = bool(body.stream_options and body.stream_options.include_usage)
        chunks = chat_chunks(engine, tokenizer, prompt, samplings, meta, tools, body.logprobs,
                             include)
        return sse(services.drain.until_over(chunks), lambda: services.slots.release(slots))
    try:
        results = await unless_disconnected(
            request, services.drain.before_over(generate_all(engine, [prompt], samplings)))
    finally:
        services.slots.release(slots)
    choices = [_chat_choice(i, g, tools, tokenizer, body.logprobs)
               for i, g in enumerate(results)]
    return ChatCompletionPublic(**meta, choices=choices, usage=usage([prompt], results))


def _chat_choice(index: int, g: Generation, tools: ToolUse | None, tokenizer: Any,
                 logprobs: bool) -> ChatChoice:
    content, calls = g.text, []
    if tools is not None and tools.reads_calls:
        content, calls = finished_calls(tools.fmt, g.text)
    message = AssistantMessage(content=content, tool_calls=calls or None)
    return ChatChoice(index=index, message=message,
                      finish_reason="tool_calls" if calls else finish_reason(g),  # type: ignore[arg-type]
                      logprobs=chat_logprobs(tokenizer, g) if logprobs else None)


@router.post("/completions", response_model=CompletionPublic, responses={
    200: {"description": "The completion, or chunks as server-sent events when stream is true",
          "content": STREAMED}, **OPENAI_ERRORS})
async def completions(body: CompletionCreate, services: ServicesDep, request: Request) -> Any:
    served_model(services, body.model)
    tokenizer, engine = services.tokenizer, services.engine
    prompts = completion_prompts(tokenizer, body.prompt)
    top = body.logprobs or 0
    samplings = sampling_for(body, services.settings, len(tokenizer),
                             logprobs=body.logprobs is not None, top_logprobs=top)
    check_context(engine, prompts, samplings[0].max_tokens)
    meta = _meta("cmpl", services.model_name)
    echoes = [tokenizer.decode(p) if body.echo else "" for p in prompts for _ in samplings]
    if body.stream:  # refusals before the first byte; generate raises them itself
        check_all(engine, prompts, samplings)
    slots = take_slots(services.slots, len(prompts), len(samplings))
    if body.stream:
        include = bool(body.stream_options and body.stream_options.include_usage)
        chunks = completion_chunks(engine, prompts, samplings, meta, echoes, include)
        return sse(services.drain.until_over(chunks), lambda: services.slots.release(slots))
    try:
        results = await unless_disconnected(
            request, services.drain.before_over(generate_all(engine, prompts, samplings)))
        scores = await unless_disconnected(request, _prompt_scores(engine, prompts, top)) \
            if body.echo and body.logprobs is not None else None
    finally:
        services.slots.release(slots)
    choices = []
    for i, g in enumerate(results):
        p = i // len(samplings)
        logprobs = None if body.logprobs is None else completion_logprobs(
            tokenizer, g, top, prompts[p], scores[p] if scores else None)
        choices.append(CompletionChoice(index=i, text=echoes[i] + g.text, logprobs=logprobs,
                                        finish_reason=finish_reason(g)))  # type: ignore[arg-type]
    return CompletionPublic(**meta, choices=choices, usage=usage(prompts, results))


async def _prompt_scores(engine: EngineAPI, prompts: list[list[int]], top: int
                         ) -> list[PromptScores]:
    return [await engine.score_prompt(p, top) for p in prompts]


def _meta(prefix: str, model: str) -> dict[str, Any]:
    return {"id": f"{prefix}-{uuid.uuid4().hex}", "created": int(time.time()), "model": model}
