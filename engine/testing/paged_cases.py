"""Random paged-attention cases and a float64 dense reference, for kernel tests and benchmarks.

A case scatters each sequence's cached keys/values over random, non-contiguous pages (pages
shared by a prefix group are the same physical pages), fills every other slot with random
garbage so over-reads show, and keeps the ground truth per sequence to compute the reference
without looking at the pages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from engine.forward import ForwardBatch, PrefixGroup


@dataclass
class PagedCase:
    batch: ForwardBatch
    q: torch.Tensor  # [T, H, D]
    k_new: torch.Tensor  # [T, KVH, D]
    v_new: torch.Tensor
    k_cache: torch.Tensor  # [P, page, KVH, D], prefixes written, new tokens not yet
    v_cache: torch.Tensor
    keys: list[torch.Tensor]  # per sequence [seq_len, KVH, D], ground truth
    values: list[torch.Tensor]


def make_case(
    prefix_lens: list[int],
    query_lens: list[int],
    *,
    num_heads: int,
    num_kv_heads: int,
    head_dim: int,
    page_size: int,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    groups: list[tuple[tuple[int, ...], int]] = (),
    seed: int = 0,
    consecutive_prefixes: bool = False,
) -> PagedCase:
    """groups: (member sequence indices, shared prefix pages); members' prefix_lens must be at
    least prefix_pages * page_size. The lowest member's tokens are the shared ones. Pages are
    scattered at random; with consecutive_prefixes each group's shared pages are one run of
    consecutive pages, and its PrefixGroup says where the run starts."""
    gen = torch.Generator().manual_seed(seed)
    seq_lens = [p + q for p, q in zip(prefix_lens, query_lens, strict=True)]
    shared_of = {m: (min(g), pages) for g, pages in groups for m in g}
    pages_needed = [math.ceil(n / page_size) for n in seq_lens]
    own_pages = [need - shared_of.get(i, (i, 0))[1] for i, need in enumerate(pages_needed)]
    num_pages = sum(own_pages) + sum(pages for _, pages in groups) + 3
    order = torch.randperm(num_pages, generator=gen).tolist()
    runs = list(range(num_pages - sum(pages for _, pages in groups), num_pages))
    if consecutive_prefixes:
        order = [page for page in order if page < runs[0]] if runs else order
    tables: list[list[int]] = [[] for _ in seq_lens]
    first_pages: list[int | None] = []
    for members, pages in groups:
        if consecutive_prefixes:
            shared, runs = runs[:pages], runs[pages:]
        else:
            shared = [order.pop() for _ in range(pages)]
        first_pages.append(shared[0] if consecutive_prefixes else None)
        for m in members:
            tables[m] = list(shared)
    for i, need in enumerate(pages_needed):
        tables[i] += [order.pop() for _ in range(need - len(tables[i]))]

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    kv_shape = (num_pages, page_size, num_kv_heads, head_dim)
    k_cache, v_cache = rand(*kv_shape), rand(*kv_shape)
    keys, values = [], []
    for i, n in enumerate(seq_lens):
        k, v = rand(n, num_kv_heads, head_dim), rand(n, num_kv_heads, head_dim)
        owner, pages = shared_of.get(i, (i, 0))
        shared_tokens = pages * page_size
        if owner != i:
            k[:shared_tokens] = keys[owner][:shared_tokens]
            v[:shared_tokens] = values[owner][:shared_tokens]
        keys.append(k.to(dtype).to(torch.float64))
        values.append(v.to(dtype).to(torch.float64))
        cached = _slots(tables[i], range(prefix_lens[i]), page_size)
        k_cache.view(-1, num_kv_heads, head_dim)[cached] = keys[i][: prefix_lens[i]]
        v_cache.view(-1, num_kv_heads, head_dim)[cached] = values[i][: prefix_lens[i]]

    slots = torch.cat(
        [_slots(tables[i], range(prefix_lens[i], n), page_size) for i, n in enumerate(seq_lens)]
    )
    max_pages = max(pages_needed)
    table = torch.zeros(len(seq_lens), max_pages, dtype=torch.int32)
    for i, row in enumerate(tables):
        table[i, : len(row)] = torch.tensor(row, dtype=torch.int32)
    total = sum(query_lens)
    query_start = torch.tensor([0] + query_lens, dtype=torch.int32).cumsum(0).to(torch.int32)
    positions = [pos for i, n in enumerate(seq_lens) for pos in range(prefix_lens[i], n)]
    dev = torch.device(device)
    batch = ForwardBatch(
        input_ids=torch.zeros(total, dtype=torch.int64, device=dev),
        positions=torch.tensor(positions, dtype=torch.int64, device=dev),
        seq_lens=torch.tensor(seq_lens, dtype=torch.int32, device=dev),
        query_lens=torch.tensor(query_lens, dtype=torch.int32, device=dev),
        query_start=query_start.to(dev),
        block_tables=table.to(dev),
        slot_mapping=slots.to(dev),
        logits_indices=(query_start[1:] - 1).to(torch.int64).to(dev),
        page_size=page_size,
        max_query_len=max(query_lens),
        max_seq_len=max(seq_lens),
        is_decode=all(q == 1 for q in query_lens),
        prefix_groups=[PrefixGroup(tuple(m), pages, first)
                       for (m, pages), first in zip(groups, first_pages, strict=True)],
    )
    k_new = torch.cat([keys[i][prefix_lens[i] :] for i in range(len(seq_lens))])
    v_new = torch.cat([values[i][prefix_lens[i] :] for i in range(len(seq_lens))])
    q = rand(total, num_heads, head_dim)
    return PagedCase(
        batch=batch,
        q=q.to(dtype).to(dev),
        k_new=k_new.to(dtype).to(dev),
        v_new=v_new.to(dtype).to(dev),
        k_cache=k_cache.to(dtype).to(dev),
        v_cache=v_cache.to(dtype).to(dev),
        keys=keys,
        values=values,
    )


def _slots(table: list[int], positions: range, page_size: int) -> torch.Tensor:
    pos = torch.tensor(positions, dtype=torch.int64)
    return torch.tensor(table, dtype=torch.int64)[pos // page_size] * page_size + pos % page_size


def reference_attention(case: PagedCase, scale: float, device: str = "cpu") -> torch.Tensor:
    """Causal grouped-query attention in float64 from the ground truth, [T, H, D]."""
    batch = case.batch
    q = case.q.detach().to(device, torch.float64)
    num_heads = q.shape[1]
    outs = []
    starts = batch.query_start.tolist()
    for i, seq_len in enumerate(batch.seq_lens.tolist()):
        q_i = q[starts[i] : starts[i + 1]]  # [n, H, D]
        group = num_heads // case.keys[i].shape[1]
        k = case.keys[i].to(device).repeat_interleave(group, dim=1)  # [S, H, D]
        v = case.values[i].to(device).repeat_interleave(group, dim=1)
        scores = torch.einsum("nhd,shd->hns", q_i, k) * scale
        pos = torch.arange(seq_len - q_i.shape[0], seq_len, device=device)
        visible = torch.arange(seq_len, device=device)[None, :] <= pos[:, None]
        scores = scores.masked_fill(~visible, float("-inf"))
        outs.append(torch.einsum("hns,shd->nhd", scores.softmax(-1), v))
    return torch.cat(outs)


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """‖out − ref‖ / ‖ref‖ in float64; NaN anywhere gives inf."""
    diff = out.detach().to(ref.device, torch.float64) - ref
    if not torch.isfinite(diff).all():
        return math.inf
    return float(diff.norm() / ref.norm())


@dataclass(frozen=True)
class MatrixCase:
    """One kernel check of the shape matrix (page sizes, head dims, GQA ratios, lengths)."""

    kernel: str  # "prefill", "decode" or "cascade"
    label: str
    prefix_lens: tuple[int, ...]
    query_lens: tuple[int, ...]
    num_heads: int
    num_kv_heads: int
    head_dim: int
    page_size: int
    dtype: torch.dtype
    groups: tuple[tuple[tuple[int, ...], int], ...] = ()
    consecutive_prefixes: bool = False

    @property
    def name(self) -> str:
        gqa = self.num_heads // self.num_kv_heads
        dtype = str(self.dtype).removeprefix("torch.")
        return f"{self.kernel}-{self.label}-p{self.page_size}-d{self.head_dim}-g{gqa}-{dtype}"

    def make(self, device: str, seed: int = 0) -> PagedCase:
        return make_case(
            list(self.prefix_lens),
            list(self.query_lens),
            num_heads=self.num_heads,
            num_kv_heads=self.num_kv_heads,
            head_dim=self.head_dim,
            page_size=self.page_size,
            dtype=self.dtype,
            device=device,
            groups=list(self.groups),
            seed=seed,
            consecutive_prefixes=self.consecutive_prefixes,
        )


def _length_cases(page: int) -> list[tuple[str, str, tuple, tuple, tuple]]:
    long_pages = 8192 // page
    members = (0, 1, 2, 3, 4, 5)
    return [
        ("prefill", "one-token", (0,), (1,), ()),
        ("prefill", "page-multiples", (0, page), (page, 4 * page), ()),
        ("prefill", "ragged", (0, 37, 300), (53, 1, 129), ()),
        ("prefill", "prefix-8k", (8187, 1000), (77, 2 * page), ()),
        ("decode", "lengths", (0, page - 1, 3 * page - 1, 999, 8196), (1,) * 5, ()),
        *[
            (
                "cascade",
                label,
                (8192, 8195, 8192 + page, 8292, 8447, 8199, 500, 2 * page + 1, 5 * page),
                (1,) * 9,
                ((members, long_pages), ((7, 8), 2)),
            )
            for label in ("prefix-8k", "prefix-8k-consecutive")
        ],
    ]


def kernel_matrix() -> list[MatrixCase]:
    """Page sizes 16/32, head dims 64/128, GQA 1/4/8 in bf16, plus float32 spot checks."""
    cases = []
    for page in (16, 32):
        for head_dim in (64, 128):
            for heads, kv_heads in ((4, 4), (16, 4), (32, 4)):
                for kernel, label, prefix, query, groups in _length_cases(page):
                    cases.append(
                        MatrixCase(
                            kernel,
                            label,
                            prefix,
                            query,
                            heads,
                            kv_heads,
                            head_dim,
                            page,
                            torch.bfloat16,
                            groups,
                            label.endswith("consecutive"),
                        )
                    )
    for kernel, label, prefix, query, groups in _length_cases(16):
        cases.append(MatrixCase(kernel, label, prefix, query, 16, 4, 64, 16, torch.float32, groups,
                                label.endswith("consecutive")))
    return cases
