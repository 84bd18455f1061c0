"""Per-request logit adjustments and the alternatives reported with log-probabilities:
`logit_bias` is added to a row's logits before the choice; `top_alternatives` reads the
most likely tokens of the model's own distribution (the one `logprobs` report)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from engine.api import SamplingParams


def apply_logit_bias(logits: torch.Tensor, params: Sequence[SamplingParams]) -> torch.Tensor:
    """`logits` [N, vocab] with each row's bias added (a copy; the input when none has one)."""
    rows = [i for i, p in enumerate(params) if p.logit_bias]
    if not rows:
        return logits
    biased = logits.clone()
    vocab = logits.shape[-1]
    for i in rows:
        ids = [t for t, _ in params[i].logit_bias if 0 <= t < vocab]
        values = [b for t, b in params[i].logit_bias if 0 <= t < vocab]
        if ids:
            biased[i, ids] += torch.tensor(values, dtype=logits.dtype, device=logits.device)
    return biased


def top_alternatives(logits: torch.Tensor, ks: Sequence[int]
                     ) -> list[list[tuple[int, float]]]:
    """For each row of `logits` [N, vocab], its `ks[i]` most likely tokens with their
    log-probabilities, best first (empty where k is 0)."""
    k = max(ks, default=0)
    if k == 0:
        return [[] for _ in ks]
    values, ids = logits.float().log_softmax(dim=-1).topk(k, dim=-1)
    pairs = torch.stack((ids.double(), values.double()), dim=-1).tolist()
    return [[(int(t), v) for t, v in row[:n]] for row, n in zip(pairs, ks, strict=True)]
