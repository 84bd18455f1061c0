import pytest
import torch

from compiler.tokenizer import load_tokenizer
from engine.api import GREEDY_BELOW, SamplingParams
from engine.detokenize import IncrementalDetokenizer, TextStream
from engine.sampling import Sampler, apply_top_k_top_p, check_sampling, gumbel_noise, row_key

VOCAB = 50


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


def logits_rows(n, seed=0):
    return torch.randn(n, VOCAB, generator=torch.Generator().manual_seed(seed)) * 3


def test_greedy_rows_take_the_argmax_and_report_model_logprobs():
    logits = logits_rows(4)
    result = Sampler()(logits, [SamplingParams()] * 4, [0] * 4)
    assert result.token_ids == logits.argmax(-1).tolist()
    expected = torch.log_softmax(logits, -1).max(-1).values
    assert torch.allclose(torch.tensor(result.logprobs), expected)


def test_a_mask_restricts_greedy_and_sampled_rows():
    logits = logits_rows(2)
    allowed = torch.zeros(2, VOCAB, dtype=torch.bool)
    allowed[:, [3, 17]] = True
    params = [SamplingParams(), SamplingParams(temperature=1.0)]
    for seed in range(20):
        tokens = Sampler()(logits, params, [0, row_key(seed, 0)], allowed).token_ids
        assert set(tokens) <= {3, 17}


def test_top_k_and_top_p_keep_exactly_the_expected_tokens():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]] * 3)
    out = apply_top_k_top_p(logits, torch.tensor([2, 0, 0]), torch.tensor([1.0, 0.7, 0.01]))
    kept = torch.isfinite(out)
    assert kept[0].tolist() == [True, True, False, False, False]
    # softmax of [4,3,2,1,0]: 0.636, 0.234, ... -> 0.7 needs the first two
    assert kept[1].tolist() == [True, True, False, False, False]
    assert kept[2].tolist() == [True, False, False, False, False]
    assert torch.equal(out[kept], logits[kept])


def test_a_seed_decides_the_tokens_whatever_else_is_in_the_batch():
    logits = logits_rows(3, seed=1)
    p = SamplingParams(temperature=1.0, top_p=0.9, top_k=20)
    alone = [Sampler()(logits[2:], [p], [row_key(7, 40)]).token_ids[0] for _ in range(3)]
    batched = Sampler()(logits, [SamplingParams(), p, p],
                        [0, row_key(99, 40), row_key(7, 40)]).token_ids[2]
    assert alone == [batched] * 3


def test_temperature_sampling_follows_the_softmax():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    p = SamplingParams(temperature=0.5)
    counts = torch.zeros(4)
    for position in range(2000):
        counts[Sampler()(logits, [p], [row_key(3, position)]).token_ids[0]] += 1
    expected = torch.softmax(logits[0] / 0.5, -1)
    assert torch.allclose(counts / 2000, expected, atol=0.03)


def test_top_p_sampling_draws_only_the_nucleus_in_proportion():
    logits = torch.tensor([[3.0, 2.0, 1.0, -2.0, -3.0]])
    p = SamplingParams(temperature=1.0, top_p=0.8)
    counts = torch.zeros(5)
    for position in range(2000):
        counts[Sampler()(logits, [p], [row_key(5, position)]).token_ids[0]] += 1
    assert counts[2:].sum() == 0  # softmax 0.66, 0.24: the first two make 0.8
    expected = torch.softmax(logits[0, :2], -1)
    assert torch.allclose(counts[:2] / 2000, expected, atol=0.03)


def test_row_keys_differ_by_seed_and_position_and_the_noise_is_uniform_gumbel():
    keys = {row_key(seed, position) for seed in range(50) for position in range(50)}
    assert len(keys) == 2500 and all(0 <= k < 2**32 for k in keys)
    noise = gumbel_noise(torch.tensor([row_key(1, 2)]), 200_000)[0]
    assert abs(noise.mean().item() - 0.5772) < 0.01  # the Euler-Mascheroni constant
    assert abs(noise.var().item() - torch.pi ** 2 / 6) < 0.05


