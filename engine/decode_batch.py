"""The next overlapped decode batch, advanced on the device when nothing else changed.

In steady decoding the batch of step k+1 differs from that of step k only by one position:
same sequences, in the same order, each one token further, over the same pages. Then
positions and lengths are incremented and slots looked up in the block tables on the device,
and the host builds nothing. Any other change (a sequence gone, a new page, a table replaced
after preemption) builds the batch from the host mirror as usual.
"""

from __future__ import annotations

import dataclasses

import torch

from engine.batching import build_forward_batch
from engine.forward import ForwardBatch
from engine.kv.block_tables import BlockTableMirror
from engine.scheduler import ScheduledChunk


class DecodeBatches:
    def __init__(self, page_size: int, device: torch.device, tables: BlockTableMirror) -> None:
        self.page_size = page_size
        self.device = device
        self.tables = tables
        self._last: ForwardBatch | None = None
        self._state: list[tuple] = []  # per sequence: (seq, its table list, pages, position)
        self.advanced = 0  # batches advanced on the device

    def next(self, chunks: list[ScheduledChunk], input_ids: torch.Tensor) -> ForwardBatch:
        """The batch computing one token per chunk, its token ids `input_ids` (device)."""
        state = [(c.seq, c.seq.block_table, len(c.seq.block_table), c.start) for c in chunks]
        last = self._last
        if last is not None and self._advances(state):
            batch = self._advanced(last, input_ids)
            self.advanced += 1
        else:
            batch, _ = build_forward_batch(chunks, self.page_size, self.device, self.tables,
                                           input_ids)
        self._last, self._state = batch, state
        return batch

    def _advances(self, state: list[tuple]) -> bool:
        if len(state) != len(self._state):
            return False
        for (seq, table, pages, start), (seq0, table0, pages0, start0) in zip(
                state, self._state, strict=True):
            if seq is not seq0 or table is not table0 or pages != pages0 or start != start0 + 1:
                return False
        return True

    def _advanced(self, last: ForwardBatch, input_ids: torch.Tensor) -> ForwardBatch:
        ps = self.page_size
        positions = last.positions + 1
        pages = last.block_tables.gather(1, (positions // ps).unsqueeze(1)).squeeze(1)
        return dataclasses.replace(
            last,
            input_ids=input_ids,
            positions=positions,
            seq_lens=last.seq_lens + 1,
            slot_mapping=pages.to(torch.int64) * ps + positions % ps,
            max_seq_len=last.max_seq_len + 1,
        )
