"""Cascade decode in one launch: the shared-prefix programs and the suffix programs together.

The prefix pass (tensor-core bound: every group's prefix against all its members' queries)
and the suffix pass (DRAM bound: each sequence's own keys, split-K) fill disjoint slots of
the same partial buffers, so one 1-D grid can hold both and the two kinds of program overlap
on the GPU. The grid lists the prefix programs first (num_tiles * num_kv_heads * prefix
splits; the long ones, so they are scheduled first), then the suffix programs (num_seqs *
num_kv_heads * splits). It depends only on static sizes, so the launch is captured in CUDA
graphs like the two launches it replaces. Each program runs the same body as the standalone
kernels (`prefix_program`, `decode_program`), so the partials are the same slot for slot:
suffix splits in slots [0, splits), prefix splits in [splits, splits + prefix splits).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from engine.attention.triton_cascade import prefix_program
from engine.attention.triton_cascade_meta import CascadeMeta
from engine.attention.triton_common import KernelConfig, kv_descriptors, pick_config
from engine.attention.triton_decode import (
    DECODE_CONFIG,
    decode_block_h,
    decode_program,
)


@triton.jit
def empty_prefix_slots(seq, kv_head, lse_part, kv_starts, stride_lb, stride_lh,
                       GROUP: tl.constexpr, BLOCK_H: tl.constexpr, NUM_SPLITS: tl.constexpr,
                       PREFIX_SPLITS: tl.constexpr, BLOCK_PS: tl.constexpr):
    """A sequence outside every group (kv_start 0) gets log-sum-exp -inf in its prefix slots,
    which no prefix program writes, so the partial buffers need no fill beforehand."""
    if tl.load(kv_starts + seq) == 0:
        rows = tl.arange(0, BLOCK_H)
        slots = NUM_SPLITS + tl.arange(0, BLOCK_PS)
        ptrs = (lse_part + seq.to(tl.int64) * stride_lb
                + (kv_head * GROUP + rows)[:, None] * stride_lh + slots[None, :])
        mask = (rows < GROUP)[:, None] & (slots < NUM_SPLITS + PREFIX_SPLITS)[None, :]
        tl.store(ptrs, tl.full([BLOCK_H, BLOCK_PS], float("-inf"), tl.float32), mask=mask)


# Batch sizes and block-table widths change from step to step: one variant serves them all.
@triton.jit(do_not_specialize=["num_tiles", "num_seqs", "stride_bt"])
def _cascade_kernel(
    q_ptr,
    k_cache,
    v_cache,
    out_part,
    lse_part,
    block_tables,
    seq_lens,
    query_start,
    members,
    group_start,
    prefix_lens,
    tile_group,
    tile_row,
    prefix_rows,
    k_desc,
    v_desc,
    kv_starts,
    num_tiles,
    num_seqs,
    num_kv_heads,
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
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    PAGE_SIZE: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    PREFIX_SPLITS: tl.constexpr,
    BLOCK_PS: tl.constexpr,
    BLOCK_H: tl.constexpr,
    DECODE_BLOCK_N: tl.constexpr,
    NUM_SPLITS: tl.constexpr,
    IEEE: tl.constexpr,
    USE_TMA: tl.constexpr,
):
    # work items in the order of the standalone kernels' 3-D grids: tile (or sequence)
    # fastest, then KV head, then split
    program = tl.program_id(0)
    prefix_programs = num_tiles * num_kv_heads * PREFIX_SPLITS
    if program < prefix_programs:
        item = program // num_tiles
        prefix_program(
            program % num_tiles,
            item % num_kv_heads,
            item // num_kv_heads,
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
            NUM_SPLITS,
            GROUP,
            HEAD_DIM,
            BLOCK_D,
            PAGE_SIZE,
            BLOCK_M,
            BLOCK_N,
            PREFIX_SPLITS,
            IEEE,
            USE_TMA,
        )
    else:
        suffix = program - prefix_programs
        item = suffix // num_seqs
        seq = suffix % num_seqs
        kv_head = item % num_kv_heads
        split = item // num_kv_heads
        if split == 0:
            empty_prefix_slots(seq, kv_head, lse_part, kv_starts, stride_lb, stride_lh,
                               GROUP, BLOCK_H, NUM_SPLITS, PREFIX_SPLITS, BLOCK_PS)
        decode_program(
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
            GROUP,
            BLOCK_H,
            HEAD_DIM,
            BLOCK_D,
            PAGE_SIZE,
            DECODE_BLOCK_N,
            NUM_SPLITS,
            True,
            IEEE,
        )


# the suffix programs of the fused launch take 128-key tiles (16-bit values on the GPU): each
# keeps more bytes in flight beside the prefix programs (benchmarks/cascade_variants.py overlap)
SUFFIX_CONFIG = KernelConfig(block_n=128)


def suffix_config(q: torch.Tensor, given: KernelConfig | None) -> KernelConfig:
    if given is not None:
        return given
    if q.is_cuda and q.element_size() == 2:
        return SUFFIX_CONFIG
    return pick_config(q.device, DECODE_CONFIG, None)


def cascade_programs(
    meta: CascadeMeta, num_seqs: int, num_kv_heads: int, splits: int, prefix_splits: int
) -> tuple[int, int]:
    """(prefix programs, suffix programs) of the fused grid."""
    return meta.num_tiles * num_kv_heads * prefix_splits, num_seqs * num_kv_heads * splits


def cascade_partials(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    seq_lens: torch.Tensor,
    query_start: torch.Tensor,
    meta: CascadeMeta,
    qk_scale: float,
    out_part: torch.Tensor,
    lse_part: torch.Tensor,
    num_splits: int,
    num_prefix_splits: int,
    ieee: bool,
    config: KernelConfig,
    decode_config: KernelConfig | None = None,
) -> None:
    """What decode_partials(kv_starts=meta.kv_starts) into slots [0, num_splits) followed by
    the prefix pass (engine/testing/cascade_two_launch.py) into [num_splits, num_splits +
    num_prefix_splits) fill, in one launch; the prefix slots of sequences outside every group
    get log-sum-exp -inf, so every slot of lse_part is written.
    `config` is the prefix pass's (its block_m built meta's row tiles) and sets num_warps and
    num_stages for both; `decode_config` gives the suffix pass's key tile (None: default)."""
    num_seqs = seq_lens.shape[0]
    _, page_size, num_kv_heads, head_dim = k_cache.shape
    if out_part.shape[2] < num_splits + num_prefix_splits:
        raise ValueError(f"{out_part.shape[2]} slots < {num_splits} + {num_prefix_splits}")
    group = q.shape[1] // num_kv_heads
    decode_config = suffix_config(q, decode_config)
    programs = sum(cascade_programs(meta, num_seqs, num_kv_heads, num_splits, num_prefix_splits))
    descriptors = kv_descriptors(k_cache, v_cache, config.block_n)
    _cascade_kernel[(programs,)](
        q,
        k_cache,
        v_cache,
        out_part,
        lse_part,
        block_tables,
        seq_lens,
        query_start,
        meta.members,
        meta.group_start,
        meta.prefix_lens,
        meta.tile_group,
        meta.tile_row,
        meta.prefix_rows,
        *(descriptors or (k_cache, v_cache)),
        meta.kv_starts,
        meta.num_tiles,
        num_seqs,
        num_kv_heads,
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
        HEAD_DIM=head_dim,
        BLOCK_D=triton.next_power_of_2(head_dim),
        PAGE_SIZE=page_size,
        BLOCK_M=config.block_m,
        BLOCK_N=config.block_n,
        PREFIX_SPLITS=num_prefix_splits,
        BLOCK_PS=triton.next_power_of_2(num_prefix_splits),
        BLOCK_H=decode_block_h(group),
        DECODE_BLOCK_N=decode_config.block_n,
        NUM_SPLITS=num_splits,
        IEEE=ieee,
        USE_TMA=descriptors is not None,
        num_warps=config.num_warps,
        num_stages=config.num_stages,
    )
