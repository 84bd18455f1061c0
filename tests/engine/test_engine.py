"""LLMEngine on the embedded default model (float32, CPU) against transformers."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import torch

from engine.api import (
    ConstraintError,
    EmptyPromptError,
    PromptTooLongError,
    RequestError,
    SamplingParams,
)
from engine.config import EngineConfig
from engine.engine import LLMEngine
from engine.kv.block_pool import pages_for

MAX_NEW = 10
SYSTEM = (
    "You are a meticulous security analyst working in a large company's operations centre. "
    "You read alerts from intrusion detection systems, firewalls and endpoint agents, and "
    "you explain in plain words what happened, how severe it is and what to do next. "
    "Always be concise, name the evidence you rely on, and never invent facts. "
)
QUESTIONS = [
    "What is the capital of France?", "Hi!", "Write a haiku about autumn leaves.",
    "Explain recursion to a child in one paragraph, with an example about dolls.",
    "List three prime numbers.", "What does HTTP stand for?",
    "Give me a recipe for pancakes. " * 6, "Translate 'thank you' into German.",
    "Why do cats purr?", "2+2=?", "Name a famous painting by Leonardo da Vinci.",
    "Describe the water cycle step by step, mentioning evaporation, condensation, "
    "precipitation and collection, in simple terms for a school report.",
]
ALERTS = [
    "Alert: 45 failed SSH logins from 203.0.113.7 in 2 minutes.",
    "Alert: powershell.exe spawned by winword.exe on host FIN-22.",
    "Alert: outbound traffic of 3 GB to an unknown host at 02:14.",
    "Alert: new admin account 'svc_backup2' created outside change window.",
    "Alert: antivirus quarantined invoice.pdf.exe on host HR-03.",
    "Alert: DNS queries to a domain registered yesterday.",
    "Alert: user logged in from two countries within ten minutes.",
    "Alert: web server returned 500 errors to 1200 requests from one IP.",
]


def chat(tokenizer, user: str, system: str | None = None) -> list[int]:
    messages = ([{"role": "system", "content": system}] if system else []) + \
        [{"role": "user", "content": user}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tokenizer.encode(text, add_special_tokens=False)


@pytest.fixture(scope="module")
def prompts(default_loaded) -> list[list[int]]:
    tok = default_loaded.tokenizer
    return [chat(tok, q) for q in QUESTIONS] + [chat(tok, a, SYSTEM) for a in ALERTS]


@pytest.fixture(scope="module")
def reference(hf_model, default_loaded, prompts) -> list[list[int]]:
    """transformers `generate`, greedy, one prompt at a time."""
    out = []
    with torch.inference_mode():
        for p in prompts:
            ids = hf_model.generate(torch.tensor([p]), max_new_tokens=MAX_NEW, do_sample=False,
                                    eos_token_id=list(default_loaded.eos_token_ids),
                                    pad_token_id=0)
            out.append(ids[0, len(p):].tolist())
    return out


def make_engine(loaded, **overrides) -> LLMEngine:
    settings = {"device": "cpu", "dtype": "float32", "num_pages": 192, "page_size": 16}
    settings.update(overrides)
    return LLMEngine(EngineConfig(**settings), loaded=loaded)


@pytest.fixture(scope="module")
def engine(default_loaded) -> LLMEngine:
    return make_engine(default_loaded)


GREEDY = SamplingParams(max_tokens=MAX_NEW)


def test_a_batch_of_20_greedy_prompts_is_token_identical_to_transformers(
        engine, prompts, reference):
    assert len(prompts) >= 20 and len({len(p) for p in prompts}) > 10
    outs = engine.generate(prompts, GREEDY)
    assert [o.token_ids for o in outs] == reference
    # the same batch again comes from the prefix cache and gives the same tokens
    again = engine.generate(prompts, GREEDY)
    assert [o.token_ids for o in again] == reference
    cached = [o.cached_tokens for o in again]
    assert cached == [16 * ((len(p) - 1) // 16) for p in prompts]
    assert engine.stats().extra["preemptions"] == 0


@pytest.mark.parametrize("variant", ["prefix_cache_off", "tiny_page_budget", "small_chunks",
                                     "overlapped"])
def test_cache_off_preemption_and_chunking_change_nothing(default_loaded, prompts, reference,
                                                          variant):
    subset = [1, 3, 6, 12, 13, 17]  # short and long prompts, three sharing a long prefix
    longest = max(len(prompts[i]) for i in subset) + MAX_NEW
    overrides = {
        "prefix_cache_off": {"enable_prefix_cache": False},
        # small pages fill up during decode: the pool runs out and sequences are preempted
        "tiny_page_budget": {"num_pages": pages_for(longest, 4) + 3, "page_size": 4},
        "small_chunks": {"prefill_chunk": 24, "max_batch_tokens": 64},
        "overlapped": {"overlap_decode": True},
    }[variant]
    engine = make_engine(default_loaded, **overrides)
    outs = engine.generate([prompts[i] for i in subset], GREEDY)
    assert [o.token_ids for o in outs] == [reference[i] for i in subset]
    if variant == "tiny_page_budget":
        assert engine.stats().extra["preemptions"] > 0
    if variant == "prefix_cache_off":
        assert engine.stats().extra["cached_pages"] == 0
    if variant == "overlapped":
        assert engine.stats().extra["overlapped_steps"] >= MAX_NEW - 2


def test_a_fork_shares_its_parents_pages_and_writes_to_its_own(default_loaded, prompts):
    engine = make_engine(default_loaded, enable_prefix_cache=False)
    prompt = prompts[13]  # long enough for several whole pages
    solo = engine.generate([prompt], SamplingParams(max_tokens=8))[0].token_ids
    parent = engine.add_request(prompt, SamplingParams(max_tokens=8))
    while len(engine.requests[parent].seq.output_ids) < 3:
        engine.step()
    pseq = engine.requests[parent].seq
    assert pseq.num_computed_tokens % 16, "the test wants a partial last page"
    used = engine.kv.pool.num_used
    child = engine.fork(parent, SamplingParams(max_tokens=5))
    cseq = engine.requests[child].seq
    full = pseq.num_computed_tokens // 16
    assert engine.kv.pool.num_used == used + 1  # only the partial last page was copied
    assert cseq.block_table[:full] == pseq.block_table[:full]
    assert all(engine.kv.pool.ref(p) == 2 for p in pseq.block_table[:full])
    assert cseq.block_table[full] != pseq.block_table[full]
    done = engine.run_until_done([parent, child])
    assert done[parent].token_ids == solo  # the parent is undisturbed
    assert done[child].token_ids == solo[3:8]  # greedy from the same context
    assert engine.kv.pool.num_used == 0


def test_constrained_outputs_always_satisfy_their_constraint(engine, default_loaded):
    tok = default_loaded.tokenizer
    schema = {"type": "object",
              "properties": {"severity": {"enum": ["low", "medium", "high"]},
                             "score": {"type": "integer", "minimum": 0, "maximum": 10}},
              "required": ["severity", "score"], "additionalProperties": False}
    regex = r"(yes|no), [0-9]{1,2} [a-z]{1,8}"
    choices = ("benign", "suspicious", "malicious")
    jobs = []
    for seed in range(8):
        for kind, params in (("regex", {"regex": regex}), ("json", {"json_schema": schema}),
                             ("choices", {"choices": choices})):
            sampling = SamplingParams(max_tokens=30, temperature=1.0, seed=seed, **params)
            jobs.append((kind, chat(tok, f"Rate alert number {seed}."), sampling))
    outs = engine.generate([j[1] for j in jobs], [j[2] for j in jobs])
    for (kind, _, _), out in zip(jobs, outs, strict=True):
        assert out.finish_reason == "stop", out
        if kind == "regex":
            assert re.fullmatch(regex, out.text)
        elif kind == "json":
            jsonschema.validate(json.loads(out.text), schema)
        else:
            assert out.text in choices


def test_pages_in_use_hold_at_least_95_percent_live_tokens(default_loaded, prompts):
    engine = make_engine(default_loaded, page_size=4, max_batch_tokens=256, num_pages=400)
    for i in range(8, 20):  # prompts of 30 to 120 tokens, some sharing a long prefix
        engine.add_request(prompts[i], SamplingParams(max_tokens=3 + i % 5))
    fills = []
    while engine.has_unfinished():
        engine.step()
        pages = engine.kv.pool.num_used
        if pages:
            live = engine.kv.live_tokens(engine.scheduler.running)
            fills.append(live / (pages * engine.kv.page_size))
    print(f"KV fill: min {min(fills):.4f} over {len(fills)} steps")
    assert len(fills) > 5 and min(fills) >= 0.95, fills


def test_bad_requests_raise_at_add_request_and_leave_the_batch_alone(engine, prompts,
                                                                      reference):
    p = prompts[1]
    bad = [
        (([], GREEDY), EmptyPromptError, "prompt is empty"),
        ((p, SamplingParams(max_tokens=-1)), RequestError, "max_tokens must be >= 0"),
        ((p, SamplingParams(max_tokens=10**7)), RequestError, "exceeds the model"),
        ((p * 400, GREEDY), PromptTooLongError, "context"),
        ((p, SamplingParams(regex="(unclosed")), ConstraintError, "invalid regex"),
        ((p, SamplingParams(json_schema={"type": 5})), ConstraintError, "json_schema"),
        (([10**9], GREEDY), RequestError, "outside the vocabulary"),
        ((p, SamplingParams(temperature=-1.0)), RequestError, "temperature"),
    ]
    good = [engine.add_request(prompts[0], GREEDY)]
    for (token_ids, sampling), error, message in bad:
        assert issubclass(error, ValueError)
        with pytest.raises(error, match=message):
            engine.add_request(token_ids, sampling)
        good.append(engine.add_request(prompts[len(good) * 2], GREEDY))
    done = engine.run_until_done(good)
    assert [done[g].token_ids for g in good] == [reference[2 * i] for i in range(len(good))]
    with pytest.raises(RequestError, match="prompt 1: the prompt is empty"):
        engine.generate([prompts[0], []])
    assert not engine.has_unfinished()


def test_stop_strings_stop_token_ids_and_logprobs(engine, hf_model, prompts, reference):
    prompt = prompts[0]
    full = engine.generate([prompt], SamplingParams(max_tokens=MAX_NEW, logprobs=True))[0]
    assert full.token_ids == reference[0] and "of France" in full.text
    # a stop string spanning tokens ends the text before it
    cut = engine.generate([prompt], SamplingParams(max_tokens=MAX_NEW, stop=("of Fr",)))[0]
    assert cut.finish_reason == "stop" and cut.text == full.text.split("of Fr")[0]
    # a stop token id ends generation after that token
    stop_id = full.token_ids[2]
    by_id = engine.generate([prompt], SamplingParams(max_tokens=MAX_NEW,
                                                     stop_token_ids=(stop_id,)))[0]
    assert by_id.token_ids == full.token_ids[:3] and by_id.finish_reason == "stop"
    # log-probs of the chosen tokens are the model's own
    with torch.inference_mode():
        logits = hf_model(torch.tensor([prompt + full.token_ids])).logits[0].float()
    expected = torch.log_softmax(logits, -1)[len(prompt) - 1:-1].gather(
        1, torch.tensor(full.token_ids).unsqueeze(1)).squeeze(1)
    assert torch.allclose(torch.tensor(full.logprobs), expected, atol=1e-3)


def hf_scores(hf_model, prompt: list[int], options: list[list[int]]) -> list[float]:
    """transformers' summed log-probability of each continuation after `prompt`."""
    expected = []
    with torch.inference_mode():
        for cont in options:
            logits = hf_model(torch.tensor([prompt + cont])).logits[0].float()
            lp = torch.log_softmax(logits, -1)[len(prompt) - 1:-1]
            expected.append(lp.gather(1, torch.tensor(cont).unsqueeze(1)).sum().item())
    return expected


