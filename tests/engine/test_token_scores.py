"""Logit bias and the top alternatives reported with log-probabilities."""

import torch

from engine.api import SamplingParams
from engine.token_scores import apply_logit_bias, top_alternatives


def test_logit_bias_adds_to_its_rows_only():
    logits = torch.zeros(2, 5)
    params = [SamplingParams(logit_bias=((3, 7.5), (0, -2.0), (99, 1.0))), SamplingParams()]
    biased = apply_logit_bias(logits, params)
    assert biased[0].tolist() == [-2.0, 0.0, 0.0, 7.5, 0.0]
    assert biased[1].tolist() == [0.0] * 5 and logits.abs().sum() == 0  # input untouched
    assert apply_logit_bias(logits, [SamplingParams()] * 2) is logits


def test_top_alternatives_are_the_best_log_probabilities():
    logits = torch.tensor([[0.0, 2.0, 1.0, -1.0], [3.0, 0.0, 0.0, 0.0]])
    tops = top_alternatives(logits, [2, 0])
    want = logits[0].log_softmax(-1)
    assert [t for t, _ in tops[0]] == [1, 2]
    assert [v for _, v in tops[0]] == [want[1].item(), want[2].item()]
    assert tops[1] == []
    assert top_alternatives(logits, [0, 0]) == [[], []]
