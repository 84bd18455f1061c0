"""Shared checks of the fused kernels against the torch ops, for the interpreter (CPU) and
GPU tests: random inputs, both paths, the largest relative error."""

from __future__ import annotations

import torch

from engine.models.rope import RotaryEmbedding
from engine.ops import reference


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    got, want = got.double(), want.double()
    return ((got - want).abs().max() / want.abs().max().clamp_min(1e-12)).item()


def norm_errors(ops, tokens: int, hidden: int, dtype, device: str, seed: int = 0) -> list[float]:
    gen = torch.Generator(device="cpu").manual_seed(seed)
    x = torch.randn(tokens, hidden, generator=gen).to(device, dtype)
    residual = torch.randn(tokens, hidden, generator=gen).to(device, dtype)
    weight = (1 + 0.1 * torch.randn(hidden, generator=gen)).to(device, dtype)
    normed, summed = ops.add_rms_norm(x, residual, weight, 1e-5)
    want_normed, want_summed = reference.add_rms_norm_torch(x, residual, weight, 1e-5)
    alone = ops.rms_norm(x, weight, 1e-5)
    return [
        relative_error(normed, want_normed),
        relative_error(summed, want_summed),
        relative_error(alone, reference.rms_norm_torch(x, weight, 1e-5)),
    ]


def silu_error(ops, tokens: int, size: int, dtype, device: str, block: int = 1024) -> float:
    gen = torch.Generator(device="cpu").manual_seed(1)
    gate_up = (2 * torch.randn(tokens, 2 * size, generator=gen)).to(device, dtype)
    got = ops.silu_and_mul(gate_up, block=block)
    return relative_error(got, reference.silu_and_mul_torch(gate_up))


def rotary_errors(
    ops, tokens: int, q_heads: int, k_heads: int, head_dim: int, dtype, device: str
) -> list[float]:
    """q and k as views of one fused qkv tensor, as the model holds them."""
    gen = torch.Generator(device="cpu").manual_seed(2)
    qkv = torch.randn(tokens, (q_heads + 2 * k_heads) * head_dim, generator=gen).to(device, dtype)
    q, k, _ = qkv.split([q_heads * head_dim, k_heads * head_dim, k_heads * head_dim], dim=-1)
    q = q.view(tokens, q_heads, head_dim)
    k = k.view(tokens, k_heads, head_dim)
    rotary = RotaryEmbedding(head_dim, 500000.0, None)
    positions = torch.randint(0, 4096, (tokens,), generator=gen).to(device)
    cos, sin = rotary.cos_sin(positions, dtype)
    want_q, want_k = reference.rotary_torch(q, k, cos, sin)
    ops.apply_rotary_(q, k, cos, sin)
    return [relative_error(q, want_q), relative_error(k, want_k)]
