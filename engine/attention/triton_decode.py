"""Paged decode attention with split-K (partial results merged by triton_merge.py).

Decode: one program per (sequence, KV head, split). The program's query rows are the
`GROUP` query heads that share the KV head, so each key tile is read once per KV head. A
sequence's keys [kv_start, seq_len) are cut into `num_splits` chunks sized per sequence, so
the grid depends only on the batch size (CUDA graphs) while short sequences leave splits
empty (stored with log-sum-exp -inf).

Partial results: out_part [B, num_heads, slots, head_dim] float32 (normalised per slot) and
lse_part [B, num_heads, slots] float32 in log2 units; `merge_partials` (triton_merge.py)
combines the slots.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from engine.attention.triton_common import (
    KernelConfig,
    load_kv_tiles,
    pick_config,
    softmax_step,
)

DECODE_CONFIG = KernelConfig(block_n=64, num_warps=4, num_stages=2)


@triton.jit
def decode_program(
    seq,
    kv_head,
    split,
    q_ptr,
    k_cache,
    v_cache,
    out_part,
    lse_part,
    block_tables,
    seq_lens,
    kv_starts,
    query_start,
    stride_qt,
    stride_qh,
    stride_page,
    stride_slot,
    stride_head,
    stride_bt,
    stride_ob,
    stride_oh,
    stride_os,
    stride_lb,
    stride_lh,
    qk_scale,
    GROUP: tl.constexpr,
    BLOCK_H: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    PAGE_SIZE: tl.constexpr,
    BLOCK_N: tl.constexpr,
    NUM_SPLITS: tl.constexpr,
    HAS_KV_START: tl.constexpr,
    IEEE: tl.constexpr,
):
    """Split `split` of sequence `seq`'s keys [kv_start, seq_len) for the query heads of
    `kv_head`: fills slot `split` of out_part and lse_part."""
    seq_len = tl.load(seq_lens + seq)
    kv_start = tl.load(kv_starts + seq) if HAS_KV_START else 0
    span = tl.maximum(seq_len - kv_start, 0)
    chunk = tl.cdiv(tl.cdiv(span, NUM_SPLITS), BLOCK_N) * BLOCK_N
    lo = kv_start + split * chunk
    hi = tl.minimum(lo + chunk, seq_len)

    rows = tl.arange(0, BLOCK_H)
    row_mask = rows < GROUP
    heads = kv_head * GROUP + rows
    dims = tl.arange(0, BLOCK_D)
    dim_mask = dims < HEAD_DIM
    token = tl.load(query_start + seq).to(tl.int64)
    q_ptrs = q_ptr + token * stride_qt + heads[:, None] * stride_qh + dims[None, :]
    q = tl.load(q_ptrs, mask=row_mask[:, None] & dim_mask[None, :], other=0.0)
    table_row = block_tables + seq.to(tl.int64) * stride_bt

    m_i = tl.full([BLOCK_H], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_H], dtype=tl.float32)
    acc = tl.zeros([BLOCK_H, BLOCK_D], dtype=tl.float32)
    for start in range(lo, hi, BLOCK_N):
        tokens = start + tl.arange(0, BLOCK_N)
        token_mask = tokens < hi
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
        valid = row_mask[:, None] & token_mask[None, :]
        m_i, l_i, acc = softmax_step(q, k, v, valid, m_i, l_i, acc, qk_scale, IEEE, True)

    l_safe = tl.where(l_i > 0, l_i, 1.0)
    lse = tl.where(l_i > 0, m_i + tl.log2(l_safe), float("-inf"))
    base = seq.to(tl.int64) * stride_ob + heads[:, None] * stride_oh + split * stride_os
    tl.store(
        out_part + base + dims[None, :],
        acc / l_safe[:, None],
        mask=row_mask[:, None] & dim_mask[None, :],
    )
    lse_ptrs = lse_part + seq.to(tl.int64) * stride_lb + heads * stride_lh + split
    tl.store(lse_ptrs, lse, mask=row_mask)


# The block table's width changes from batch to batch: one variant serves every width.
@triton.jit(do_not_specialize=["stride_bt"])
def _decode_kernel(
    q_ptr,
    k_cache,
    v_cache,
    out_part,
    lse_part,
    block_tables,
    seq_lens,
    kv_starts,
    query_start,
    stride_qt,
    stride_qh,
    stride_page,
    stride_slot,
    stride_head,
    stride_bt,
    stride_ob,
    stride_oh,
    stride_os,
    stride_lb,
    stride_lh,
    qk_scale,
    GROUP: tl.constexpr,
    BLOCK_H: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    PAGE_SIZE: tl.constexpr,
    BLOCK_N: tl.constexpr,
    NUM_SPLITS: tl.constexpr,
    HAS_KV_START: tl.constexpr,
    IEEE: tl.constexpr,
):
    decode_program(
        tl.program_id(0),
        tl.program_id(1),
        tl.program_id(2),
        q_ptr,
        k_cache,
        v_cache,
        out_part,
        lse_part,
        block_tables,
        seq_lens,
        kv_starts,
        query_start,
        stride_qt,
        stride_qh,
        stride_page,
        stride_slot,
        stride_head,
        stride_bt,
        stride_ob,
        stride_oh,
        stride_os,
        stride_lb,
        stride_lh,
        qk_scale,
        GROUP,
        BLOCK_H,
        HEAD_DIM,
        BLOCK_D,
        PAGE_SIZE,
        BLOCK_N,
        NUM_SPLITS,
        HAS_KV_START,
        IEEE,
    )


def decode_block_h(group: int) -> int:
    """Query rows of a decode program: the GROUP heads of one KV head, at least 16 (dots)."""
    return max(16, triton.next_power_of_2(group))


def decode_splits(num_seqs: int, num_kv_heads: int, max_seq_len: int, num_sms: int) -> int:
    """Splits per sequence: at most two full waves of programs, each split at least
    128 keys, at most 32 splits."""
    programs = max(1, num_seqs * num_kv_heads)
    wanted = 2 * num_sms // programs  # whole waves: a partial last wave costs a full one
    by_length = triton.cdiv(max(max_seq_len, 1), 128)
    return int(max(1, min(32, wanted, by_length)))


def decode_partials(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    seq_lens: torch.Tensor,
    query_start: torch.Tensor,
    qk_scale: float,
    out_part: torch.Tensor,
    lse_part: torch.Tensor,
    num_splits: int,
    ieee: bool,
    kv_starts: torch.Tensor | None = None,
    config: KernelConfig | None = None,
) -> None:
    """Fill slots [0, num_splits) of the partial buffers for every sequence."""
    num_seqs = seq_lens.shape[0]
    _, page_size, num_kv_heads, head_dim = k_cache.shape
    group = q.shape[1] // num_kv_heads
    config = pick_config(q.device, DECODE_CONFIG, config)
    _decode_kernel[(num_seqs, num_kv_heads, num_splits)](
        q,
        k_cache,
        v_cache,
        out_part,
        lse_part,
        block_tables,
        seq_lens,
        kv_starts if kv_starts is not None else seq_lens,
        query_start,
        q.stride(0),
        q.stride(1),
        k_cache.stride(0),
        k_cache.stride(1),
        k_cache.stride(2),
        block_tables.stride(0),
        out_part.stride(0),
        out_part.stride(1),
        out_part.stride(2),
        lse_part.stride(0),
        lse_part.stride(1),
        qk_scale,
        GROUP=group,
        BLOCK_H=decode_block_h(group),
        HEAD_DIM=head_dim,
        BLOCK_D=triton.next_power_of_2(head_dim),
        PAGE_SIZE=page_size,
        BLOCK_N=config.block_n,
        NUM_SPLITS=num_splits,
        HAS_KV_START=kv_starts is not None,
        IEEE=ieee,
        num_warps=config.num_warps,
        num_stages=config.num_stages,
    )
