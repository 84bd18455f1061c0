"""Shared-prefix (cascade) decode: attention over a prefix that several sequences share.

For each prefix group the queries of all members (each member contributes its GROUP query
heads of one KV head) form the rows of one matrix, so every key tile of the shared prefix is
read once per row tile and multiplied against all members' queries at once. The result is a
partial (output, log-sum-exp) per member written into the slots after the decode splits;
each member's own suffix goes through the plain split-K decode starting at the end of the
prefix, and `merge_partials` combines the two by log-sum-exp. The host metadata (groups,
row tiles) is laid out in triton_cascade_meta.py; triton_cascade_fused.py runs the prefix and
suffix programs in one launch.
"""

from __future__ import annotations

import triton
import triton.language as tl

from engine.attention.triton_cascade_meta import (  # noqa: F401  (re-exported)
    CascadeLayout,
    CascadeMeta,
    build_cascade_meta,
    cascade_layout,
    max_tiles,
)
from engine.attention.triton_common import (
    KernelConfig,
    load_kv_pages,
    load_kv_tiles,
    softmax_step,
)


@triton.jit
def tiles_through_tma(q, k_desc, v_desc, first_row, lo, hi, kv_head, m_i, l_i, acc, qk_scale,
                      HEAD_DIM: tl.constexpr, BLOCK_N: tl.constexpr, IEEE: tl.constexpr):
    """Softmax steps over the whole key tiles [lo, hi) of a prefix whose pages are
    consecutive (its keys are the cache rows from `first_row` on): each K/V tile comes in
    through the tensor memory accelerator, with no per-key addresses."""
    for start in range(lo, hi, BLOCK_N):
        k = k_desc.load([first_row + start, kv_head * HEAD_DIM])
        v = v_desc.load([first_row + start, kv_head * HEAD_DIM])
        m_i, l_i, acc = softmax_step(q, k, v, None, m_i, l_i, acc, qk_scale, IEEE, False)
    return m_i, l_i, acc


