"""The torch reference attention backend: plain, readable, on any device, in float32.
It is the ground truth the Triton kernels are tested against.

`attend` gathers each sequence's pages into a padded [B, S, kv_heads, head_dim] view and runs
a masked softmax; sequences are processed in groups so the score tensor stays bounded.
Slots past a sequence's length never affect its output, whatever they hold (NaN included).
"""

from __future__ import annotations

import torch

from engine.attention.base import AttentionBackend
from engine.forward import ForwardBatch

MAX_SCORE_ELEMENTS = 1 << 26  # per group of sequences: B * heads * max_query * max_seq


class TorchReferenceBackend(AttentionBackend):
    name = "reference"

    def write_kv(self, k_cache, v_cache, k, v, slot_mapping) -> None:
        num_kv_heads, head_dim = k_cache.shape[-2:]
        k_cache.view(-1, num_kv_heads, head_dim).index_copy_(0, slot_mapping, k.to(k_cache.dtype))
        v_cache.view(-1, num_kv_heads, head_dim).index_copy_(0, slot_mapping, v.to(v_cache.dtype))

    def attend(self, q, k_cache, v_cache, batch: ForwardBatch, scale: float) -> torch.Tensor:
        out = torch.empty_like(q)
        query_lens = batch.query_lens.tolist()
        seq_lens = batch.seq_lens.tolist()
        starts = batch.query_start.tolist()
        for first, last in _groups(query_lens, seq_lens, q.shape[1]):
            # sequences are contiguous in the flat token order
            out[starts[first] : starts[last]] = _attend_group(
                q, k_cache, v_cache, batch, scale, first, last, query_lens, seq_lens, starts
            ).to(q.dtype)
        return out


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


def _attend_group(q, k_cache, v_cache, batch, scale, first, last, query_lens, seq_lens, starts):
    device = q.device
    page_size = k_cache.shape[1]
    num_kv_heads, head_dim = k_cache.shape[-2:]
    num_heads = q.shape[1]
    group = num_heads // num_kv_heads
    count = last - first
    max_q = max(query_lens[first:last])
    max_s = max(seq_lens[first:last])
    num_pages = -(-max_s // page_size)

    tables = batch.block_tables[first:last, :num_pages].to(device=device, dtype=torch.long)
    keys = k_cache[tables].reshape(count, num_pages * page_size, num_kv_heads, head_dim)
    values = v_cache[tables].reshape(count, num_pages * page_size, num_kv_heads, head_dim)
    keys = keys[:, :max_s].float().permute(0, 2, 1, 3)  # [B, kvh, S, D]
    values = values[:, :max_s].float().permute(0, 2, 1, 3)

    q_lens = torch.tensor(query_lens[first:last], device=device)
    s_lens = torch.tensor(seq_lens[first:last], device=device)
    q_offsets = torch.arange(max_q, device=device)
    q_valid = q_offsets[None, :] < q_lens[:, None]  # [B, max_q]
    q_rows = torch.tensor(starts[first:last], device=device)[:, None] + q_offsets[None, :]
    q_rows = torch.where(q_valid, q_rows, torch.zeros_like(q_rows))
    queries = q[q_rows].float()  # [B, max_q, H, D]
    queries = queries.view(count, max_q, num_kv_heads, group, head_dim)
    queries = queries.permute(0, 2, 3, 1, 4).reshape(count, num_kv_heads, group * max_q, head_dim)

    key_positions = torch.arange(max_s, device=device)
    unwritten = key_positions[None, :] >= s_lens[:, None]  # [B, S]: may hold anything, NaN too
    values = values.masked_fill(unwritten[:, None, :, None], 0.0)

    scores = (queries @ keys.transpose(-1, -2)) * scale  # [B, kvh, group * max_q, S]
    q_positions = (s_lens - q_lens)[:, None] + q_offsets[None, :]  # [B, max_q]
    allowed = key_positions[None, None, :] <= q_positions[:, :, None]  # [B, max_q, S]
    allowed = allowed | ~q_valid[:, :, None]  # padded queries: anything, dropped below
    allowed = allowed[:, None, None].expand(count, num_kv_heads, group, max_q, max_s)
    scores = scores.masked_fill(~allowed.reshape(scores.shape), float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    out = weights @ values  # [B, kvh, group * max_q, D]
    out = out.view(count, num_kv_heads, group, max_q, head_dim).permute(0, 3, 1, 2, 4)
    out = out.reshape(count, max_q, num_heads, head_dim)
    return out[q_valid]  # [sum of query_lens, H, D], in flat order
