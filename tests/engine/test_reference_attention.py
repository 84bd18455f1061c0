"""The torch reference attention against a plain dense causal softmax, on paged KV."""

from __future__ import annotations

import pytest
import torch

from engine.attention import get_backend, reference
from engine.attention.reference import TorchReferenceBackend
from engine.forward import ForwardBatch

NUM_HEADS, NUM_KV_HEADS, HEAD_DIM = 8, 2, 16


def dense_causal(q, k, v, scale):
    """q [Q, H, D] for the last Q of S positions; k, v [S, KVH, D]."""
    group = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    scores = torch.einsum("qhd,shd->hqs", q, k) * scale
    first = k.shape[0] - q.shape[0]
    positions = torch.arange(q.shape[0])[:, None] + first
    scores = scores.masked_fill(torch.arange(k.shape[0])[None, :] > positions, float("-inf"))
    return torch.einsum("hqs,shd->qhd", scores.softmax(-1), v)


def paged_batch(seq_lens, query_lens, page_size, generator):
    """A ForwardBatch over shuffled pages, the full K/V of each sequence, and its queries."""
    num_pages = sum(-(-s // page_size) for s in seq_lens) + 1
    free_pages = (torch.randperm(num_pages - 1, generator=generator) + 1).tolist()
    max_pages = max(-(-s // page_size) for s in seq_lens)
    tables = torch.zeros(len(seq_lens), max_pages, dtype=torch.int32)
    slots, keys, values = [], [], []
    for i, seq_len in enumerate(seq_lens):
        pages = [free_pages.pop() for _ in range(-(-seq_len // page_size))]
        tables[i, : len(pages)] = torch.tensor(pages, dtype=torch.int32)
        slots.append(
            torch.tensor(
                [pages[p // page_size] * page_size + p % page_size for p in range(seq_len)]
            )
        )
        keys.append(torch.randn(seq_len, NUM_KV_HEADS, HEAD_DIM, generator=generator))
        values.append(torch.randn(seq_len, NUM_KV_HEADS, HEAD_DIM, generator=generator))
    queries = [torch.randn(n, NUM_HEADS, HEAD_DIM, generator=generator) for n in query_lens]
    query_lens_t = torch.tensor(query_lens, dtype=torch.int32)
    batch = ForwardBatch(
        input_ids=torch.zeros(sum(query_lens), dtype=torch.long),
        positions=torch.cat(
            [torch.arange(s - n, s) for s, n in zip(seq_lens, query_lens, strict=True)]
        ),
        seq_lens=torch.tensor(seq_lens, dtype=torch.int32),
        query_lens=query_lens_t,
        query_start=torch.cat([torch.zeros(1, dtype=torch.int32), query_lens_t.cumsum(0)]).int(),
        block_tables=tables,
        slot_mapping=torch.cat([s[-n:] for s, n in zip(slots, query_lens, strict=True)]),
        logits_indices=torch.zeros(0, dtype=torch.long),
        page_size=page_size,
        max_query_len=max(query_lens),
        max_seq_len=max(seq_lens),
        is_decode=all(n == 1 for n in query_lens),
    )
    return batch, num_pages, slots, keys, values, queries


@pytest.mark.parametrize("page_size", [16, 32])
@pytest.mark.parametrize(
    ("seq_lens", "query_lens"),
    [
        ([37], [37]),  # one prefill
        ([5, 70, 33, 16], [5, 70, 33, 16]),  # ragged prefills
        ([50, 9, 64], [1, 1, 1]),  # ragged decode
        ([90, 17, 40, 3], [12, 1, 40, 2]),  # chunked prefill on a cached prefix, mixed
    ],
)
def test_reference_matches_dense_causal_softmax(page_size, seq_lens, query_lens):
    check_against_dense(page_size, seq_lens, query_lens)


def test_groups_of_sequences_under_a_small_score_budget_give_the_same(monkeypatch):
    monkeypatch.setattr(reference, "MAX_SCORE_ELEMENTS", 8 * 40 * 40)  # splits the batch
    assert len(list(reference._groups([12, 1, 40, 2], [90, 17, 40, 3], 8))) == 4
    check_against_dense(16, [90, 17, 40, 3], [12, 1, 40, 2])


def check_against_dense(page_size, seq_lens, query_lens):
    generator = torch.Generator().manual_seed(page_size + sum(seq_lens))
    batch, num_pages, slots, keys, values, queries = paged_batch(
        seq_lens, query_lens, page_size, generator
    )
    backend = TorchReferenceBackend()
    shape = (num_pages, page_size, NUM_KV_HEADS, HEAD_DIM)
    # unwritten slots hold NaN: they must never reach the output
    k_cache, v_cache = torch.full(shape, float("nan")), torch.full(shape, float("nan"))
    cached = [s - n for s, n in zip(seq_lens, query_lens, strict=True)]
    for slot, k, v, c in zip(
        slots, keys, values, cached, strict=True
    ):  # the prefix already in pages
        backend.write_kv(k_cache, v_cache, k[:c], v[:c], slot[:c])
    new_k = torch.cat([k[c:] for k, c in zip(keys, cached, strict=True)])
    new_v = torch.cat([v[c:] for v, c in zip(values, cached, strict=True)])
    backend.write_kv(k_cache, v_cache, new_k, new_v, batch.slot_mapping)

    out = backend.attend(torch.cat(queries), k_cache, v_cache, batch, scale=HEAD_DIM**-0.5)

    expected = torch.cat(
        [
            dense_causal(q, k, v, HEAD_DIM**-0.5)
            for q, k, v in zip(queries, keys, values, strict=True)
        ]
    )
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_write_kv_puts_each_token_at_its_slot():
    backend = TorchReferenceBackend()
    k_cache, v_cache = torch.zeros(4, 16, 2, 8), torch.zeros(4, 16, 2, 8)
    k, v = torch.randn(3, 2, 8), torch.randn(3, 2, 8)
    backend.write_kv(k_cache, v_cache, k, v, torch.tensor([17, 63, 2]))
    torch.testing.assert_close(k_cache[1, 1], k[0])
    torch.testing.assert_close(v_cache[3, 15], v[1])
    torch.testing.assert_close(k_cache[0, 2], k[2])
    assert int((k_cache != 0).any(-1).any(-1).sum()) == 3


def test_bfloat16_inputs_give_bfloat16_outputs_close_to_float32():
    generator = torch.Generator().manual_seed(1)
    batch, num_pages, slots, keys, values, queries = paged_batch([40, 7], [40, 7], 16, generator)
    backend = TorchReferenceBackend()
    shape = (num_pages, 16, NUM_KV_HEADS, HEAD_DIM)
    k_cache = torch.zeros(shape, dtype=torch.bfloat16)
    v_cache = torch.zeros(shape, dtype=torch.bfloat16)
    backend.write_kv(k_cache, v_cache, torch.cat(keys), torch.cat(values), batch.slot_mapping)
    q = torch.cat(queries).bfloat16()
    out = backend.attend(q, k_cache, v_cache, batch, scale=HEAD_DIM**-0.5)
    assert out.dtype == torch.bfloat16
    expected = torch.cat(
        [
            dense_causal(q, k, v, HEAD_DIM**-0.5)
            for q, k, v in zip(queries, keys, values, strict=True)
        ]
    )
    torch.testing.assert_close(out.float(), expected, atol=3e-2, rtol=3e-2)


def test_get_backend_names():
    assert get_backend("reference", "cpu").name == "reference"
    assert get_backend("auto", "cpu").name == "reference"
    with pytest.raises(ValueError, match="unknown attention backend 'flash'"):
        get_backend("flash", "cpu")
