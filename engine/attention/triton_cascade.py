"""Shared-prefix (cascade) decode: attention over a prefix that several sequences share.

For each prefix group the queries of all members (each member contributes its GROUP query
heads of one KV head) form the rows of one matrix, so every key tile of the shared prefix is
read once per row tile and multiplied against all members' queries at once. The result is a
partial (output, log-sum-exp) per member written into the slots after the decode splits;
each member's own suffix goes through the plain split-K decode kernel starting at the end
of the prefix, and `merge_partials` combines the two by log-sum-exp.

Host metadata (one int32 tensor, built once per batch):
    members      flat sequence indices of every group, group after group
    group_start  [num_groups + 1] offsets into members
    prefix_len   [num_groups] shared tokens (prefix_pages * page_size)
    tile_group, tile_row: one row tile (group, first row) per program along grid axis 0
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from engine.attention.triton_common import (
    KernelConfig,
    load_kv_tiles,
    softmax_step,
)
from engine.forward import PrefixGroup


@triton.jit
def _prefix_kernel(
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
):
    tile = tl.program_id(0)
    kv_head = tl.program_id(1)
    split = tl.program_id(2)
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
        )
        valid = row_mask[:, None] & token_mask[None, :]
        m_i, l_i, acc = softmax_step(q, k, v, valid, m_i, l_i, acc, qk_scale, IEEE)

    l_safe = tl.where(l_i > 0, l_i, 1.0)
    lse = tl.where(l_i > 0, m_i + tl.log2(l_safe), float("-inf"))
    slot = first_slot + split
    member64 = member.to(tl.int64)
    o_ptrs = out_part + member64[:, None] * stride_ob + heads[:, None] * stride_oh + dims[None, :]
    tl.store(
        o_ptrs + slot * stride_os, acc / l_safe[:, None], mask=row_mask[:, None] & dim_mask[None, :]
    )
    tl.store(lse_part + member64 * stride_lb + heads * stride_lh + slot, lse, mask=row_mask)


@dataclass(frozen=True)
class CascadeMeta:
    members: torch.Tensor
    group_start: torch.Tensor
    prefix_lens: torch.Tensor
    tile_group: torch.Tensor
    tile_row: torch.Tensor
    kv_starts: torch.Tensor  # [B] where each sequence's own keys begin
    num_tiles: int  # grid size along row tiles (padding tiles point at an empty group)
    work_tiles: int  # row tiles expected to hold rows, for choosing the split count
    max_prefix_len: int


@dataclass(frozen=True)
class CascadeLayout:
    """Host lists of the metadata; `padded` gives fixed sizes for CUDA graphs."""

    members: list[int]
    group_start: list[int]
    prefix_lens: list[int]
    tile_group: list[int]
    tile_row: list[int]
    kv_starts: list[int]

    def padded(self, seqs: int, tiles: int) -> CascadeLayout:
        """Sizes kv_starts to `seqs`, members and groups to seqs + 1, tiles to `tiles`; extra
        groups are empty and extra tiles point at the first empty group."""
        num_groups = len(self.prefix_lens)
        if len(self.tile_group) > tiles or len(self.kv_starts) > seqs:
            raise ValueError("cascade metadata larger than its padded size")
        return CascadeLayout(
            members=self.members + [0] * (seqs + 1 - len(self.members)),
            group_start=self.group_start + [self.group_start[-1]] * (seqs + 1 - num_groups),
            prefix_lens=self.prefix_lens + [0] * (seqs + 1 - num_groups),
            tile_group=self.tile_group + [num_groups] * (tiles - len(self.tile_group)),
            tile_row=self.tile_row + [0] * (tiles - len(self.tile_row)),
            kv_starts=self.kv_starts + [0] * (seqs - len(self.kv_starts)),
        )

    def pieces(self) -> list[list[int]]:
        return [
            self.members,
            self.group_start,
            self.prefix_lens,
            self.tile_group,
            self.tile_row,
            self.kv_starts,
        ]

    def flat(self) -> torch.Tensor:
        return torch.tensor([x for piece in self.pieces() for x in piece], dtype=torch.int32)

    def views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """Views of a device copy of `flat()`, one per piece."""
        views, offset = [], 0
        for piece in self.pieces():
            views.append(flat[offset : offset + len(piece)])
            offset += len(piece)
        return views


def cascade_layout(
    groups: list[PrefixGroup], num_seqs: int, page_size: int, group_size: int, block_m: int
) -> CascadeLayout:
    """Validate the groups and lay out members, group offsets, prefix lengths, row tiles."""
    members: list[int] = []
    starts = [0]
    prefix_lens: list[int] = []
    tile_group: list[int] = []
    tile_row: list[int] = []
    kv_starts = [0] * num_seqs
    for index, group in enumerate(groups):
        if group.prefix_pages <= 0 or not group.seq_indices:
            raise ValueError(f"prefix group {index} is empty: {group}")
        for seq in group.seq_indices:
            if not 0 <= seq < num_seqs:
                raise ValueError(f"prefix group {index} names sequence {seq} of {num_seqs}")
            if kv_starts[seq]:
                raise ValueError(f"sequence {seq} is in more than one prefix group")
            kv_starts[seq] = group.prefix_pages * page_size
        members.extend(group.seq_indices)
        starts.append(len(members))
        prefix_lens.append(group.prefix_pages * page_size)
        for row in range(0, len(group.seq_indices) * group_size, block_m):
            tile_group.append(index)
            tile_row.append(row)
    return CascadeLayout(members, starts, prefix_lens, tile_group, tile_row, kv_starts)


def max_tiles(num_seqs: int, group_size: int, block_m: int) -> int:
    """An upper bound on row tiles for any grouping of num_seqs sequences."""
    return triton.cdiv(num_seqs * group_size, block_m) + num_seqs


def build_cascade_meta(
    groups: list[PrefixGroup],
    num_seqs: int,
    page_size: int,
    group_size: int,
    block_m: int,
    device: torch.device,
) -> CascadeMeta:
    """Pack the groups into one host tensor and copy it to the device once."""
    layout = cascade_layout(groups, num_seqs, page_size, group_size, block_m)
    flat = layout.flat().to(device, non_blocking=True)
    tiles = len(layout.tile_group)
    return CascadeMeta(
        *layout.views(flat),
        num_tiles=tiles,
        work_tiles=tiles,
        max_prefix_len=max(layout.prefix_lens),
    )


def prefix_splits(meta: CascadeMeta, num_kv_heads: int, num_sms: int) -> int:
    """Split the shared prefix into at most two full waves of programs, each split at least 512
    keys (more splits cost partial-result traffic in the merge)."""
    programs = max(1, meta.work_tiles * num_kv_heads)
    wanted = 2 * num_sms // programs  # whole waves: a partial last wave costs a full one
    by_length = triton.cdiv(meta.max_prefix_len, 512)
    return int(max(1, min(16, wanted, by_length)))


def prefix_partials(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    block_tables: torch.Tensor,
    query_start: torch.Tensor,
    meta: CascadeMeta,
    qk_scale: float,
    out_part: torch.Tensor,
    lse_part: torch.Tensor,
    first_slot: int,
    num_splits: int,
    ieee: bool,
    config: KernelConfig,
) -> None:
    """Fill slots [first_slot, first_slot + num_splits) of every group member; the row tiles
    in `meta` must have been built with config.block_m."""
    _, page_size, num_kv_heads, head_dim = k_cache.shape
    _prefix_kernel[(meta.num_tiles, num_kv_heads, num_splits)](
        q,
        k_cache,
        v_cache,
        out_part,
        lse_part,
        block_tables,
        query_start,
        meta.members,
        meta.group_start,
        meta.prefix_lens,
        meta.tile_group,
        meta.tile_row,
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
        first_slot,
        GROUP=q.shape[1] // num_kv_heads,
        HEAD_DIM=head_dim,
        BLOCK_D=triton.next_power_of_2(head_dim),
        PAGE_SIZE=page_size,
        BLOCK_M=config.block_m,
        BLOCK_N=config.block_n,
        NUM_SPLITS=num_splits,
        IEEE=ieee,
        num_warps=config.num_warps,
        num_stages=config.num_stages,
    )
