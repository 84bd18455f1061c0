"""Host metadata of shared-prefix (cascade) decode, built once per batch.

One int32 tensor holds, piece after piece:
    members      flat sequence indices of every group, group after group
    group_start  [num_groups + 1] offsets into members
    prefix_len   [num_groups] shared tokens (prefix_pages * page_size)
    tile_group, tile_row: one row tile (group, first row) per prefix program along the tiles
    kv_starts    [B] where each sequence's own keys begin (0 outside every group)
    prefix_rows  [num_groups] the first K/V row (page * page_size) of a group whose shared
                 pages are consecutive, so its prefix is one contiguous run of rows; else -1
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton

from engine.forward import PrefixGroup


@dataclass(frozen=True)
class CascadeMeta:
    members: torch.Tensor
    group_start: torch.Tensor
    prefix_lens: torch.Tensor
    tile_group: torch.Tensor
    tile_row: torch.Tensor
    kv_starts: torch.Tensor  # [B] where each sequence's own keys begin
    prefix_rows: torch.Tensor  # [num_groups] first row of a contiguous prefix, else -1
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
    prefix_rows: list[int]

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
            prefix_rows=self.prefix_rows + [-1] * (seqs + 1 - num_groups),
        )

    def pieces(self) -> list[list[int]]:
        return [
            self.members,
            self.group_start,
            self.prefix_lens,
            self.tile_group,
            self.tile_row,
            self.kv_starts,
            self.prefix_rows,
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
    prefix_rows: list[int] = []
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
        prefix_rows.append(-1 if group.first_page is None else group.first_page * page_size)
        for row in range(0, len(group.seq_indices) * group_size, block_m):
            tile_group.append(index)
            tile_row.append(row)
    return CascadeLayout(members, starts, prefix_lens, tile_group, tile_row, kv_starts,
                         prefix_rows)


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
