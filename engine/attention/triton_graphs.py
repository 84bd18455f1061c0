"""The Triton backend's cascade metadata under CUDA graphs: laid out at fixed, padded sizes in
one static device buffer, copied in only when the grouping changes. A cascade graph is captured
per (bucket, number of row tiles of the prefix kernel), so that its grid holds no padding
tiles."""

from __future__ import annotations

import torch

from engine.attention.triton_cascade_meta import (
    CascadeLayout,
    CascadeMeta,
    cascade_layout,
    max_tiles,
)
from engine.forward import ForwardBatch


class CascadeGraphMeta:
    def __init__(self, max_num_seqs: int, max_pages: int, page_size: int, group_size: int,
                 block_m: int, device: torch.device) -> None:
        self.size = max_num_seqs
        self.max_pages = max_pages
        self.page_size = page_size
        self.group_size = group_size
        self.block_m = block_m
        self.max_tiles = max_tiles(max_num_seqs, group_size, block_m)
        self.flat = self._empty().flat().to(device)
        self._key: tuple = (None, 0)

    def fill(self, batch: ForwardBatch) -> int:
        """Lay the batch's groups out in the static buffer; return their row tiles."""
        key = (batch.num_seqs, tuple(batch.prefix_groups))
        if key == self._key[0]:  # the static buffer already holds this layout
            return self._key[1]
        layout = cascade_layout(
            batch.prefix_groups, batch.num_seqs, self.page_size, self.group_size, self.block_m
        )
        # from pageable memory: the copy completes before the host reuses its buffer
        self.flat.copy_(layout.padded(self.size, self.max_tiles).flat())
        self._key = (key, len(layout.tile_group))
        return len(layout.tile_group)

    def static_meta(self, bucket: int, tiles: int) -> CascadeMeta:
        """Metadata views for a graph whose grid has exactly `tiles` row tiles."""
        members, starts, prefix_lens, tile_group, tile_row, kv_starts, prefix_rows = (
            self._empty().views(self.flat))
        return CascadeMeta(
            members,
            starts,
            prefix_lens,
            tile_group[:tiles],
            tile_row[:tiles],
            kv_starts[:bucket],
            prefix_rows,
            num_tiles=tiles,
            work_tiles=tiles,
            max_prefix_len=self.max_pages * self.page_size,
        )

    def _empty(self) -> CascadeLayout:
        return cascade_layout([], self.size, self.page_size, self.group_size,
                              self.block_m).padded(self.size, self.max_tiles)
