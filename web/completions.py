"""OpenAI-style completions on the engine: prompts to token ids, request fields to
SamplingParams, n choices generated concurrently, streamed choices merged in arrival order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from engine.api import EngineAPI, Generation, SamplingParams, StreamChunk
from web.limits import Slots
from web.openai_errors import context_too_long, invalid
from web.openai_schemas import ChatCompletionCreate, CompletionCreate, Usage
from web.settings import Settings


def completion_prompts(tokenizer: Any, prompt: Any) -> list[list[int]]:
    """OpenAI's four prompt forms: a string, strings, token ids, lists of token ids."""
    if not prompt and not isinstance(prompt, str):
        _bad("prompt", "the prompt list is empty: give at least one prompt")
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
                 vocab_size: int, logprobs: bool, top_logprobs: int = 0,
                 structural_tag: dict[str, Any] | None = None) -> list[SamplingParams]:
    """One SamplingParams per choice; with a seed, choice i uses seed + i."""
    max_tokens = request.max_tokens
    if isinstance(request, ChatCompletionCreate):
        max_tokens = request.max_completion_tokens or max_tokens
    if max_tokens is None:
        max_tokens = settings.default_completion_tokens
    if max_tokens == 0 and not (isinstance(request, CompletionCreate) and request.echo):
        _bad("max_tokens", "max_tokens 0 needs echo (it scores the prompt alone)")
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
        seed=request.seed, stop=stops, logprobs=logprobs, top_logprobs=top_logprobs,
        logit_bias=_logit_bias(request, vocab_size), ignore_eos=request.ignore_eos,
        json_schema=_json_schema(request) if isinstance(request, ChatCompletionCreate) else None,
        choices=_guided_choice(request), structural_tag=structural_tag,
    )
    return [replace(base, seed=None if base.seed is None else base.seed + i)
            for i in range(request.n)]


def _logit_bias(request: ChatCompletionCreate | CompletionCreate, vocab_size: int
                ) -> tuple[tuple[int, float], ...]:
    pairs = []
    for key, bias in (request.logit_bias or {}).items():
        if not key.isdigit() or int(key) >= vocab_size:
            _bad(f"logit_bias.{key}", f"keys are token ids in [0, {vocab_size})")
        if not -100 <= bias <= 100:
            _bad(f"logit_bias.{key}", "a bias lies in [-100, 100]")
        pairs.append((int(key), float(bias)))
    return tuple(pairs)


def check_context(engine: EngineAPI, prompts: list[list[int]], max_tokens: int) -> None:
    """A prompt that fills the context is a context_length_exceeded 400 naming both lengths
    (a reply that would run past the context's end is cut there, as the engine does)."""
    for prompt in prompts:
        if len(prompt) >= engine.max_context:
            raise context_too_long(len(prompt), max_tokens, engine.max_context)


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


def take_slots(slots: Slots, prompts: int, n: int) -> int:
    """Hold one slot per generation (`prompts` × `n`), as that many separate requests would;
    return the count to release. A request larger than the whole limit is a 400 (it could
    never run), one that does not fit now a 429."""
    count = prompts * n
    if count > slots.limit:
        _bad("n", f"the request makes {count} generations ({prompts} prompts × n {n}) but this "
                  f"server runs at most {slots.limit} at once: send fewer prompts or a smaller n")
    slots.acquire(count)
    return count


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


def usage(prompts: list[list[int]], results: Sequence[Generation]) -> Usage:
    prompt_tokens = sum(len(p) for p in prompts)
    completion_tokens = sum(len(g.token_ids) for g in results)
    per_prompt = max(1, len(results) // max(1, len(prompts)))
    cached = sum(g.cached_tokens for g in results[::per_prompt])
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                 total_tokens=prompt_tokens + completion_tokens,
                 prompt_tokens_details={"cached_tokens": cached})


def _bad(path: str, message: str) -> None:
    raise invalid(path, message)