@triton.jit
def paged_tiles(q, k_cache, v_cache, table_row, lo, hi, kv_head, stride_page, stride_slot,
                stride_head, dims, dim_mask, m_i, l_i, acc, qk_scale, PAGE_SIZE: tl.constexpr,
                BLOCK_N: tl.constexpr, IEEE: tl.constexpr):
    """Softmax steps over the whole key tiles [lo, hi) of a prefix on any pages: each tile's
    pages are looked up one tile ahead, so its K/V addresses are known when it starts."""
    offsets = tl.arange(0, BLOCK_N)
    pages = tl.load(table_row + (lo + offsets) // PAGE_SIZE, mask=lo + offsets < hi,
                    other=0).to(tl.int64)
    for start in range(lo, hi, BLOCK_N):
        ahead = start + BLOCK_N + offsets
        next_pages = tl.load(table_row + ahead // PAGE_SIZE, mask=ahead < hi, other=0)
        k, v = load_kv_pages(k_cache, v_cache, pages, (start + offsets) % PAGE_SIZE,
                             offsets < BLOCK_N, kv_head, stride_page, stride_slot, stride_head,
                             dims, dim_mask, False)
        m_i, l_i, acc = softmax_step(q, k, v, None, m_i, l_i, acc, qk_scale, IEEE, False)
        pages = next_pages.to(tl.int64)
    return m_i, l_i, acc


@triton.jit
def prefix_program(
    tile,
    kv_head,
    split,
    q_ptr,
    k_cache,
    v_cache,
    out_part,
    lse_part,
    block_tables,
    query_start,
    members,
    group_start,
    prefix_lens,
    tile_group,
    tile_row,
    prefix_rows,
    k_desc,
    v_desc,
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
    first_slot,
    GROUP: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    PAGE_SIZE: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    NUM_SPLITS: tl.constexpr,
    IEEE: tl.constexpr,
    USE_TMA: tl.constexpr,
):
    """Split `split` of the shared prefix of row tile `tile`'s group against the tile's query
    rows of `kv_head`: fills slot first_slot + split of the tile's members."""
    group = tl.load(tile_group + tile)
    row0 = tl.load(tile_row + tile)
    g_first = tl.load(group_start + group)
    g_count = tl.load(group_start + group + 1) - g_first
    prefix_len = tl.load(prefix_lens + group)

    rows = row0 + tl.arange(0, BLOCK_M)
    row_mask = rows < g_count * GROUP
    member = tl.load(members + g_first + rows // GROUP, mask=row_mask, other=0)
    heads = kv_head * GROUP + rows % GROUP
    dims = tl.arange(0, BLOCK_D)
    dim_mask = dims < HEAD_DIM
    tokens_q = tl.load(query_start + member, mask=row_mask, other=0).to(tl.int64)
    q_ptrs = q_ptr + tokens_q[:, None] * stride_qt + heads[:, None] * stride_qh + dims[None, :]
    q = tl.load(q_ptrs, mask=row_mask[:, None] & dim_mask[None, :], other=0.0)

    owner = tl.load(members + g_first)
    table_row = block_tables + owner.to(tl.int64) * stride_bt
    chunk = tl.cdiv(tl.cdiv(prefix_len, NUM_SPLITS), BLOCK_N) * BLOCK_N
    lo = split * chunk
    hi = tl.minimum(lo + chunk, prefix_len)

    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    # whole key tiles go unmasked (padding rows have zero queries: finite scores, never
    # stored); a ragged last tile is masked
    full_hi = lo + tl.maximum(hi - lo, 0) // BLOCK_N * BLOCK_N
    if USE_TMA:
        first_row = tl.load(prefix_rows + group)
        if first_row >= 0:
            m_i, l_i, acc = tiles_through_tma(q, k_desc, v_desc, first_row, lo, full_hi, kv_head,
                                              m_i, l_i, acc, qk_scale, HEAD_DIM, BLOCK_N, IEEE)
        else:
            m_i, l_i, acc = paged_tiles(q, k_cache, v_cache, table_row, lo, full_hi, kv_head,
                                        stride_page, stride_slot, stride_head, dims, dim_mask,
                                        m_i, l_i, acc, qk_scale, PAGE_SIZE, BLOCK_N, IEEE)
    else:
        m_i, l_i, acc = paged_tiles(q, k_cache, v_cache, table_row, lo, full_hi, kv_head,
                                    stride_page, stride_slot, stride_head, dims, dim_mask,
                                    m_i, l_i, acc, qk_scale, PAGE_SIZE, BLOCK_N, IEEE)
    if full_hi < hi:
        tokens = full_hi + tl.arange(0, BLOCK_N)
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
    slot = first_slot + split
    member64 = member.to(tl.int64)
    o_ptrs = out_part + member64[:, None] * stride_ob + heads[:, None] * stride_oh + dims[None, :]
    tl.store(
        o_ptrs + slot * stride_os, acc / l_safe[:, None], mask=row_mask[:, None] & dim_mask[None, :]
    )
    tl.store(lse_part + member64 * stride_lb + heads * stride_lh + slot, lse, mask=row_mask)


def prefix_splits(meta: CascadeMeta, num_kv_heads: int, num_sms: int, resident: int) -> int:
    """Split the shared prefix so its programs fill two thirds of the program slots of the
    GPU (`resident` prefix programs fit on one SM), leaving the rest to the suffix programs
    of the fused launch, which are DRAM bound and run beside them; each split at least 512
    keys (more splits cost partial-result traffic in the merge)."""
    programs = max(1, meta.work_tiles * num_kv_heads)
    wanted = 2 * resident * num_sms // 3 // programs
    by_length = triton.cdiv(meta.max_prefix_len, 512)
    return int(max(1, min(16, wanted, by_length)))


def resident_programs(config: KernelConfig, head_dim: int, smem_per_sm: int) -> int:
    """Prefix programs one SM holds, as bounded by shared memory: each pipeline stage keeps
    a K and a V tile of block_n x head_dim in 16 bits."""
    stage = 2 * config.block_n * triton.next_power_of_2(head_dim) * 2
    return max(1, smem_per_sm // (config.num_stages * stage))
