"""AsyncEngine: the EngineAPI over a background step loop, on the embedded default model."""

from __future__ import annotations

import asyncio
import gc

import pytest

from engine import AsyncEngine, LLMEngine
from engine.api import (
    ConstraintError,
    EngineAPI,
    EngineOverloadedError,
    PromptTooLongError,
    RequestFailedError,
    SamplingParams,
)
from engine.config import EngineConfig


def chat(tokenizer, user: str) -> list[int]:
    text = tokenizer.apply_chat_template([{"role": "user", "content": user}],
                                         add_generation_prompt=True, tokenize=False)
    return tokenizer.encode(text, add_special_tokens=False)


@pytest.fixture(scope="module")
def engines(default_loaded):
    config = EngineConfig(device="cpu", dtype="float32", num_pages=128)
    sync = LLMEngine(config, loaded=default_loaded)
    async_engine = AsyncEngine(engine=LLMEngine(config, loaded=default_loaded))
    yield sync, async_engine
    async_engine.close()


def test_concurrent_streams_match_the_synchronous_engine(engines, default_loaded):
    sync, engine = engines
    assert isinstance(engine, EngineAPI) and engine.model_name == sync.model_name
    tok = default_loaded.tokenizer
    prompts = [chat(tok, q) for q in ("Name a color.", "What is 3+4?", "Say hello in French.")]
    sampling = SamplingParams(max_tokens=8)
    expected = sync.generate(prompts, sampling)

    async def consume(ids):
        texts, tokens, final = [], [], None
        async for chunk in engine.stream(ids, sampling):
            texts.append(chunk.text)
            tokens += chunk.token_ids
            final = chunk.finished
        return "".join(texts), tokens, final

    async def main():
        return await asyncio.gather(*(consume(p) for p in prompts))

    for (text, tokens, final), want in zip(asyncio.run(main()), expected, strict=True):
        assert tokens == want.token_ids == final.token_ids
        assert text == want.text == final.text


def test_bad_requests_raise_in_the_caller_and_abort_ends_a_request(engines, default_loaded):
    _, engine = engines
    ids = chat(default_loaded.tokenizer, "Tell me a long story about a dragon.")

    async def main():
        with pytest.raises(ValueError, match="prompt is empty"):
            await engine.generate([], SamplingParams())
        with pytest.raises(ValueError, match="invalid regex"):
            await engine.generate(ids, SamplingParams(regex="(("))
        task = asyncio.create_task(engine.generate(ids, SamplingParams(max_tokens=500),
                                                   request_id="long"))
        await asyncio.sleep(0.3)
        engine.abort("long")
        return await task

    result = asyncio.run(main())
    assert result.finish_reason == "abort" and len(result.token_ids) < 500


