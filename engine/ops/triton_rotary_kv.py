"""Rotary embedding and KV-cache write in one kernel, one program per new token: rotates the
token's query heads in place and stores its rotated key heads and its value heads at its page
slot. cos/sin come from a `RotaryTable` (row = position, first half of head_dim), so no
per-step cos/sin ops run.

Rounding follows `engine.models.rope.apply_rotary` (see `rotated_halves`) and the cache gets
what `write_kv` would store after it, so the result is bit-identical to rotary + write_kv.
`k` is left unrotated: attention reads keys from the cache only.

Cache layout and slots as in `engine.attention.base`: caches
[num_pages, page_size, num_kv_heads, head_dim], slot = page * page_size + offset, and a
negative slot (CUDA-graph padding) skips the token's write. Positions must lie in the table;
they are clamped to it so that a bad one cannot read outside it.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from engine.ops.triton_rotary import rotate_heads, rotated_halves


@triton.jit
def _load_halves(ptr, mask, HALF: tl.constexpr):
    return tl.load(ptr, mask=mask, other=0.0), tl.load(ptr + HALF, mask=mask, other=0.0)


@triton.jit
def _store_halves(ptr, first, second, mask, HALF: tl.constexpr):
    tl.store(ptr, first, mask=mask)
    tl.store(ptr + HALF, second, mask=mask)


@triton.jit
def _rotary_write_kv_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    positions,
    cos_ptr,
    sin_ptr,
    k_cache,
    v_cache,
    slot_mapping,
    stride_qt,
    stride_qh,
    stride_kt,
    stride_kh,
    stride_vt,
    stride_vh,
    stride_row,
    stride_slot,
    stride_head,
    q_heads,
    num_positions,
    NUM_KV_HEADS: tl.constexpr,
    HALF: tl.constexpr,
    BLOCK_HQ: tl.constexpr,
    BLOCK_HK: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    token = tl.program_id(0).to(tl.int64)
    position = tl.load(positions + token).to(tl.int64)
    position = tl.minimum(tl.maximum(position, 0), num_positions - 1)
    dims = tl.arange(0, BLOCK_D)
    in_half = dims < HALF
    cos = tl.load(cos_ptr + position * stride_row + dims, mask=in_half, other=0.0)
    sin = tl.load(sin_ptr + position * stride_row + dims, mask=in_half, other=0.0)
    cos = cos.to(tl.float32)[None, :]
    sin = sin.to(tl.float32)[None, :]
    rotate_heads(
        q_ptr + token * stride_qt, stride_qh, q_heads, cos, cos, sin, sin, HALF, BLOCK_HQ, BLOCK_D
    )

    slot = tl.load(slot_mapping + token).to(tl.int64)
    heads = tl.arange(0, BLOCK_HK)[:, None]
    slots = tl.zeros([BLOCK_HK, 1], dtype=tl.int64) + slot  # a tensor mask: the interpreter
    mask = (heads < NUM_KV_HEADS) & in_half[None, :] & (slots >= 0)  # rejects scalar ones
    dst = slot * stride_slot + heads * stride_head + dims[None, :]
    k1, k2 = _load_halves(k_ptr + token * stride_kt + heads * stride_kh + dims[None, :], mask, HALF)
    r1, r2 = rotated_halves(k1, k2, cos, cos, sin, sin)
    _store_halves(k_cache + dst, r1, r2, mask, HALF)
    v1, v2 = _load_halves(v_ptr + token * stride_vt + heads * stride_vh + dims[None, :], mask, HALF)
    _store_halves(v_cache + dst, v1, v2, mask, HALF)


def _check_heads(name: str, x: torch.Tensor, tokens: int, head_dim: int) -> None:
    if x.dim() != 3 or x.shape[0] != tokens or x.shape[2] != head_dim or x.stride(-1) != 1:
        raise ValueError(
            f"{name} must be [{tokens}, heads, {head_dim}] with unit last stride, "
            f"got {tuple(x.shape)}"
        )


def _check_inputs(q, k, v, positions, cos_table, sin_table, k_cache, v_cache, slot_mapping):
    tokens, _, head_dim = q.shape
    if head_dim % 2:
        raise ValueError(f"rotary needs an even head_dim, got {head_dim}")
    _check_heads("q", q, tokens, head_dim)
    _check_heads("k", k, tokens, head_dim)
    _check_heads("v", v, tokens, head_dim)
    if v.shape != k.shape:
        raise ValueError(f"k {tuple(k.shape)} and v {tuple(v.shape)} differ in shape")
    if positions.shape != (tokens,) or slot_mapping.shape != (tokens,):
        raise ValueError(f"positions and slot_mapping must both be [{tokens}]")
    half = head_dim // 2
    for table in (cos_table, sin_table):
        if table.dim() != 2 or table.shape[1] != half or not table.is_contiguous():
            raise ValueError(f"cos/sin tables must be contiguous [positions, {half}]")
        if table.dtype != q.dtype:
            raise ValueError(f"cos/sin table dtype {table.dtype} is not q's {q.dtype}")
    if sin_table.shape != cos_table.shape:
        raise ValueError("cos and sin tables differ in shape")
    cache_shape = (k.shape[1], head_dim)
    for cache in (k_cache, v_cache):
        if cache.dim() != 4 or tuple(cache.shape[2:]) != cache_shape:
            raise ValueError(
                f"caches must be [pages, page_size, {k.shape[1]}, {head_dim}], "
                f"got {tuple(cache.shape)}"
            )
        if not cache.is_contiguous():
            raise ValueError("rotary_write_kv_ needs contiguous KV caches")
    if not (q.dtype == k.dtype == v.dtype == k_cache.dtype == v_cache.dtype):
        raise ValueError("q, k, v and the KV caches must share one dtype")


def rotary_write_kv_(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    positions: torch.Tensor,
    cos_table: torch.Tensor,
    sin_table: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    slot_mapping: torch.Tensor,
) -> None:
    """Rotates q [T, Hq, D] in place and writes rotated k and v [T, Hkv, D] at their slots
    of k_cache/v_cache [pages, page_size, Hkv, D]; cos/sin tables [positions, D // 2]."""
    _check_inputs(q, k, v, positions, cos_table, sin_table, k_cache, v_cache, slot_mapping)
    tokens, q_heads, head_dim = q.shape
    if tokens == 0:
        return
    kv_heads = k.shape[1]
    _rotary_write_kv_kernel[(tokens,)](
        q,
        k,
        v,
        positions,
        cos_table,
        sin_table,
        k_cache,
        v_cache,
        slot_mapping,
        q.stride(0),
        q.stride(1),
        k.stride(0),
        k.stride(1),
        v.stride(0),
        v.stride(1),
        cos_table.stride(0),
        k_cache.stride(1),
        k_cache.stride(2),
        q_heads,
        cos_table.shape[0],
        NUM_KV_HEADS=kv_heads,
        HALF=head_dim // 2,
        BLOCK_HQ=triton.next_power_of_2(q_heads),
        BLOCK_HK=triton.next_power_of_2(kv_heads),
        BLOCK_D=triton.next_power_of_2(head_dim // 2),
        enable_fp_fusion=False,  # x*cos and rotate_half(x)*sin are rounded before the add
    )
