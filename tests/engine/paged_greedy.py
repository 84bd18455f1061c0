"""A minimal greedy loop over ModelRunner with pages assigned by hand, for model tests."""

from __future__ import annotations

import torch

from engine.forward import ForwardBatch
from engine.runner import ModelRunner


def make_batch(
    chunks: list[list[int]], starts: list[int], pages: list[list[int]], page_size: int
) -> ForwardBatch:
    """Sequence i adds tokens `chunks[i]` at positions starts[i].. using pages `pages[i]`."""
    query_lens = [len(c) for c in chunks]
    seq_lens = [s + n for s, n in zip(starts, query_lens, strict=True)]
    positions = [list(range(s, s + n)) for s, n in zip(starts, query_lens, strict=True)]
    slots = [
        pages[i][p // page_size] * page_size + p % page_size
        for i, seq in enumerate(positions)
        for p in seq
    ]
    width = max(len(p) for p in pages)
    tables = torch.tensor([p + [0] * (width - len(p)) for p in pages], dtype=torch.int32)
    query_start = torch.tensor([0, *torch.tensor(query_lens).cumsum(0).tolist()], dtype=torch.int32)
    return ForwardBatch(
        input_ids=torch.tensor([t for c in chunks for t in c], dtype=torch.long),
        positions=torch.tensor([p for seq in positions for p in seq], dtype=torch.long),
        seq_lens=torch.tensor(seq_lens, dtype=torch.int32),
        query_lens=torch.tensor(query_lens, dtype=torch.int32),
        query_start=query_start,
        block_tables=tables,
        slot_mapping=torch.tensor(slots, dtype=torch.long),
        logits_indices=(query_start[1:] - 1).long(),
        page_size=page_size,
        max_query_len=max(query_lens),
        max_seq_len=max(seq_lens),
        is_decode=all(n == 1 for n in query_lens),
    )


def assign_pages(lengths: list[int], page_size: int, num_pages: int) -> list[list[int]]:
    """Disjoint pages per sequence, handed out from the top down (never page order)."""
    free = list(range(num_pages - 1, 0, -1))
    return [[free.pop(0) for _ in range(-(-n // page_size))] for n in lengths]


def greedy(
    runner: ModelRunner, prompts: list[list[int]], new_tokens: int, prefill_chunk: int = 0
) -> list[list[int]]:
    """Greedy continuation of every prompt, run as one ragged batch: the prompts prefilled
    together (in chunks of `prefill_chunk` tokens when set), then decoded together."""
    page_size = runner.page_size
    pages = assign_pages([len(p) + new_tokens for p in prompts], page_size, runner.num_pages)
    chunk = prefill_chunk or max(len(p) for p in prompts)
    done = [0] * len(prompts)
    logits = [None] * len(prompts)
    while any(d < len(p) for d, p in zip(done, prompts, strict=True)):
        active = [i for i, p in enumerate(prompts) if done[i] < len(p)]
        chunks = [prompts[i][done[i] : done[i] + chunk] for i in active]
        batch = make_batch(chunks, [done[i] for i in active], [pages[i] for i in active], page_size)
        for i, row in zip(active, runner.forward(batch), strict=True):
            logits[i] = row
            done[i] += len(prompts[i][done[i] : done[i] + chunk])
    outputs = [[int(row.argmax())] for row in logits]
    for _ in range(new_tokens - 1):
        starts = [len(p) + len(o) - 1 for p, o in zip(prompts, outputs, strict=True)]
        batch = make_batch([[o[-1]] for o in outputs], starts, pages, page_size)
        for out, row in zip(outputs, runner.forward(batch), strict=True):
            out.append(int(row.argmax()))
    return outputs