def test_prefill_score_and_release_through_the_api(engines, default_loaded):
    sync, engine = engines
    tok = default_loaded.tokenizer
    prefix = chat(tok, "Is the sky blue? Answer yes or no.")
    options = [tok.encode(t, add_special_tokens=False) for t in ("Yes", "No", "Purple")]

    async def main():
        handle = await engine.prefill(prefix)
        scores = await engine.score(prefix, options)
        out = await engine.generate(prefix, SamplingParams(max_tokens=3))
        engine.release(handle)
        with pytest.raises(ValueError, match="not pinned"):
            engine.release(handle)
        return handle, scores, out

    handle, scores, out = asyncio.run(main())
    assert handle.token_ids == tuple(prefix)
    assert out.cached_tokens == 16 * (len(prefix) // 16)
    assert scores.logprobs == pytest.approx(sync.score(prefix, options).logprobs, abs=1e-4)
    assert scores.cached_tokens == 16 * (len(prefix) // 16)  # the pinned prompt's whole pages
    assert engine.stats().generated_tokens >= 3


def test_clearing_the_prefix_cache_makes_the_next_request_compute_its_prompt(engines,
                                                                          default_loaded):
    _, engine = engines
    prompt = chat(default_loaded.tokenizer, "Count from one to twenty, slowly, in words. " * 4)

    async def main() -> tuple[int, int, int]:
        await engine.generate(prompt, SamplingParams(max_tokens=1))
        warm = await engine.generate(prompt, SamplingParams(max_tokens=1))
        freed = await engine.clear_prefix_cache()
        cold = await engine.generate(prompt, SamplingParams(max_tokens=1))
        return warm.cached_tokens, freed, cold.cached_tokens

    warm, freed, cold = asyncio.run(main())
    assert warm >= 16 and freed >= warm // 16 and cold == 0


def test_check_raises_what_submitting_would_without_queueing(engines, default_loaded):
    _, engine = engines
    ids = chat(default_loaded.tokenizer, "Name a color.")
    too_long = ids * (engine.max_context // len(ids) + 1)

    async def main():
        running = asyncio.create_task(engine.generate(ids, SamplingParams(max_tokens=16)))
        await asyncio.sleep(0.05)  # the engine thread is stepping while the loop checks
        engine.check(ids, SamplingParams(max_tokens=8))
        engine.check(ids, SamplingParams(json_schema={"type": "object"}))
        with pytest.raises(PromptTooLongError, match="context"):
            engine.check(too_long, SamplingParams())
        with pytest.raises(ConstraintError, match="json_schema"):
            engine.check(ids, SamplingParams(json_schema={"type": 5}))
        with pytest.raises(ConstraintError, match="invalid regex"):
            engine.check(ids, SamplingParams(regex="(("))
        return await running

    assert asyncio.run(main()).finish_reason in ("stop", "length")
    assert not engine.engine.requests  # nothing checked was queued


def test_a_closed_engine_aborts_what_runs_and_refuses_what_comes(default_loaded):
    config = EngineConfig(device="cpu", dtype="float32", num_pages=64)
    engine = AsyncEngine(config, loaded=default_loaded)
    ids = chat(default_loaded.tokenizer, "Tell me a long story about a dragon.")

    async def main():
        task = asyncio.create_task(engine.generate(ids, SamplingParams(max_tokens=500)))
        await asyncio.sleep(0.3)
        engine.close()
        result = await task
        with pytest.raises(EngineOverloadedError):
            await engine.generate(ids, SamplingParams(max_tokens=4))
        with pytest.raises(EngineOverloadedError):
            await engine.prefill(ids)
        with pytest.raises(EngineOverloadedError):
            engine.check(ids, SamplingParams())
        return result

    result = asyncio.run(main())
    assert result.finish_reason == "abort" and len(result.token_ids) < 500
    engine.close()  # idempotent


def test_a_request_that_fails_in_a_step_fails_alone(engines, default_loaded):
    """A request whose choice raises (here: a top_k no tensor holds, queued past the checks
    as a check that missed a case would let it) is failed with a clear error; the requests
    batched with it finish exactly as they would alone."""
    sync, _ = engines
    tok = default_loaded.tokenizer
    prompts = [chat(tok, q) for q in ("Name a color.", "What is 3+4?")]
    sampling = SamplingParams(max_tokens=6)
    alone = sync.generate(prompts, sampling)
    good = [sync.add_request(p, sampling) for p in prompts]
    sync._queue_generation(prompts[0], SamplingParams(max_tokens=6, temperature=1.0,
                                                      top_k=2**70), None, 0, "bad")
    failed, done = None, {}
    while sync.has_unfinished():
        for out in sync.step():
            if out.error is not None:
                failed = out
            elif out.finished is not None:
                done[out.request_id] = out.finished
    assert failed is not None and failed.request_id == "bad"
    assert isinstance(failed.error, RequestFailedError)
    assert "choosing its next token" in str(failed.error)
    assert [done[r].token_ids for r in good] == [g.token_ids for g in alone]
    assert "bad" not in sync.requests


def test_a_temperature_under_the_epsilon_decodes_greedily(engines, default_loaded):
    _, engine = engines
    ids = chat(default_loaded.tokenizer, "Name a color.")

    async def main():
        return await asyncio.gather(*(engine.generate(ids, SamplingParams(max_tokens=6,
                                                                           temperature=t))
                                      for t in (0.0, 5e-324, 1e-310)))

    greedy, *tiny = asyncio.run(main())
    assert all(g.token_ids == greedy.token_ids for g in tiny)


def test_a_warmed_up_engine_freezes_the_heap_until_it_closes(default_loaded):
    """After a serving start the cycle collector no longer scans what start-up left (a full
    collection over it stalls every thread); a closed engine hands it back."""
    config = EngineConfig(device="cpu", dtype="float32", num_pages=64)
    cold = AsyncEngine(config, loaded=default_loaded)
    assert gc.get_freeze_count() == 0
    cold.close()
    warmed = LLMEngine(config, loaded=default_loaded)
    warmed.warmup_s = 1.0  # what warm_up records (it takes minutes on the CPU)
    engine = AsyncEngine(engine=warmed)
    try:
        assert gc.get_freeze_count() > 100_000  # torch, transformers and the model's modules
        ids = chat(default_loaded.tokenizer, "Say hello.")
        result = asyncio.run(engine.generate(ids, SamplingParams(max_tokens=4)))
        assert len(result.token_ids) == 4
    finally:
        engine.close()
    assert gc.get_freeze_count() == 0