def test_score_sums_the_log_probabilities_of_each_continuation(engine, hf_model, prompts,
                                                                default_loaded):
    tok = default_loaded.tokenizer
    prompt = prompts[0]
    options = [tok.encode(t, add_special_tokens=False) for t in
               ("The capital of France is Paris.", "The capital of France is Rome.", "Bananas")]
    scores = engine.score(prompt, options).logprobs
    assert scores == pytest.approx(hf_scores(hf_model, prompt, options), abs=1e-3)
    assert scores.index(max(scores)) == 0


def test_scoring_computes_the_prompt_once_and_each_longer_choice_on_a_copy(
        default_loaded, hf_model, prompts):
    engine = make_engine(default_loaded)
    tok = default_loaded.tokenizer
    prompt = prompts[5][:37]  # ends inside a page: the partial page is copied, not recomputed
    options = [tok.encode(t, add_special_tokens=False) for t in
               (" billing", " account access", " a", " technical support request")]
    before = engine.stats()
    scores = engine.score(prompt, options)
    after = engine.stats()
    computed = (after.prompt_tokens - before.prompt_tokens
                - (after.cached_tokens - before.cached_tokens))
    assert computed == len(prompt) + sum(len(o) for o in options if len(o) > 1)
    assert scores.cached_tokens == 0
    assert scores.logprobs == pytest.approx(hf_scores(hf_model, prompt, options), abs=1e-3)
    again = engine.score(prompt, options[:1])
    assert again.cached_tokens == 32  # the prompt's two whole pages, cached by the first
    engine.kv.clear_cache()
    assert engine.kv.pool.num_used == 0 and not engine.requests


