"""A step's scheduled chunks: the `ForwardBatch` the model runs, and what its logits mean."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from engine.forward import ForwardBatch, PrefixGroup
from engine.kv.manager import KVManager
from engine.scheduler import ScheduledChunk
from engine.sequence import Sequence


class LogitRows(NamedTuple):
    """Which logits row belongs to which sequence and position."""

    chunk_index: int
    position: int


def build_forward_batch(chunks: list[ScheduledChunk], page_size: int, device: torch.device
                        ) -> tuple[ForwardBatch, list[LogitRows]]:
    input_ids: list[int] = []
    positions: list[int] = []
    slots: list[int] = []
    logits_indices: list[int] = []
    rows: list[LogitRows] = []
    for index, chunk in enumerate(chunks):
        seq, first = chunk.seq, len(input_ids)
        span = range(chunk.start, chunk.end)
        input_ids.extend(seq.token_ids[chunk.start:chunk.end])
        positions.extend(span)
        slots.extend(seq.block_table[p // page_size] * page_size + p % page_size for p in span)
        for position in seq.logit_positions(chunk.start, chunk.end):
            logits_indices.append(first + position - chunk.start)
            rows.append(LogitRows(index, position))
    query_lens = [c.num_tokens for c in chunks]
    seq_lens = [c.end for c in chunks]
    max_pages = max(len(c.seq.block_table) for c in chunks)
    tables = [c.seq.block_table + [0] * (max_pages - len(c.seq.block_table)) for c in chunks]
    query_start = [0]
    for n in query_lens:
        query_start.append(query_start[-1] + n)

    def tensor(values: list, dtype: torch.dtype) -> torch.Tensor:
        return torch.tensor(values, dtype=dtype, device=device)

    batch = ForwardBatch(
        input_ids=tensor(input_ids, torch.int64),
        positions=tensor(positions, torch.int64),
        seq_lens=tensor(seq_lens, torch.int32),
        query_lens=tensor(query_lens, torch.int32),
        query_start=tensor(query_start, torch.int32),
        block_tables=tensor(tables, torch.int32),
        slot_mapping=tensor(slots, torch.int64),
        logits_indices=tensor(logits_indices, torch.int64),
        page_size=page_size,
        max_query_len=max(query_lens),
        max_seq_len=max(seq_lens),
        is_decode=all(n == 1 for n in query_lens),
    )
    if batch.is_decode:
        batch.prefix_groups = shared_prefix_groups([c.seq.block_table for c in chunks],
                                                   seq_lens, page_size)
    return batch, rows


def shared_prefix_groups(tables: list[list[int]], seq_lens: list[int], page_size: int
                         ) -> list[PrefixGroup]:
    """Sequences whose block tables start with the same physical pages (forks and prefix-cache
    hits), with how many whole pages they share; for shared-prefix (cascade) decode."""
    by_first_page: dict[int, list[int]] = {}
    for i, table in enumerate(tables):
        if table:
            by_first_page.setdefault(table[0], []).append(i)
    groups = []
    for members in by_first_page.values():
        if len(members) < 2:
            continue
        limit = min((seq_lens[i] - 1) // page_size for i in members)
        shared = 0
        while shared < limit and len({tables[i][shared] for i in members}) == 1:
            shared += 1
        if shared:
            groups.append(PrefixGroup(tuple(members), shared))
    return groups


def run_chunks(runner: Any, kv: KVManager, chunks: list[ScheduledChunk], device: torch.device
               ) -> tuple[list[Sequence], torch.Tensor]:
    """Run the model on `chunks`, mark their tokens computed and publish their whole pages;
    record scoring sequences' log-probabilities; return the sequences that sample now and
    their logits rows."""
    batch, rows = build_forward_batch(chunks, kv.page_size, device)
    logits = runner.forward(batch).float()
    for chunk in chunks:
        chunk.seq.num_computed_tokens += chunk.num_tokens
        kv.publish(chunk.seq)
    seqs = [chunks[r.chunk_index].seq for r in rows]
    sample_rows = [i for i, s in enumerate(seqs) if s.samples]
    score_rows = [i for i, s in enumerate(seqs) if not s.samples]
    if score_rows:
        record_scores(logits[score_rows], [seqs[i] for i in score_rows],
                      [rows[i].position for i in score_rows])
    return [seqs[i] for i in sample_rows], logits[sample_rows]


def record_scores(logits: torch.Tensor, seqs: list[Sequence], positions: list[int]) -> None:
    """Append, for each row, the log-probability of the token that follows its position."""
    targets = torch.tensor([s.token_ids[p + 1] for s, p in zip(seqs, positions, strict=True)],
                           device=logits.device)
    chosen = logits.log_softmax(dim=-1).gather(1, targets.unsqueeze(1)).squeeze(1).tolist()
    for seq, value in zip(seqs, chosen, strict=True):
        seq.logprobs.append(value)
