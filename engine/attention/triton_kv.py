"""Triton kernel that stores the new tokens' keys and values into their page slots.

Slots follow `ForwardBatch.slot_mapping` (page * page_size + offset); a negative slot marks a
padding token (CUDA-graph buckets) and is skipped.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _write_kv_kernel(
    k_ptr,
    v_ptr,
    k_cache,
    v_cache,
    slot_mapping,
    stride_kt,
    stride_kh,
    stride_vt,
    stride_vh,
    stride_cks,
    stride_ckh,
    stride_cvs,
    stride_cvh,
    NUM_KV_HEADS: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_H: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    token = tl.program_id(0)
    slot = tl.load(slot_mapping + token).to(tl.int64)
    heads = tl.arange(0, BLOCK_H)
    dims = tl.arange(0, BLOCK_D)
    slots = tl.zeros([BLOCK_H, BLOCK_D], dtype=tl.int64) + slot
    mask = (heads[:, None] < NUM_KV_HEADS) & (dims[None, :] < HEAD_DIM) & (slots >= 0)
    src_k = k_ptr + token * stride_kt + heads[:, None] * stride_kh + dims[None, :]
    src_v = v_ptr + token * stride_vt + heads[:, None] * stride_vh + dims[None, :]
    dst_k = k_cache + slot * stride_cks + heads[:, None] * stride_ckh + dims[None, :]
    dst_v = v_cache + slot * stride_cvs + heads[:, None] * stride_cvh + dims[None, :]
    tl.store(dst_k, tl.load(src_k, mask=mask), mask=mask)
    tl.store(dst_v, tl.load(src_v, mask=mask), mask=mask)


def write_kv(
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    slot_mapping: torch.Tensor,
) -> None:
    """k, v: [T, num_kv_heads, head_dim] (last dim contiguous); caches
    [num_pages, page_size, num_kv_heads, head_dim] (contiguous)."""
    num_tokens, num_kv_heads, head_dim = k.shape
    if num_tokens == 0:
        return
    if k.stride(-1) != 1 or v.stride(-1) != 1:
        raise ValueError("write_kv needs keys and values contiguous in head_dim")
    if not (k_cache.is_contiguous() and v_cache.is_contiguous()):
        raise ValueError("write_kv needs contiguous KV caches")
    if k.dtype != k_cache.dtype or v.dtype != v_cache.dtype:
        raise ValueError(f"K/V dtype {k.dtype} does not match the cache dtype {k_cache.dtype}")
    flat_k = k_cache.view(-1, num_kv_heads, head_dim)
    flat_v = v_cache.view(-1, num_kv_heads, head_dim)
    _write_kv_kernel[(num_tokens,)](
        k,
        v,
        flat_k,
        flat_v,
        slot_mapping,
        k.stride(0),
        k.stride(1),
        v.stride(0),
        v.stride(1),
        flat_k.stride(0),
        flat_k.stride(1),
        flat_v.stride(0),
        flat_v.stride(1),
        NUM_KV_HEADS=num_kv_heads,
        HEAD_DIM=head_dim,
        BLOCK_H=triton.next_power_of_2(num_kv_heads),
        BLOCK_D=triton.next_power_of_2(head_dim),
    )