@pytest.mark.parametrize(("params", "message"), [
    (SamplingParams(max_tokens=-1), "max_tokens must be >= 0"),
    (SamplingParams(max_tokens=10**9), "exceeds the model's context"),
    (SamplingParams(temperature=-0.5), "temperature"),
    (SamplingParams(temperature=float("nan")), "temperature must be a finite number"),
    (SamplingParams(temperature=float("inf")), "temperature must be a finite number"),
    (SamplingParams(top_p=0.0), "top_p"),
    (SamplingParams(top_p=float("nan")), "top_p"),
    (SamplingParams(top_k=-3), "top_k"),
    (SamplingParams(top_k=2**70), "top_k"),
    (SamplingParams(top_logprobs=10**6), "top_logprobs"),
    (SamplingParams(logit_bias=((5, float("inf")),)), "logit_bias"),
    (SamplingParams(logit_bias=((10**6, 1.0),)), "logit_bias"),
    (SamplingParams(stop_token_ids=(-1,)), "stop token id -1"),
    (SamplingParams(stop=("",)), "stop strings"),
])
def test_bad_sampling_fields_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        check_sampling(params, max_context=2048, vocab_size=1000)


@pytest.mark.parametrize("temperature", [5e-324, 1e-310, 1e-9, GREEDY_BELOW / 2])
def test_a_temperature_below_the_epsilon_is_greedy(temperature):
    logits = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    params = [SamplingParams(temperature=temperature)] * 3
    assert all(p.greedy for p in params)
    tokens, logprobs = Sampler().choose(logits, params, [11, 12, 13])
    assert tokens.tolist() == logits.argmax(dim=-1).tolist()
    assert torch.isfinite(logprobs).all()


TEXTS = ["Hello, world! The capital of France is Paris.",
         "naïve café — 東京 ✓ 🚀🚀 done",
         "  leading spaces\n\nand\ttabs {\"json\": [1, 2]}"]


@pytest.mark.parametrize("text", TEXTS)
def test_incremental_detokenization_matches_a_full_decode(tokenizer, text):
    ids = tokenizer.encode(text, add_special_tokens=False)
    detok = IncrementalDetokenizer(tokenizer)
    pieces = [detok.push(t) for t in ids]
    assert "".join(pieces) == tokenizer.decode(ids, skip_special_tokens=True)
    assert not any("\ufffd" in p for p in pieces)


def stream_text(tokenizer, text, stop):
    stream = TextStream(tokenizer, stop)
    shown = []
    for t in tokenizer.encode(text, add_special_tokens=False):
        stopped = stream.push(t)
        shown.append(stream.delta())
        if stopped:
            break
    shown.append(stream.delta(final=True))
    return stream, "".join(shown), shown


def test_a_stop_string_split_across_tokens_stops_and_is_never_shown(tokenizer):
    text = "The answer is 42. END_OF_ANSWER and more text"
    stop = ("END_OF_ANSWER",)
    assert len(tokenizer.encode("END_OF_ANSWER", add_special_tokens=False)) > 1
    stream, shown, pieces = stream_text(tokenizer, text, stop)
    assert stream.stopped and stream.text == "The answer is 42. " and shown == stream.text
    assert not any("END" in p for p in pieces)


def test_text_that_only_looks_like_a_stop_string_is_shown_in_the_end(tokenizer):
    stream, shown, _ = stream_text(tokenizer, "wait for END_OF", ("END_OF_ANSWER",))
    assert not stream.stopped and shown == "wait for END_OF"


def test_the_earliest_of_several_stop_strings_wins(tokenizer):
    stream, shown, _ = stream_text(tokenizer, "one\n\ntwo STOP three", ("STOP", "\n\n"))
    assert stream.text == "one" and shown == "one"