def test_a_prefix_handle_is_pinned_reused_and_released(default_loaded, prompts, reference):
    engine = make_engine(default_loaded)
    prefix = prompts[12][:-4]
    handle = engine.prefill(prefix)
    assert handle.cached_tokens == 0 and handle.token_ids == tuple(prefix)
    assert engine.kv.cache.evict(10**6) == 0  # pinned pages stay
    out = engine.generate([prompts[12]], GREEDY)[0]
    assert out.token_ids == reference[12]
    assert out.cached_tokens == 16 * (len(prefix) // 16)
    engine.release(handle)
    with pytest.raises(ValueError, match="not pinned"):
        engine.release(handle)
    assert engine.kv.cache.evict(10**6) > 0 and engine.kv.pool.num_used == 0


def test_abort_ends_a_request_and_frees_its_pages(default_loaded, prompts):
    engine = make_engine(default_loaded, enable_prefix_cache=False)
    rid = engine.add_request(prompts[3], SamplingParams(max_tokens=50))
    other = engine.add_request(prompts[0], GREEDY)
    engine.step()
    assert engine.abort(rid) and not engine.abort("nope")
    done = engine.run_until_done([rid, other])
    assert done[rid].finish_reason == "abort" and done[other].finish_reason in ("stop", "length")
    assert engine.kv.pool.num_used == 0


def test_a_seed_gives_the_same_sample_whatever_the_batch(engine, prompts):
    sampling = SamplingParams(max_tokens=MAX_NEW, temperature=0.9, top_p=0.95, seed=1234)
    alone = engine.generate([prompts[2]], sampling)[0].token_ids
    batch = engine.generate([prompts[5], prompts[2], prompts[9]],
                            [SamplingParams(max_tokens=3, temperature=1.0), sampling, GREEDY])
    assert batch[1].token_ids == alone


def test_requests_arriving_with_one_new_prefix_compute_it_once(default_loaded, prompts):
    engine = make_engine(default_loaded)
    head = [t for p in prompts[8:12] for t in p]  # a long prefix no request has cached
    batch = [head + prompts[i] for i in range(4)]
    outputs = engine.generate(batch, GREEDY)
    stats = engine.stats()
    shared = len(head) - len(head) % engine.page_size
    assert stats.cached_tokens >= 3 * shared
    assert stats.prompt_tokens - stats.cached_tokens <= len(head) + sum(map(len, prompts[:4]))
    alone = make_engine(default_loaded).generate([batch[2]], GREEDY)[0]
    assert outputs[2].token_ids == alone.token_ids
