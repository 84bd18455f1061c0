"""Rotary embedding applied in place to q and k ([tokens, heads, head_dim] views, e.g. of the
fused qkv projection output), one program per token for all heads of both.

Rounding follows `engine.models.rope.apply_rotary`: x * cos and rotate_half(x) * sin are each
rounded to the dtype, then their sum.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def rotated_halves(x1, x2, cos1, cos2, sin1, sin2):
    """The rotated halves of x = (x1, x2) in x's dtype; cos/sin halves in float32."""
    dtype = x1.dtype
    a1 = (x1.to(tl.float32) * cos1).to(dtype).to(tl.float32)
    b1 = (-x2.to(tl.float32) * sin1).to(dtype).to(tl.float32)
    a2 = (x2.to(tl.float32) * cos2).to(dtype).to(tl.float32)
    b2 = (x1.to(tl.float32) * sin2).to(dtype).to(tl.float32)
    return (a1 + b1).to(dtype), (a2 + b2).to(dtype)


@triton.jit
def rotate_heads(
    ptr,
    stride_h,
    heads,
    cos1,
    cos2,
    sin1,
    sin2,
    HALF: tl.constexpr,
    BLOCK_H: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    """Rotates heads [heads, 2 * HALF] at ptr (row stride stride_h) in place."""
    rows = tl.arange(0, BLOCK_H)
    dims = tl.arange(0, BLOCK_D)
    mask = (rows[:, None] < heads) & (dims[None, :] < HALF)
    first = ptr + rows[:, None] * stride_h + dims[None, :]
    x1 = tl.load(first, mask=mask, other=0.0)
    x2 = tl.load(first + HALF, mask=mask, other=0.0)
    y1, y2 = rotated_halves(x1, x2, cos1, cos2, sin1, sin2)
    tl.store(first, y1, mask=mask)
    tl.store(first + HALF, y2, mask=mask)


@triton.jit
def _rotary_kernel(
    q_ptr,
    k_ptr,
    cos_ptr,
    sin_ptr,
    stride_qt,
    stride_qh,
    stride_kt,
    stride_kh,
    stride_ct,
    stride_st,
    q_heads,
    k_heads,
    HALF: tl.constexpr,
    BLOCK_HQ: tl.constexpr,
    BLOCK_HK: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    token = tl.program_id(0).to(tl.int64)
    dims = tl.arange(0, BLOCK_D)
    in_half = dims < HALF
    cos_row = cos_ptr + token * stride_ct
    sin_row = sin_ptr + token * stride_st
    cos1 = tl.load(cos_row + dims, mask=in_half, other=0.0).to(tl.float32)[None, :]
    cos2 = tl.load(cos_row + HALF + dims, mask=in_half, other=0.0).to(tl.float32)[None, :]
    sin1 = tl.load(sin_row + dims, mask=in_half, other=0.0).to(tl.float32)[None, :]
    sin2 = tl.load(sin_row + HALF + dims, mask=in_half, other=0.0).to(tl.float32)[None, :]
    rotate_heads(
        q_ptr + token * stride_qt,
        stride_qh,
        q_heads,
        cos1,
        cos2,
        sin1,
        sin2,
        HALF,
        BLOCK_HQ,
        BLOCK_D,
    )
    rotate_heads(
        k_ptr + token * stride_kt,
        stride_kh,
        k_heads,
        cos1,
        cos2,
        sin1,
        sin2,
        HALF,
        BLOCK_HK,
        BLOCK_D,
    )


def _check(name: str, x: torch.Tensor, tokens: int, head_dim: int) -> None:
    if x.dim() != 3 or x.shape[0] != tokens or x.shape[2] != head_dim or x.stride(-1) != 1:
        raise ValueError(
            f"{name} must be [{tokens}, heads, {head_dim}] with unit last stride, "
            f"got {tuple(x.shape)}"
        )


def apply_rotary_(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> None:
    """Rotates q [T, Hq, D] and k [T, Hk, D] in place; cos/sin [T, D] in their dtype."""
    tokens, head_dim = cos.shape
    if sin.shape != cos.shape or head_dim % 2 or cos.stride(-1) != 1 or sin.stride(-1) != 1:
        raise ValueError("cos and sin must both be [tokens, head_dim] with an even head_dim")
    half = head_dim // 2
    _check("q", q, tokens, head_dim)
    _check("k", k, tokens, head_dim)
    if tokens == 0:
        return
    _rotary_kernel[(tokens,)](
        q,
        k,
        cos,
        sin,
        q.stride(0),
        q.stride(1),
        k.stride(0),
        k.stride(1),
        cos.stride(0),
        sin.stride(0),
        q.shape[1],
        k.shape[1],
        HALF=half,
        BLOCK_HQ=triton.next_power_of_2(q.shape[1]),
        BLOCK_HK=triton.next_power_of_2(k.shape[1]),
        BLOCK_D=triton.next_power_of_2(half),
        enable_fp_fusion=False,  # x*cos and rotate_half(x)*sin are rounded before the add
    )
