"""OpenAI-style completions on the engine: prompts to token ids, request fields to
SamplingParams, n choices generated concurrently, streamed choices merged in arrival order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from engine.api import EngineAPI, Generation, SamplingParams, StreamChunk
from web.errors import InvalidInput
from web.openai_schemas import ChatCompletionCreate, ChatMessage, CompletionCreate
from web.settings import Settings

CHAT_ROLES = {"developer": "system", "tool": "user"}


def chat_prompt_ids(tokenizer: Any, messages: Sequence[ChatMessage]) -> list[int]:
    chat = [{"role": CHAT_ROLES.get(m.role, m.role), "content": m.text()} for m in messages]
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return list(tokenizer.encode(text, add_special_tokens=False))


def completion_prompts(tokenizer: Any, prompt: Any) -> list[list[int]]:
    """OpenAI's four prompt forms: a string, strings, token ids, lists of token ids."""
    if isinstance(prompt, str):
        prompt = [prompt]
    if prompt and all(isinstance(p, int) for p in prompt):
        prompt = [prompt]
    prompts = [list(tokenizer.encode(p, add_special_tokens=False)) if isinstance(p, str)
               else list(p) for p in prompt]
    vocab = len(tokenizer)
    for ids in prompts:
        if not ids:
            _bad("prompt", "the prompt is empty")
        if any(not 0 <= t < vocab for t in ids):
            _bad("prompt", f"token ids must lie in [0, {vocab})")
    return prompts


def sampling_for(request: ChatCompletionCreate | CompletionCreate, settings: Settings,
                 want_logprobs: bool) -> list[SamplingParams]:
    """One SamplingParams per choice; with a seed, choice i uses seed + i."""
    max_tokens = request.max_tokens
    if isinstance(request, ChatCompletionCreate):
        max_tokens = request.max_completion_tokens or max_tokens
    max_tokens = max_tokens or settings.default_completion_tokens
    if max_tokens > settings.max_completion_tokens:
        _bad("max_tokens", f"at most {settings.max_completion_tokens} on this server")
    if request.n > settings.max_n:
        _bad("n", f"at most {settings.max_n} on this server")
    stops = request.stop_strings()
    if len(stops) > 4:
        _bad("stop", "at most 4 stop strings")
    base = SamplingParams(
        max_tokens=max_tokens,
        temperature=1.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
        seed=request.seed, stop=stops, logprobs=want_logprobs, ignore_eos=request.ignore_eos,
        json_schema=_json_schema(request) if isinstance(request, ChatCompletionCreate) else None,
        choices=_guided_choice(request),
    )
    return [replace(base, seed=None if base.seed is None else base.seed + i)
            for i in range(request.n)]


def _guided_choice(request: ChatCompletionCreate | CompletionCreate) -> tuple[str, ...] | None:
    """vLLM's `guided_choice`: the reply is one of these strings; a JSON response_format
    would be a second constraint on the same reply."""
    if request.guided_choice is None:
        return None
    fmt = request.response_format if isinstance(request, ChatCompletionCreate) else None
    if fmt is not None and fmt.type != "text":
        _bad("guided_choice", f"guided_choice and response_format {fmt.type!r} both constrain "
             "the reply: give only one of them")
    return tuple(request.guided_choice)


def _json_schema(request: ChatCompletionCreate) -> dict[str, Any] | None:
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {"type": "object"}
    if fmt.json_schema is None or not fmt.json_schema.schema_:
        _bad("response_format.json_schema", "give a JSON schema under json_schema.schema")
    return fmt.json_schema.schema_


def check_all(engine: EngineAPI, prompts: list[list[int]],
              samplings: list[SamplingParams]) -> None:
    """Raise the engine's RequestError for any prompt before anything is queued or sent (the
    choices differ only by seed)."""
    for prompt in prompts:
        engine.check(prompt, samplings[0])


async def generate_all(engine: EngineAPI, prompts: list[list[int]],
                       samplings: list[SamplingParams]) -> list[Generation]:
    """Every (prompt, sampling) pair, prompt-major, concurrently; aborted if cancelled."""
    ids = [f"cmpl-{uuid.uuid4().hex}" for _ in range(len(prompts) * len(samplings))]
    jobs = [engine.generate(p, s, request_id=ids[i * len(samplings) + j])
            for i, p in enumerate(prompts) for j, s in enumerate(samplings)]
    try:
        return list(await asyncio.gather(*jobs))
    except asyncio.CancelledError:
        for request_id in ids:
            engine.abort(request_id)
        raise


async def stream_all(engine: EngineAPI, prompts: list[list[int]],
                     samplings: list[SamplingParams]) -> AsyncIterator[tuple[int, StreamChunk]]:
    """Chunks of every choice as they come, tagged with the choice index (prompt-major).
    A consumer that stops early aborts every unfinished request."""
    queue: asyncio.Queue[tuple[int, StreamChunk] | BaseException | None] = asyncio.Queue()
    pairs = [(p, s) for p in prompts for s in samplings]
    ids = [f"cmpl-{uuid.uuid4().hex}" for _ in pairs]

    async def pump(index: int, prompt: list[int], sampling: SamplingParams) -> None:
        try:
            async for chunk in engine.stream(prompt, sampling, request_id=ids[index]):
                await queue.put((index, chunk))
        except Exception as exc:  # surfaced to the consumer
            await queue.put(exc)
        finally:
            await queue.put(None)

    tasks = [asyncio.create_task(pump(i, p, s)) for i, (p, s) in enumerate(pairs)]
    done = 0
    try:
        while done < len(tasks):
            item = await queue.get()
            if item is None:
                done += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task, request_id in zip(tasks, ids, strict=True):
            if not task.done():
                engine.abort(request_id)
                task.cancel()


def finish_reason(generation: Generation) -> str:
    return "length" if generation.finish_reason == "length" else "stop"


def token_texts(tokenizer: Any, token_ids: Sequence[int]) -> list[str]:
    return [tokenizer.decode([t]) for t in token_ids]


def _bad(path: str, message: str) -> None:
    raise InvalidInput.one(path, message)
