"""Paged prefill/extend attention: each sequence's new tokens attend causally to its cached
prefix pages and to themselves (their K/V are already in the pages), over a ragged batch.

One program per (block of new tokens, sequence, query head); keys are read page by page
through the sequence's block table.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from engine.attention.triton_common import (
    LOG2E,
    KernelConfig,
    check_cache,
    load_kv_tiles,
    pick_config,
    softmax_step,
    use_ieee,
)
from engine.forward import ForwardBatch


# The block table's width changes from batch to batch: one variant serves every width.
@triton.jit(do_not_specialize=["stride_bt"])
def _prefill_kernel(
    q_ptr,
    k_cache,
    v_cache,
    out_ptr,
    block_tables,
    seq_lens,
    query_start,
    stride_qt,
    stride_qh,
    stride_ot,
    stride_oh,
    stride_page,
    stride_slot,
    stride_head,
    stride_bt,
    qk_scale,
    GROUP: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    PAGE_SIZE: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    IEEE: tl.constexpr,
):
    # Causal blocks late in a sequence have the most keys: start them first.
    m_block = tl.num_programs(0) - 1 - tl.program_id(0)
    seq = tl.program_id(1)
    head = tl.program_id(2)
    kv_head = head // GROUP
    q_first = tl.load(query_start + seq)
    q_len = tl.load(query_start + seq + 1) - q_first
    seq_len = tl.load(seq_lens + seq)
    prefix_len = seq_len - q_len

    rows = m_block * BLOCK_M + tl.arange(0, BLOCK_M)
    row_mask = rows < q_len
    dims = tl.arange(0, BLOCK_D)
    dim_mask = dims < HEAD_DIM
    q_ptrs = q_ptr + (q_first + rows)[:, None].to(tl.int64) * stride_qt + head * stride_qh
    q = tl.load(q_ptrs + dims[None, :], mask=row_mask[:, None] & dim_mask[None, :], other=0.0)
    positions = prefix_len + rows

    # Keys past the block's last query are never visible; a block past q_len reads nothing.
    kv_end = tl.minimum(seq_len, prefix_len + (m_block + 1) * BLOCK_M)
    kv_end = tl.where(m_block * BLOCK_M < q_len, kv_end, 0)
    table_row = block_tables + seq.to(tl.int64) * stride_bt

    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    for start in range(0, kv_end, BLOCK_N):
        tokens = start + tl.arange(0, BLOCK_N)
        token_mask = tokens < kv_end
        k, v = load_kv_tiles(
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
            PAGE_SIZE,
            True,
        )
        valid = token_mask[None, :] & (tokens[None, :] <= positions[:, None])
        m_i, l_i, acc = softmax_step(q, k, v, valid, m_i, l_i, acc, qk_scale, IEEE, True)

    l_safe = tl.where(l_i > 0, l_i, 1.0)
    out = acc / l_safe[:, None]
    o_ptrs = out_ptr + (q_first + rows)[:, None].to(tl.int64) * stride_ot + head * stride_oh
    tl.store(
        o_ptrs + dims[None, :],
        out.to(out_ptr.dtype.element_ty),
        mask=row_mask[:, None] & dim_mask[None, :],
    )


def default_prefill_config(head_dim: int) -> KernelConfig:
    return KernelConfig(64, 64, 4, 2) if head_dim <= 64 else KernelConfig(64, 32, 4, 2)


def prefill_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    batch: ForwardBatch,
    scale: float,
    out: torch.Tensor | None = None,
    config: KernelConfig | None = None,
) -> torch.Tensor:
    """q: [T, num_heads, head_dim]; returns [T, num_heads, head_dim]."""
    check_cache(k_cache, v_cache, q)
    num_tokens, num_heads, head_dim = q.shape
    out = torch.empty_like(q) if out is None else out
    if num_tokens == 0:
        return out
    config = pick_config(q.device, default_prefill_config(head_dim), config)
    grid = (triton.cdiv(batch.max_query_len, config.block_m), batch.num_seqs, num_heads)
    _prefill_kernel[grid](
        q,
        k_cache,
        v_cache,
        out,
        batch.block_tables,
        batch.seq_lens,
        batch.query_start,
        q.stride(0),
        q.stride(1),
        out.stride(0),
        out.stride(1),
        k_cache.stride(0),
        k_cache.stride(1),
        k_cache.stride(2),
        batch.block_tables.stride(0),
        scale * LOG2E,
        GROUP=num_heads // k_cache.shape[2],
        HEAD_DIM=head_dim,
        BLOCK_D=triton.next_power_of_2(head_dim),
        PAGE_SIZE=k_cache.shape[1],
        BLOCK_M=config.block_m,
        BLOCK_N=config.block_n,
        IEEE=use_ieee(q),
        num_warps=config.num_warps,
        num_stages=config.num_stages,
    )
    return out
