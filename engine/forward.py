"""The one record that crosses from the scheduler to the model: a ragged batch of sequences,
each contributing `query_lens[i]` new tokens on top of `seq_lens[i] - query_lens[i]` tokens
whose K/V already sit in pages.

Invariants:
- `input_ids`, `positions` and `slot_mapping` are flat over all new tokens, sequence by sequence.
- `slot_mapping[t] = page * page_size + offset` is where token t's K/V are written.
- `block_tables[i, j]` is the j-th page of sequence i (padded with 0 past its last page).
- `logits_indices` picks, in the flat token order, the rows whose logits are wanted (usually
  the last new token of each sequence; every new token when prompt log-probs are asked for).
- `prefix_groups` (optional) lists groups of sequences whose first `prefix_pages` pages are the
  same physical pages, for shared-prefix (cascade) decode; backends may ignore it. A group's
  `first_page` is set only when those pages are consecutive (`first_page`, `first_page + 1`,
  ...), which lets a backend read the shared K/V as one contiguous run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class PrefixGroup:
    seq_indices: tuple[int, ...]
    prefix_pages: int
    first_page: int | None = None


@dataclass
class ForwardBatch:
    input_ids: torch.Tensor  # [T] int64
    positions: torch.Tensor  # [T] int64
    seq_lens: torch.Tensor  # [B] int32, total tokens after this step
    query_lens: torch.Tensor  # [B] int32, new tokens this step
    query_start: torch.Tensor  # [B + 1] int32, cumulative query_lens
    block_tables: torch.Tensor  # [B, max_pages] int32
    slot_mapping: torch.Tensor  # [T] int64
    logits_indices: torch.Tensor  # [L] int64
    page_size: int
    max_query_len: int
    max_seq_len: int
    is_decode: bool = False  # every query_len is 1
    prefix_groups: list[PrefixGroup] = field(default_factory=list)

    @property
    def num_seqs(self) -> int:
        return int(self.seq_lens.shape[0])

    @property
    def num_tokens(self) -> int:
        return int(self.input_ids.shape[0])
