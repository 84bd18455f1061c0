"""Block tables of live sequences kept as rows of one int32 array, so that a step gathers the
tables of its batch with one indexing operation instead of rebuilding Python lists.

A row mirrors `seq.block_table` (a Python list the block pool grows in place). `sync` copies
only the entries appended since the last call; when the sequence holds a different list
object (preemption dropped its pages, or it took a cached prefix) the row is rewritten.

Invariant: after `sync(seq)`, `array[row, :len(seq.block_table)] == seq.block_table`; entries
past the table's length are stale and never read (kernels stop at the sequence's length).
"""

from __future__ import annotations

import numpy as np

from engine.sequence import Sequence


class BlockTableMirror:
    def __init__(self, rows: int = 16, width: int = 64) -> None:
        self.array = np.zeros((rows, width), dtype=np.int32)
        # request id -> [row, the list the row mirrors, entries copied so far]
        self._entries: dict[str, list] = {}
        self._free_rows: list[int] = list(range(rows - 1, -1, -1))

    def sync(self, seq: Sequence) -> int:
        """The row holding `seq`'s block table, brought up to date."""
        table = seq.block_table
        entry = self._entries.get(seq.request_id)
        if entry is not None and entry[1] is table and entry[2] == len(table):
            return entry[0]
        if entry is None:
            entry = self._entries[seq.request_id] = [self._take_row(), table, 0]
        if entry[1] is not table or len(table) < entry[2]:
            entry[1], entry[2] = table, 0
        row, done = entry[0], entry[2]
        if len(table) > done:
            self._ensure_width(len(table))
            self.array[row, done:len(table)] = table[done:]
            entry[2] = len(table)
        return row

    def release(self, request_id: str) -> None:
        entry = self._entries.pop(request_id, None)
        if entry is not None:
            self._free_rows.append(entry[0])

    def _take_row(self) -> int:
        if not self._free_rows:
            old = self.array.shape[0]
            self.array = np.concatenate([self.array, np.zeros_like(self.array)])
            self._free_rows = list(range(2 * old - 1, old - 1, -1))
        return self._free_rows.pop()

    def _ensure_width(self, width: int) -> None:
        if width <= self.array.shape[1]:
            return
        new_width = max(width, 2 * self.array.shape[1])
        grown = np.zeros((self.array.shape[0], new_width), dtype=np.int32)
        grown[:, : self.array.shape[1]] = self.array
        self.array = grown
