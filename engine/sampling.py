"""Choosing the next token of every generating sequence in a step, in one batch, on the
logits' device.

Greedy rows take the argmax. Sampled rows draw by the Gumbel-max trick with noise made from a
key per row (`row_key`: the request's seed and the position of the token drawn), so a seeded
request gets the same tokens whatever it is batched with, and the draw needs no host round
trip: on CUDA one kernel reads the logits once (`engine.ops.triton_sample`), elsewhere torch
ops do the same arithmetic. Top-k and top-p act on the temperature-scaled distribution, grammar
masks on every row. Log-probabilities are those of the model's own distribution (before
temperature, truncation and constraints).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

from engine.api import SamplingParams
from engine.ops import fused_ops_enabled

_MASK_64 = (1 << 64) - 1
_MAX_INT64 = (1 << 63) - 1
_MASK_32 = 0xFFFF_FFFF
_GOLDEN_32 = 0x9E3779B9
_MIX_1 = 0x7FEB352D
_MIX_2 = 0x846CA68B


class SampleResult(NamedTuple):
    token_ids: list[int]
    logprobs: list[float]


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK_64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK_64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK_64
    return x ^ (x >> 31)


def row_key(seed: int, position: int) -> int:
    """The 32-bit noise key of the token a request with `seed` draws at `position` (its index
    in the sequence, prompt included)."""
    return _splitmix64((seed & _MASK_64) ^ _splitmix64(position)) & 0xFFFF_FFFF


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
    def choose(self, logits: torch.Tensor, params: Sequence[SamplingParams],
               keys: Sequence[int], allowed: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids [N] int64 and their log-probabilities [N] float32, left on the logits'
        device. `logits` [N, vocab]; `keys` one per row (read for sampled rows only);
        `allowed` [N, vocab] bool from constraints or None."""
        device = logits.device
        inv_temp = _to_device([0.0 if p.greedy else 1.0 / p.temperature for p in params],
                              torch.float32, device)
        choice = logits
        if allowed is not None:
            choice = choice.masked_fill(~allowed.to(device, non_blocking=True), float("-inf"))
        truncated = [i for i, p in enumerate(params)
                     if not p.greedy and (p.top_k > 0 or p.top_p < 1)]
        if truncated:
            choice = _truncate(choice, inv_temp, [params[i] for i in truncated], truncated)
        keys_device = _to_device([0 if p.greedy else k for k, p in zip(keys, params,
                                                                      strict=True)],
                                 torch.int64, device)
        if fused_ops_enabled(logits):
            from engine.ops.triton_sample import sample_tokens

            return sample_tokens(logits, choice.contiguous(), inv_temp, keys_device)
        return gumbel_choice(logits, choice, inv_temp, keys_device)

    def __call__(self, logits: torch.Tensor, params: Sequence[SamplingParams],
                 keys: Sequence[int], allowed: torch.Tensor | None = None) -> SampleResult:
        """`choose`, read to the host."""
        tokens, chosen = self.choose(logits, params, keys, allowed)
        # one device-to-host transfer for both (token ids are exact in float64)
        token_ids, logprobs = torch.stack((tokens.double(), chosen.double())).tolist()
        return SampleResult([int(t) for t in token_ids], logprobs)


def _truncate(choice: torch.Tensor, inv_temp: torch.Tensor, params: list[SamplingParams],
              rows: list[int]) -> torch.Tensor:
    """`choice` with what top-k and top-p drop set to -inf on `rows` (judged on the
    temperature-scaled distribution)."""
    device = choice.device
    index = torch.tensor(rows, device=device)
    top_k = torch.tensor([p.top_k for p in params], dtype=torch.long, device=device)
    top_p = torch.tensor([p.top_p for p in params], dtype=torch.float32, device=device)
    picked = choice[index].float()
    scaled = apply_top_k_top_p(picked * inv_temp[index].unsqueeze(1), top_k, top_p)
    picked = picked.masked_fill(scaled == float("-inf"), float("-inf"))
    choice = choice.clone()
    choice[index] = picked.to(choice.dtype)
    return choice


def _to_device(values: list[float] | list[int], dtype: torch.dtype, device: torch.device
               ) -> torch.Tensor:
    """A small host list on `device`, copied without making the host wait on the stream."""
    host = torch.tensor(values, dtype=dtype)
    if device.type != "cuda":
        return host
    return host.pin_memory().to(device, non_blocking=True)


def gumbel_noise(keys: torch.Tensor, vocab: int) -> torch.Tensor:
    """The kernel's Gumbel noise [rows, vocab] in torch (int64 arithmetic kept to 32 bits)."""
    cols = torch.arange(vocab, dtype=torch.int64, device=keys.device)
    h = keys.unsqueeze(1) ^ ((cols * _GOLDEN_32) & _MASK_32)
    h = h ^ (h >> 16)
    h = (h * _MIX_1) & _MASK_32
    h = h ^ (h >> 15)
    h = (h * _MIX_2) & _MASK_32
    h = h ^ (h >> 16)
    u = ((h >> 8).to(torch.float32) + 0.5) * (1.0 / 16777216.0)
    return -torch.log(-torch.log(u))


def gumbel_choice(logits: torch.Tensor, choice: torch.Tensor, inv_temperature: torch.Tensor,
                  keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The sampled kernel's choice in torch ops (the CPU path and the kernel's reference):
    noise is made for the sampled rows only."""
    logits = logits.float()
    choice = choice.float()
    tokens = choice.argmax(dim=-1)
    sampled = (inv_temperature > 0).nonzero().flatten()
    if sampled.numel():
        rows = choice[sampled]
        score = rows * inv_temperature[sampled].unsqueeze(1) + gumbel_noise(keys[sampled],
                                                                             rows.shape[1])
        tokens[sampled] = score.masked_fill(rows == float("-inf"), float("-inf")).argmax(-1)
    logprobs = torch.log_softmax(logits, dim=-1).gather(1, tokens.unsqueeze(1)).squeeze(1)
    return tokens, logprobs


def check_sampling(params: SamplingParams, max_context: int, vocab_size: int) -> None:
    """Raise `ValueError` naming the first bad sampling field: every number is finite and in
    its range, so none reaches a division or a tensor it cannot fill."""
    if params.max_tokens < 0:
        raise ValueError(f"max_tokens must be >= 0, got {params.max_tokens}")
    if params.max_tokens > max_context:
        raise ValueError(f"max_tokens {params.max_tokens} exceeds the model's context of "
                         f"{max_context} tokens")
    if not (math.isfinite(params.temperature) and params.temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {params.temperature}")
    if not 0 < params.top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {params.top_p}")
    if not 0 <= params.top_k <= _MAX_INT64:
        raise ValueError(f"top_k must be >= 0 (0 turns it off), got {params.top_k}")
    if params.top_logprobs < 0 or params.top_logprobs > vocab_size:
        raise ValueError(f"top_logprobs must be in [0, {vocab_size}], got {params.top_logprobs}")
    for token, bias in params.logit_bias:
        if not 0 <= token < vocab_size or not math.isfinite(bias):
            raise ValueError(f"logit_bias maps token ids in [0, {vocab_size}) to finite numbers, "
                             f"got {token}: {bias}")
    for token in params.stop_token_ids:
        if not 0 <= token < vocab_size:
            raise ValueError(f"stop token id {token} is outside the vocabulary "
                             f"(0..{vocab_size - 1})")
    if any(not isinstance(s, str) or not s for s in params.stop):
        raise ValueError("stop strings must be non-empty strings")
