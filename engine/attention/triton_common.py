"""Pieces shared by the Triton attention kernels: paged tile loads and the online-softmax step.

Softmax runs in base 2: scores are pre-multiplied by scale * log2(e), and every log-sum-exp a
kernel stores is in log2 units, so partial results merge with exp2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import triton
import triton.language as tl

LOG2E = 1.0 / math.log(2.0)


@dataclass(frozen=True)
class KernelConfig:
    """Tile shape and launch settings of one kernel (block_m unused by decode)."""

    block_m: int = 64
    block_n: int = 64
    num_warps: int = 4
    num_stages: int = 2


INTERPRETER_CONFIG = KernelConfig(block_m=16, block_n=16, num_warps=1, num_stages=1)


def pick_config(device: torch.device, gpu_default: KernelConfig, given: KernelConfig | None):
    if given is not None:
        return given
    return gpu_default if device.type == "cuda" else INTERPRETER_CONFIG


@triton.jit
def load_kv_tiles(
    k_cache,
    v_cache,
    table_row,
    tokens,
    token_mask,
    kv_head,
    stride_page,
    stride_slot,
    stride_head,
    dims,
    dim_mask,
    PAGE_SIZE: tl.constexpr,
    MASKED: tl.constexpr,
):
    """Load the K and V tiles [len(tokens), BLOCK_D] of one KV head for token positions
    `tokens` of a sequence whose page table starts at `table_row` (K and V caches share
    their layout, so one page lookup serves both). MASKED=False: every token is valid."""
    if MASKED:
        page = tl.load(table_row + tokens // PAGE_SIZE, mask=token_mask, other=0)
    else:
        page = tl.load(table_row + tokens // PAGE_SIZE)
    return load_kv_pages(
        k_cache,
        v_cache,
        page.to(tl.int64),
        tokens % PAGE_SIZE,
        token_mask,
        kv_head,
        stride_page,
        stride_slot,
        stride_head,
        dims,
        dim_mask,
        MASKED,
    )


@triton.jit
def load_kv_pages(
    k_cache,
    v_cache,
    page,
    offset,
    token_mask,
    kv_head,
    stride_page,
    stride_slot,
    stride_head,
    dims,
    dim_mask,
    MASKED: tl.constexpr,
):
    """`load_kv_tiles` with each token's page (int64) and offset in it already known."""
    within = (
        page[:, None] * stride_page
        + offset.to(tl.int64)[:, None] * stride_slot
        + kv_head * stride_head
        + dims[None, :]
    )
    mask = token_mask[:, None] & dim_mask[None, :] if MASKED else dim_mask[None, :]
    return tl.load(k_cache + within, mask=mask, other=0.0), tl.load(
        v_cache + within, mask=mask, other=0.0
    )


@triton.jit
def softmax_step(q, k, v, valid, m_i, l_i, acc, qk_scale, IEEE: tl.constexpr,
                 MASKED: tl.constexpr):
    """One online-softmax step over a key tile; `valid` masks [rows, keys] (ignored when not
    MASKED: every score counts). Returns the updated running max, running sum and
    accumulator. A row with no valid key so far keeps max -inf, sum 0 and accumulator 0."""
    qk = tl.dot(q, tl.trans(k), input_precision="ieee") if IEEE else tl.dot(q, tl.trans(k))
    qk = tl.where(valid, qk * qk_scale, float("-inf")) if MASKED else qk * qk_scale
    m_new = tl.maximum(m_i, tl.max(qk, 1))
    m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
    p = tl.exp2(qk - m_safe[:, None])
    alpha = tl.exp2(m_i - m_safe)
    l_new = l_i * alpha + tl.sum(p, 1)
    pv = tl.dot(p.to(v.dtype), v, input_precision="ieee") if IEEE else tl.dot(p.to(v.dtype), v)
    acc = acc * alpha[:, None] + pv
    return m_new, l_new, acc


def kv_descriptors(k_cache: torch.Tensor, v_cache: torch.Tensor, block_n: int) -> tuple | None:
    """Tensor-memory-accelerator descriptors of [block_n, head_dim] K and V tiles over the
    caches seen as rows [pages * page_size, kv_heads * head_dim] (a run of consecutive pages
    is a run of rows); None where they cannot serve: a GPU before Hopper, a head_dim that is
    not a power of two, or 32-bit values (their tiles would not fit the pipeline's shared
    memory next to the paged path's)."""
    from triton.tools.tensor_descriptor import TensorDescriptor

    pages, page_size, kv_heads, head_dim = k_cache.shape
    if head_dim & (head_dim - 1) or k_cache.element_size() != 2 or not k_cache.is_contiguous():
        return None
    if k_cache.is_cuda and torch.cuda.get_device_capability(k_cache.device)[0] < 9:
        return None
    rows = (pages * page_size, kv_heads * head_dim)
    return tuple(TensorDescriptor.from_tensor(c.view(rows), [block_n, head_dim])
                 for c in (k_cache, v_cache))


def check_cache(k_cache: torch.Tensor, v_cache: torch.Tensor, q: torch.Tensor) -> None:
    if k_cache.stride() != v_cache.stride() or k_cache.stride(-1) != 1:
        raise ValueError("k_cache and v_cache must share one layout, contiguous in head_dim")
    if q.stride(-1) != 1:
        raise ValueError("queries must be contiguous in head_dim")
    if q.shape[1] % k_cache.shape[2] != 0:
        raise ValueError(f"{q.shape[1]} query heads are not a multiple of {k_cache.shape[2]}")


def use_ieee(q: torch.Tensor) -> bool:
    """float32 inputs get full-precision dots (no TF32), so results match the reference."""
    return q.dtype == torch.float32 and not torch.backends.cuda.matmul.allow_tf32
