"""The torch reference attention backend: plain, readable, on any device, in float32.
It is the ground truth the Triton kernels are tested against.

`attend` gathers each sequence's pages into a padded [B, kv_heads, S, head_dim] batch and runs
torch's scaled_dot_product_attention under an explicit causal mask, in float32; sequences are
processed in groups so the padded shapes stay bounded.
Slots past a sequence's length never affect its output, whatever they hold (NaN included).
The index tensors and masks of a batch are built once and reused by every layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.attention.base import AttentionBackend
from engine.forward import ForwardBatch

MAX_SCORE_ELEMENTS = 1 << 26  # per group of sequences: B * heads * max_query * max_seq


@dataclass
class _Group:
    """Sequences first..last-1 of a batch, padded to max_q queries and max_s keys."""

    rows: slice  # their new tokens in the flat order (sequences are contiguous)
    tables: torch.Tensor  # [B, pages] long
    max_s: int
    query_index: torch.Tensor  # [B, max_q] flat row of each padded query (0 for padding)
    query_valid: torch.Tensor  # [B, max_q]
    unwritten: torch.Tensor  # [B, 1, S, 1]: key slots past the sequence's length
    visible: torch.Tensor  # [B, 1, max_q, S]: the keys each query sees


_NO_GRAPHS = "the torch reference backend runs without CUDA graphs"


class TorchReferenceBackend(AttentionBackend):
    name = "reference"
    supports_cuda_graphs = False  # attend plans its work from the batch's lengths on the host

    def __init__(self) -> None:
        self._batch: ForwardBatch | None = None
        self._groups: list[_Group] = []

    def write_kv(self, k_cache, v_cache, k, v, slot_mapping) -> None:
        num_kv_heads, head_dim = k_cache.shape[-2:]
        k_cache.view(-1, num_kv_heads, head_dim).index_copy_(0, slot_mapping, k.to(k_cache.dtype))
        v_cache.view(-1, num_kv_heads, head_dim).index_copy_(0, slot_mapping, v.to(v_cache.dtype))

    def attend(self, q, k_cache, v_cache, batch: ForwardBatch, scale: float) -> torch.Tensor:
        if batch is not self._batch:
            self._groups = _plan(batch, q.shape[1], k_cache.shape[1], q.device)
            self._batch = batch
        out = torch.empty_like(q)
        for group in self._groups:
            out[group.rows] = _attend_group(q, k_cache, v_cache, group, scale).to(q.dtype)
        return out

    def init_cuda_graphs(self, max_num_seqs: int, max_pages: int, page_size: int,
                         group_size: int, head_dim: int, device: torch.device) -> None:
        raise NotImplementedError(_NO_GRAPHS)

    def graph_variant(self, batch: ForwardBatch) -> int:
        raise NotImplementedError(_NO_GRAPHS)

    def prepare_capture(self, batch: ForwardBatch, variant: int) -> None:
        raise NotImplementedError(_NO_GRAPHS)


def _plan(batch: ForwardBatch, num_heads: int, page_size: int, device) -> list[_Group]:
    query_lens = batch.query_lens.tolist()
    seq_lens = batch.seq_lens.tolist()
    starts = batch.query_start.tolist()
    return [
        _group(batch, first, last, query_lens, seq_lens, starts, page_size, device)
        for first, last in _groups(query_lens, seq_lens, num_heads)
    ]


def _groups(query_lens: list[int], seq_lens: list[int], num_heads: int):
    """Consecutive ranges of sequences whose padded score tensor fits the budget."""
    first = 0
    while first < len(query_lens):
        last = first + 1
        while last < len(query_lens):
            max_q = max(query_lens[first : last + 1])
            max_s = max(seq_lens[first : last + 1])
            if (last + 1 - first) * num_heads * max_q * max_s > MAX_SCORE_ELEMENTS:
                break
            last += 1
        yield first, last
        first = last


def _group(batch, first, last, query_lens, seq_lens, starts, page_size, device) -> _Group:
    max_q = max(query_lens[first:last])
    max_s = max(seq_lens[first:last])
    num_pages = -(-max_s // page_size)
    q_lens = torch.tensor(query_lens[first:last], device=device)
    s_lens = torch.tensor(seq_lens[first:last], device=device)
    q_offsets = torch.arange(max_q, device=device)
    query_valid = q_offsets[None, :] < q_lens[:, None]
    query_index = torch.tensor(starts[first:last], device=device)[:, None] + q_offsets[None, :]
    query_index = torch.where(query_valid, query_index, torch.zeros_like(query_index))
    key_positions = torch.arange(max_s, device=device)
    q_positions = (s_lens - q_lens)[:, None] + q_offsets[None, :]  # absolute, [B, max_q]
    visible = key_positions[None, None, :] <= q_positions[:, :, None]  # causal
    visible |= ~query_valid[:, :, None]  # padded queries see anything; they are dropped
    return _Group(
        rows=slice(starts[first], starts[last]),
        tables=batch.block_tables[first:last, :num_pages].to(device=device, dtype=torch.long),
        max_s=max_s,
        query_index=query_index,
        query_valid=query_valid,
        unwritten=(key_positions[None, :] >= s_lens[:, None])[:, None, :, None],
        visible=visible[:, None],
    )


def _attend_group(q, k_cache, v_cache, group: _Group, scale: float) -> torch.Tensor:
    def gather(cache: torch.Tensor) -> torch.Tensor:  # [B, kvh, S, D] float32, unwritten = 0
        pages = cache[group.tables].flatten(1, 2)[:, : group.max_s]
        return pages.float().permute(0, 2, 1, 3).masked_fill(group.unwritten, 0.0)

    queries = q[group.query_index].float().transpose(1, 2)  # [B, H, max_q, D]
    out = F.scaled_dot_product_attention(  # query head h reads KV head h // (H // kvh)
        queries,
        gather(k_cache),
        gather(v_cache),
        attn_mask=group.visible,
        scale=scale,
        enable_gqa=True,
    )
    return out.transpose(1, 2)[group.query_valid]  # [tokens of the group, H, D], flat order
