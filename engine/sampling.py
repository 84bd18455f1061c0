"""Choosing the next token of every generating sequence in a step, in one batch.

Greedy rows take the argmax together; sampled rows share the temperature, top-k and top-p
transforms, then draw with their own `torch.Generator` so that a request's seed decides its
tokens whatever else is in the batch. Log-probabilities are those of the model's own
distribution (before temperature, truncation and constraints).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from engine.api import SamplingParams


class SampleResult(NamedTuple):
    token_ids: list[int]
    logprobs: list[float]


def make_generator(seed: int) -> torch.Generator:
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed & 0xFFFF_FFFF_FFFF_FFFF)
    return generator


def apply_top_k_top_p(logits: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor
                      ) -> torch.Tensor:
    """Mask (to -inf) what top-k and top-p exclude, row by row; k = 0 and p = 1 keep all."""
    vocab = logits.shape[-1]
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    ranks = torch.arange(vocab, device=logits.device).expand_as(sorted_logits)
    k = torch.where(top_k > 0, top_k.clamp(max=vocab), torch.full_like(top_k, vocab))
    drop = ranks >= k.unsqueeze(1)
    probs = sorted_logits.masked_fill(drop, float("-inf")).softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    drop |= mass_before >= top_p.unsqueeze(1)
    drop[:, 0] = False  # the most likely token always survives
    sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
    return torch.empty_like(logits).scatter_(1, order, sorted_logits)


class Sampler:
    def __call__(
        self,
        logits: torch.Tensor,
        params: list[SamplingParams],
        generators: list[torch.Generator | None],
        allowed: torch.Tensor | None = None,
    ) -> SampleResult:
        """`logits` [N, vocab] float32; `allowed` [N, vocab] bool from constraints or None."""
        logits = logits.float()
        logprobs = torch.log_softmax(logits, dim=-1)
        if allowed is not None:
            logits = logits.masked_fill(~allowed, float("-inf"))
        tokens = logits.argmax(dim=-1)
        sampled = [i for i, p in enumerate(params) if p.temperature > 0]
        if sampled:
            tokens[sampled] = self._sample_rows(logits[sampled], [params[i] for i in sampled],
                                                [generators[i] for i in sampled])
        chosen = logprobs.gather(1, tokens.unsqueeze(1)).squeeze(1)
        # one device-to-host transfer for both (token ids are exact in float64)
        token_ids, chosen_logprobs = torch.stack((tokens.double(), chosen.double())).tolist()
        return SampleResult([int(t) for t in token_ids], chosen_logprobs)

    @staticmethod
    def _sample_rows(logits: torch.Tensor, params: list[SamplingParams],
                     generators: list[torch.Generator | None]) -> torch.Tensor:
        temperature = torch.tensor([p.temperature for p in params], dtype=logits.dtype)
        top_k = torch.tensor([p.top_k for p in params], dtype=torch.long)
        top_p = torch.tensor([p.top_p for p in params], dtype=logits.dtype)
        scaled = logits / temperature.to(logits.device).unsqueeze(1)
        if bool((top_k > 0).any()) or bool((top_p < 1).any()):
            scaled = apply_top_k_top_p(scaled, top_k.to(logits.device), top_p.to(logits.device))
        probs = scaled.softmax(dim=-1).cpu()
        return torch.stack([torch.multinomial(row, 1, generator=g).squeeze(0)
                            for row, g in zip(probs, generators, strict=True)]).to(logits.device)


def check_sampling(params: SamplingParams, max_context: int) -> None:
    """Raise `ValueError` naming the first bad sampling field."""
    if params.max_tokens < 0:
        raise ValueError(f"max_tokens must be >= 0, got {params.max_tokens}")
    if params.max_tokens > max_context:
        raise ValueError(f"max_tokens {params.max_tokens} exceeds the model's context of "
                         f"{max_context} tokens")
    if not params.temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {params.temperature}")
    if not 0 < params.top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {params.top_p}")
    if params.top_k < 0:
        raise ValueError(f"top_k must be >= 0 (0 turns it off), got {params.top_k}")
    if any(not isinstance(s, str) or not s for s in params.stop):
        raise ValueError("stop strings must be non-empty strings")
