"""The block-table mirror and the shared-prefix groups built from it, against plain lists."""

from __future__ import annotations

import random

import numpy as np
import torch

from engine.api import SamplingParams
from engine.batching import build_forward_batch, shared_prefix_groups
from engine.kv.block_tables import BlockTableMirror
from engine.scheduler import ScheduledChunk
from engine.sequence import Sequence


def seq(name: str, table: list[int], tokens: int = 8) -> Sequence:
    s = Sequence(name, list(range(tokens)), SamplingParams())
    s.block_table = table
    return s


def mirrored(mirror: BlockTableMirror, s: Sequence) -> list[int]:
    row = mirror.sync(s)
    return mirror.array[row, : len(s.block_table)].tolist()


def test_rows_follow_appends_resets_and_new_lists_and_grow():
    mirror = BlockTableMirror(rows=2, width=2)
    a, b, c = seq("a", [5]), seq("b", [7, 8]), seq("c", [])
    assert mirrored(mirror, a) == [5] and mirrored(mirror, b) == [7, 8]
    a.block_table.extend([6, 9, 11])  # in place, past the initial width
    assert mirrored(mirror, a) == [5, 6, 9, 11]
    a.block_table = [3, 4]  # preempted and re-admitted: a new, shorter list
    assert mirrored(mirror, a) == [3, 4]
    a.block_table = [1, 2, 12, 13, 14]  # a new list longer than the old one
    assert mirrored(mirror, a) == [1, 2, 12, 13, 14]
    c.block_table.append(42)  # a third row: the array grows
    assert mirrored(mirror, c) == [42] and mirrored(mirror, b) == [7, 8]
    row_b = mirror.sync(b)
    mirror.release("b")
    d = seq("d", [99])
    assert mirror.sync(d) == row_b and mirrored(mirror, d) == [99]
    mirror.release("zzz")  # unknown ids are ignored


def brute_force_groups(tables: list[list[int]], seq_lens: list[int], page_size: int):
    by_first: dict[int, list[int]] = {}
    for i, t in enumerate(tables):
        by_first.setdefault(t[0], []).append(i)
    out = []
    for members in by_first.values():
        if len(members) < 2:
            continue
        limit = min((seq_lens[i] - 1) // page_size for i in members)
        shared = 0
        while shared < limit and len({tables[i][shared] for i in members}) == 1:
            shared += 1
        if shared:
            run = tables[members[0]][:shared]
            consecutive = all(b == a + 1 for a, b in zip(run, run[1:], strict=False))
            out.append((tuple(members), shared, run[0] if consecutive else None))
    return sorted(out)


def test_shared_prefix_groups_match_a_page_by_page_comparison():
    rng = random.Random(0)
    page_size = 4
    for _ in range(200):
        roots = []  # scattered pages, or a run of consecutive ones
        for _ in range(rng.randint(1, 3)):
            start, length = rng.randrange(1, 9_000), rng.randint(1, 6)
            roots.append(list(range(start, start + length)) if rng.random() < 0.5 else
                         [rng.randrange(1, 10_000) for _ in range(length)])
        tables, lens = [], []
        for _ in range(rng.randint(1, 12)):
            root = rng.choice(roots)
            keep = rng.randint(1, len(root))
            table = root[:keep] + [rng.randrange(10_000, 20_000) for _ in range(rng.randint(0, 3))]
            tables.append(table)
            lens.append(rng.randint((len(table) - 1) * page_size + 1, len(table) * page_size))
        width = max(map(len, tables))
        array = np.array([t + [0] * (width - len(t)) for t in tables], dtype=np.int32)
        got = shared_prefix_groups(array, np.array(lens), page_size)
        assert sorted((g.seq_indices, g.prefix_pages, g.first_page) for g in got) == \
            brute_force_groups(tables, lens, page_size)


def test_batch_tables_are_zero_past_each_sequence_and_slots_follow_pages():
    page_size = 4
    a = seq("a", [3, 9, 4], tokens=10)
    b = seq("b", [3, 7], tokens=6)
    chunks = [ScheduledChunk(a, 6, 4), ScheduledChunk(b, 5, 1)]
    batch, rows = build_forward_batch(chunks, page_size, torch.device("cpu"))
    assert batch.block_tables.tolist() == [[3, 9, 4], [3, 7, 0]]
    assert batch.positions.tolist() == [6, 7, 8, 9, 5]
    assert batch.slot_mapping.tolist() == [9 * 4 + 2, 9 * 4 + 3, 4 * 4, 4 * 4 + 1, 7 * 4 + 1]
    assert batch.input_ids.tolist() == [6, 7, 8, 9, 5]
    assert batch.query_start.tolist() == [0, 4, 5] and batch.seq_lens.tolist() == [10, 6]
    assert batch.logits_indices.tolist() == [3, 4] and not batch.is_decode
    assert [(r.chunk_index, r.position) for r in rows] == [(0, 9), (1, 5)]


def test_every_batch_field_starts_on_a_16_byte_boundary_whatever_the_batch_size():
    """Triton specializes kernels on pointer alignment: a field sliced at an odd offset would
    compile a new kernel variant in the middle of serving."""
    page_size = 4
    for count in range(1, 7):
        seqs = [seq(f"s{i}", [i + 1, i + 20][: -(-(3 + i) // page_size)], tokens=3 + i)
                for i in range(count)]
        chunks = [ScheduledChunk(s, 0, 3 + i) for i, s in enumerate(seqs)]
        batch, _ = build_forward_batch(chunks, page_size, torch.device("cpu"))
        fields = [batch.input_ids, batch.positions, batch.slot_mapping, batch.logits_indices,
                  batch.seq_lens, batch.query_lens, batch.query_start, batch.block_tables]
        assert all(f.data_ptr() % 16 == 0 for f in fields), count
        assert batch.seq_lens.tolist() == [3 + i for i in range(count)]
        assert batch.query_start.tolist() == [sum(3 + i for i in range(k)) for k in
                                              range(count + 1)]
