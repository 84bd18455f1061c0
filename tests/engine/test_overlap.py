"""Overlapped decoding (engine/overlap.py) on the embedded default model, float32 on the CPU:
the same tokens, log-probabilities and finish reasons as stepping synchronously, whatever
arrives, forks or aborts while a step is in flight, and no page left behind."""

from __future__ import annotations

import pytest

from engine import LLMEngine
from engine.api import SamplingParams
from engine.config import EngineConfig

QUESTIONS = ["What is the capital of France?", "Hi!", "Write a haiku about autumn.",
             "List three prime numbers.", "Why do cats purr?", "2+2=?"]


def make(loaded, overlap: bool) -> LLMEngine:
    return LLMEngine(EngineConfig(device="cpu", dtype="float32", num_pages=256, page_size=16,
                                  overlap_decode=overlap), loaded=loaded)


@pytest.fixture(scope="module")
def prompts(default_loaded) -> list[list[int]]:
    tok = default_loaded.tokenizer
    texts = [tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False,
                                     add_generation_prompt=True) for q in QUESTIONS]
    return [tok.encode(t, add_special_tokens=False) for t in texts]


def mixed_params() -> list[SamplingParams]:
    """Different lengths (1 token too), stop strings, log-probs and EOS left on."""
    return [SamplingParams(max_tokens=n, logprobs=bool(i % 2), stop=["."] if i == 2 else [])
            for i, n in enumerate([1, 7, 24, 3, 16, 12])]


def summary(outs) -> list[tuple]:
    return [(o.token_ids, o.finish_reason, o.logprobs) for o in outs]


def pages_held_only_by_cache(engine: LLMEngine) -> bool:
    return engine.kv.pool.num_used == engine.kv.cache.num_pages


def test_overlapped_generation_equals_synchronous(default_loaded, prompts):
    plain, overlapped = make(default_loaded, False), make(default_loaded, True)
    expected = summary(plain.generate(prompts, mixed_params()))
    assert summary(overlapped.generate(prompts, mixed_params())) == expected
    assert overlapped.stats().extra["overlapped_steps"] >= 10
    assert overlapped.overlap.batches.advanced >= 5  # batches advanced on the device too
    assert plain.stats().extra["overlapped_steps"] == 0
    assert pages_held_only_by_cache(overlapped)
    assert len({r for r in (e[1] for e in expected)}) >= 2  # both "length" and "stop" seen


def test_requests_arriving_forking_and_aborting_mid_flight(default_loaded, prompts):
    reference = make(default_loaded, False)
    expected = {i: o.token_ids for i, o in
                enumerate(reference.generate(prompts, SamplingParams(max_tokens=12)))}
    engine = make(default_loaded, True)
    greedy = SamplingParams(max_tokens=12)
    ids = {engine.add_request(prompts[0], greedy): 0, engine.add_request(prompts[1], greedy): 1}
    done: dict[str, list[int]] = {}
    for step in range(40):
        for out in engine.step():
            if out.finished is not None:
                done[out.request_id] = out.finished.token_ids
        if step == 3:  # a step is in flight now: a new request joins
            assert engine.overlap.inflight is not None
            haiku = engine.add_request(prompts[2], greedy)
            ids[haiku] = 2
        if step == 6:
            fork = engine.fork(haiku)  # reads the step in flight first
            doomed = engine.add_request(prompts[3], greedy)
        if step == 9:
            assert engine.abort(doomed)
        if not engine.has_unfinished():
            break
    assert {r: done[r] for r in ids} == {r: expected[i] for r, i in ids.items()}
    assert done[fork][:1] and done[doomed] is not None
    assert pages_held_only_by_cache(engine)


def test_sampled_requests_overlap_and_draw_the_synchronous_tokens(default_loaded, prompts):
    sampled = [SamplingParams(max_tokens=10, temperature=t, top_p=p, seed=i, logprobs=True)
               for i, (t, p) in enumerate([(0.8, 1.0), (1.2, 0.9), (0.0, 1.0), (1.0, 0.5)])]
    plain, overlapped = make(default_loaded, False), make(default_loaded, True)
    expected = summary(plain.generate(prompts[:4], sampled))
    assert summary(overlapped.generate(prompts[:4], sampled)) == expected
    assert overlapped.stats().extra["overlapped_steps"] >= 5
    assert pages_held_only_by_cache(overlapped)


def test_constrained_requests_run_synchronously(default_loaded, prompts):
    engine = make(default_loaded, True)
    engine.generate(prompts[:2], SamplingParams(max_tokens=6, regex="[a-z ]{1,12}"))
    assert engine.stats().extra["overlapped_steps"] == 0
