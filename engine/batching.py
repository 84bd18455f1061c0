"""A step's scheduled chunks: the `ForwardBatch` the model runs, and what its logits mean."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from engine.forward import ForwardBatch, PrefixGroup
from engine.kv.block_tables import BlockTableMirror
from engine.scheduler import ScheduledChunk
from engine.sequence import Sequence
from engine.token_scores import top_alternatives


class LogitRows(NamedTuple):
    """Which logits row belongs to which sequence and position."""

    chunk_index: int
    position: int


def build_forward_batch(chunks: list[ScheduledChunk], page_size: int, device: torch.device,
                        tables: BlockTableMirror | None = None,
                        input_ids: torch.Tensor | None = None
                        ) -> tuple[ForwardBatch, list[LogitRows]]:
    """The batch of `chunks`, its index fields built with numpy over the rows of `tables` (the
    engine's persistent mirror; a fresh one when None) and moved in two host-to-device copies.

    `input_ids`: for a decode step whose tokens are still on the device (overlapped decoding,
    one per chunk, not yet in the sequences' `token_ids`); every chunk then has a logits row."""
    tables = tables if tables is not None else BlockTableMirror()
    count = len(chunks)
    rows, starts, query_lens, pages_held = np.array(
        [(tables.sync(c.seq), c.start, c.num_tokens, len(c.seq.block_table)) for c in chunks],
        dtype=np.int64).reshape(count, 4).T
    seq_lens = starts + query_lens
    query_start = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(query_lens, out=query_start[1:])
    is_decode = bool((query_lens == 1).all())
    if is_decode:
        token_rows, positions = rows, starts
        ids = [] if input_ids is not None else [c.seq.token_ids[c.start] for c in chunks]
    else:
        assert input_ids is None, "tokens on the device are for decode steps only"
        token_rows = np.repeat(rows, query_lens)
        positions = np.arange(query_start[-1]) - np.repeat(query_start[:-1] - starts, query_lens)
        ids = [t for c in chunks for t in c.seq.token_ids[c.start:c.end]]
    slots = tables.array[token_rows, positions // page_size].astype(np.int64) * page_size \
        + positions % page_size
    if input_ids is None:
        logits_indices, logit_rows = _logit_rows(chunks, query_start)
    else:
        logits_indices = list(range(count))
        logit_rows = [LogitRows(i, c.start) for i, c in enumerate(chunks)]
    width = int(pages_held.max())
    block_tables = tables.array[rows, :width]
    block_tables[np.arange(width)[None, :] >= pages_held[:, None]] = 0
    long_fields, int_fields = _to_device(
        [np.asarray(ids, dtype=np.int64), positions, slots,
         np.asarray(logits_indices, dtype=np.int64)],
        [seq_lens, query_lens, query_start, block_tables], device)
    batch = ForwardBatch(
        input_ids=long_fields[0] if input_ids is None else input_ids,
        positions=long_fields[1],
        seq_lens=int_fields[0],
        query_lens=int_fields[1],
        query_start=int_fields[2],
        block_tables=int_fields[3].view(count, width),
        slot_mapping=long_fields[2],
        logits_indices=long_fields[3],
        page_size=page_size,
        max_query_len=int(query_lens.max()),
        max_seq_len=int(seq_lens.max()),
        is_decode=is_decode,
    )
    if is_decode:
        batch.prefix_groups = shared_prefix_groups(block_tables, seq_lens, page_size)
    return batch, logit_rows


def _logit_rows(chunks: list[ScheduledChunk], query_start: np.ndarray
                ) -> tuple[list[int], list[LogitRows]]:
    indices: list[int] = []
    rows: list[LogitRows] = []
    for index, chunk in enumerate(chunks):
        first = int(query_start[index]) - chunk.start
        for position in chunk.seq.logit_positions(chunk.start, chunk.end):
            indices.append(first + position)
            rows.append(LogitRows(index, position))
    return indices, rows


def _to_device(longs: list[np.ndarray], ints: list[np.ndarray], device: torch.device
               ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The arrays (flattened) as int64 and int32 tensors on `device`, through one copy of
    their bytes. Each array starts on a 16-byte boundary, as a tensor of its own would: Triton
    specializes kernels on pointer alignment, so an unaligned slice would compile a variant."""
    packed_longs, long_sizes = _pack(longs, np.int64)
    packed_ints, int_sizes = _pack(ints, np.int32)
    raw = torch.from_numpy(np.concatenate([packed_longs.view(np.uint8),
                                           packed_ints.view(np.uint8)]))
    if device.type == "cuda":
        raw = raw.pin_memory().to(device, non_blocking=True)
    elif raw.device != device:
        raw = raw.to(device)
    split = packed_longs.nbytes
    as_longs = raw[:split].view(torch.int64).split(long_sizes)
    as_ints = raw[split:].view(torch.int32).split(int_sizes)
    return ([t[:a.size] for t, a in zip(as_longs, longs, strict=True)],
            [t[:a.size] for t, a in zip(as_ints, ints, strict=True)])


_ALIGN_BYTES = 16


def _pack(arrays: list[np.ndarray], dtype: type[np.integer]) -> tuple[np.ndarray, list[int]]:
    """The arrays flattened into one, each padded to a whole number of 16-byte units, and the
    padded sizes."""
    per_unit = _ALIGN_BYTES // np.dtype(dtype).itemsize
    sizes = [-(-a.size // per_unit) * per_unit for a in arrays]
    packed = np.zeros(sum(sizes), dtype=dtype)
    offset = 0
    for array, size in zip(arrays, sizes, strict=True):
        packed[offset:offset + array.size] = array.ravel()
        offset += size
    return packed, sizes


def shared_prefix_groups(tables: np.ndarray, seq_lens: np.ndarray, page_size: int
                         ) -> list[PrefixGroup]:
    """Sequences whose block tables (rows of `tables`, zero past each table's end) start with
    the same physical pages (forks and prefix-cache hits), with how many whole pages they
    share and, when those pages are consecutive, the first of them; for shared-prefix
    (cascade) decode."""
    if tables.shape[1] == 0:
        return []
    first = tables[:, 0]
    pages, counts = np.unique(first, return_counts=True)
    groups = []
    for page in pages[(counts > 1) & (pages != 0)]:
        members = np.flatnonzero(first == page)
        limit = int(((seq_lens[members] - 1) // page_size).min())
        same = (tables[members, :limit] == tables[members[0], :limit]).all(axis=0)
        shared = limit if same.all() else int(same.argmin())
        if shared:
            run = tables[members[0], :shared]
            start = int(run[0]) if (np.diff(run) == 1).all() else None
            groups.append(PrefixGroup(tuple(int(m) for m in members), shared, start))
    groups.sort(key=lambda g: g.seq_indices[0])
    return groups


class BatchLogits(NamedTuple):
    """A step's float32 logits, and which chunk and position each row belongs to."""

    logits: torch.Tensor
    rows: list[LogitRows]


def sampling_rows(chunks: list[ScheduledChunk], out: BatchLogits
                  ) -> tuple[list[Sequence], torch.Tensor]:
    """Record scoring sequences' log-probabilities; return the sequences that sample now and
    their logits rows."""
    logits, rows = out
    seqs = [chunks[r.chunk_index].seq for r in rows]
    sample_rows = [i for i, s in enumerate(seqs) if s.samples]
    score_rows = [i for i, s in enumerate(seqs) if not s.samples]
    if score_rows:
        record_scores(logits[score_rows], [seqs[i] for i in score_rows],
                      [rows[i].position for i in score_rows])
    if len(sample_rows) == len(seqs):
        return seqs, logits
    return [seqs[i] for i in sample_rows], logits[sample_rows]


def record_scores(logits: torch.Tensor, seqs: list[Sequence], positions: list[int]) -> None:
    """Append, for each row, the log-probability of the token that follows its position; a
    scoring root's last row gives the log-probability of each of its branches' first tokens."""
    last = [s.branch_targets and p == s.num_tokens - 1 for s, p in zip(seqs, positions,
                                                                       strict=True)]
    if any(last):
        _record_branches(logits, seqs, last)
        keep = [i for i, is_last in enumerate(last) if not is_last]
        logits, seqs, positions = logits[keep], [seqs[i] for i in keep], [positions[i]
                                                                          for i in keep]
        if not seqs:
            return
    targets = torch.tensor([s.token_ids[p + 1] for s, p in zip(seqs, positions, strict=True)],
                           device=logits.device)
    chosen = logits.log_softmax(dim=-1).gather(1, targets.unsqueeze(1)).squeeze(1).tolist()
    tops = top_alternatives(logits, [s.sampling.top_logprobs for s in seqs])
    for seq, value, top in zip(seqs, chosen, tops, strict=True):
        seq.logprobs.append(value)
        if seq.sampling.top_logprobs:
            seq.top_logprobs.append(top)


def _record_branches(logits: torch.Tensor, seqs: list[Sequence], last: list[bool]) -> None:
    for row, (seq, is_last) in enumerate(zip(seqs, last, strict=True)):
        if is_last:
            targets = torch.tensor(seq.branch_targets, device=logits.device)
            seq.branch_logprobs = logits[row].log_softmax(dim=-1)[targets].tolist()
