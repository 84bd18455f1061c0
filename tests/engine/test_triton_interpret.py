"""The Triton attention kernels under TRITON_INTERPRET=1 (CPU) at tiny sizes, against the
float64 reference: write_kv, prefill/extend, split-K decode and cascade decode."""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys

import pytest
import torch

_PREVIOUS_INTERPRET = os.environ.get("TRITON_INTERPRET")
os.environ["TRITON_INTERPRET"] = "1"
pytest.importorskip("triton")

KERNEL_MODULES = [
    "engine.attention.triton_common",
    "engine.attention.triton_kv",
    "engine.attention.triton_prefill",
    "engine.attention.triton_decode",
    "engine.attention.triton_merge",
    "engine.attention.triton_cascade_meta",
    "engine.attention.triton_cascade",
    "engine.attention.triton_cascade_fused",
    "engine.testing.cascade_two_launch",
    "engine.attention.triton_backend",
]


def _import_interpreted():
    """The interpreter is chosen when a kernel is defined: reload modules imported earlier."""
    modules = []
    for name in KERNEL_MODULES:
        module = sys.modules.get(name)
        modules.append(importlib.reload(module) if module else importlib.import_module(name))
    return modules[-1]


triton_backend = _import_interpreted()
from engine.testing.paged_cases import (  # noqa: E402
    make_case,
    reference_attention,
    relative_error,
)

TritonBackend = triton_backend.TritonBackend
cascade_fused = sys.modules["engine.attention.triton_cascade_fused"]
two_launch = sys.modules["engine.testing.cascade_two_launch"]
cascade_meta = sys.modules["engine.attention.triton_cascade_meta"]
triton_common = sys.modules["engine.attention.triton_common"]
triton_merge = sys.modules["engine.attention.triton_merge"]


@pytest.fixture(autouse=True, scope="module")
def _forget_interpreted_kernels():
    """Later tests in this process (GPU ones) must compile the kernels, not interpret them."""
    yield
    for name in KERNEL_MODULES:
        sys.modules.pop(name, None)
    if _PREVIOUS_INTERPRET is None:
        os.environ.pop("TRITON_INTERPRET", None)
    else:
        os.environ["TRITON_INTERPRET"] = _PREVIOUS_INTERPRET


TOL = {torch.float32: 1e-5, torch.float16: 3e-3, torch.bfloat16: 2e-2}


def _run(case, backend: TritonBackend, scale: float) -> torch.Tensor:
    backend.write_kv(case.k_cache, case.v_cache, case.k_new, case.v_new, case.batch.slot_mapping)
    return backend.attend(case.q, case.k_cache, case.v_cache, case.batch, scale)


def _check(
    prefix,
    queries,
    *,
    heads,
    kv_heads,
    dim,
    page,
    dtype=torch.float32,
    groups=(),
    backend=None,
    seed=0,
):
    case = make_case(
        prefix,
        queries,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=dim,
        page_size=page,
        dtype=dtype,
        groups=groups,
        seed=seed,
    )
    scale = dim**-0.5
    out = _run(case, backend or TritonBackend(), scale)
    assert out.shape == case.q.shape and out.dtype == dtype
    error = relative_error(out, reference_attention(case, scale))
    assert error < TOL[dtype], f"relative error {error:.2e}"


def test_write_kv_stores_every_token_and_skips_padding():
    case = make_case([3, 0], [5, 4], num_heads=2, num_kv_heads=2, head_dim=16, page_size=4)
    slots = case.batch.slot_mapping.clone()
    slots[-1] = -1
    before_k = case.k_cache.clone()
    TritonBackend().write_kv(case.k_cache, case.v_cache, case.k_new, case.v_new, slots)
    flat_k = case.k_cache.view(-1, 2, 16)
    flat_v = case.v_cache.view(-1, 2, 16)
    kept = slots >= 0
    assert torch.equal(flat_k[slots[kept]], case.k_new[kept])
    assert torch.equal(flat_v[slots[kept]], case.v_new[kept])
    skipped = case.batch.slot_mapping[-1]
    assert torch.equal(flat_k[skipped], before_k.view(-1, 2, 16)[skipped])


@pytest.mark.parametrize(
    ("prefix", "queries", "heads", "kv_heads", "dim", "page"),
    [
        ([0], [1], 2, 2, 16, 4),  # a one-token prompt
        ([0, 0], [8, 16], 4, 1, 16, 8),  # exact page multiples, GQA 4
        ([0, 5, 17], [7, 3, 20], 8, 1, 32, 16),  # ragged prefill with cached prefixes, GQA 8
        ([31, 2], [1, 40], 4, 4, 32, 16),  # a single-token extend next to a long chunk
        ([12], [5], 6, 2, 24, 4),  # head_dim not a power of two, GQA 3
    ],
)
def test_prefill_extend_matches_reference(prefix, queries, heads, kv_heads, dim, page):
    _check(prefix, queries, heads=heads, kv_heads=kv_heads, dim=dim, page=page)


# The interpreter's bf16 dot is wrong (numpy has no bf16); bf16 is checked in tests/gpu.
def test_prefill_float16():
    _check([9, 0], [6, 11], heads=4, kv_heads=2, dim=16, page=4, dtype=torch.float16, seed=3)


@pytest.mark.parametrize(
    ("prefix", "heads", "kv_heads", "page", "splits"),
    [
        ([0, 7, 15, 64], 4, 4, 16, None),  # lengths 1, ragged, page multiple
        ([40, 3], 8, 1, 8, 3),  # split-K, one split empty for the short sequence
        ([95, 1, 32], 8, 2, 32, 4),  # GQA 4, page 32
    ],
)
def test_decode_matches_reference(prefix, heads, kv_heads, page, splits):
    backend = TritonBackend(fixed_decode_splits=splits)
    _check(
        prefix,
        [1] * len(prefix),
        heads=heads,
        kv_heads=kv_heads,
        dim=16,
        page=page,
        backend=backend,
        seed=len(prefix),
    )


def test_decode_float16():
    _check(
        [33, 4],
        [1, 1],
        heads=4,
        kv_heads=1,
        dim=32,
        page=16,
        dtype=torch.float16,
        backend=TritonBackend(fixed_decode_splits=2),
    )


@pytest.mark.parametrize("splits", [None, 2])
def test_cascade_decode_matches_reference(splits):
    groups = [((0, 1, 2), 4), ((4, 5), 2)]
    _check(
        [16, 20, 33, 7, 8, 30],
        [1] * 6,
        heads=8,
        kv_heads=2,
        dim=16,
        page=4,
        groups=groups,
        backend=TritonBackend(fixed_decode_splits=splits),
        seed=7,
    )


def test_cascade_many_members_span_several_row_tiles():
    members = tuple(range(40))  # 40 members x GQA 2 = 80 rows > one 64-row tile
    prefix = [8 + i % 5 for i in members]
    _check(prefix, [1] * 40, heads=4, kv_heads=2, dim=16, page=4, groups=[(members, 2)], seed=11)


def test_cascade_equals_plain_decode():
    case = make_case(
        [24, 26, 27],
        [1, 1, 1],
        num_heads=4,
        num_kv_heads=1,
        head_dim=16,
        page_size=8,
        groups=[((0, 1, 2), 3)],
        seed=5,
    )
    plain = _run(case, TritonBackend(use_cascade=False), 0.25)
    cascade = TritonBackend().attend(case.q, case.k_cache, case.v_cache, case.batch, 0.25)
    assert relative_error(cascade, plain.double()) < 1e-5


def test_cascade_rejects_a_sequence_in_two_groups():
    case = make_case(
        [8, 8], [1, 1], num_heads=2, num_kv_heads=1, head_dim=16, page_size=4, groups=[((0, 1), 2)]
    )
    case.batch.prefix_groups.append(case.batch.prefix_groups[0])
    with pytest.raises(ValueError, match="more than one prefix group"):
        TritonBackend().attend(case.q, case.k_cache, case.v_cache, case.batch, 0.25)


def test_agrees_with_torch_reference_backend():
    from engine.attention.reference import TorchReferenceBackend

    case = make_case(
        [0, 13, 4], [9, 1, 6], num_heads=4, num_kv_heads=2, head_dim=16, page_size=4, seed=21
    )
    reference = TorchReferenceBackend()
    k_cache, v_cache = case.k_cache.clone(), case.v_cache.clone()
    reference.write_kv(k_cache, v_cache, case.k_new, case.v_new, case.batch.slot_mapping)
    expected = reference.attend(case.q, k_cache, v_cache, case.batch, 0.25)
    out = _run(case, TritonBackend(), 0.25)
    assert torch.equal(case.k_cache, k_cache) and torch.equal(case.v_cache, v_cache)
    assert relative_error(out, expected.double()) < 1e-5


# The fused cascade (prefix and suffix programs in one launch) against the two-launch path
# and the float64 reference. Group 0 has 5 members (20 rows at GQA 4: two 16-row tiles),
# group 1 has 2, sequence 7 is in no group. Suffixes past the shared pages: 0 keys (member 1
# attends to the shared prefix alone), 1 key (members 0 and 5) and ragged.
FUSED_SHAPES = [  # (heads, kv_heads, head_dim, page): GQA 1/4 x page 16/32 x dim 64/128
    (2, 2, 64, 16, (2, 3)),
    (2, 2, 128, 32, (1, 1)),
    (8, 2, 128, 16, (3, 2)),
    (8, 2, 64, 32, (2, 4)),
]
FUSED_GROUPS = [((0, 1, 2, 3, 4), 2), ((5, 6), 1)]


def _fused_case(heads: int, kv_heads: int, dim: int, page: int, seed: int,
                dtype=torch.float32, consecutive: bool = False):
    p = page
    prefix = [2 * p, 2 * p, 2 * p + 5, 3 * p + 1, 2 * p + p // 2, p, p + 7, 3]
    case = make_case(
        prefix,
        [1] * len(prefix),
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=dim,
        page_size=page,
        dtype=dtype,
        groups=FUSED_GROUPS,
        seed=seed,
        consecutive_prefixes=consecutive,
    )
    batch = case.batch
    TritonBackend().write_kv(case.k_cache, case.v_cache, case.k_new, case.v_new, batch.slot_mapping)
    batch.seq_lens[1] -= 1  # its new key lies past seq_len: only the shared prefix is seen
    case.keys[1], case.values[1] = case.keys[1][:-1], case.values[1][:-1]
    return case


def _meta(case, tiles: int | None = None, seqs: int | None = None):
    """Cascade metadata at 16-row tiles; padded to `tiles` row tiles and `seqs` sequences
    as CUDA graphs lay it out (extra tiles point at an empty group)."""
    batch = case.batch
    group = case.q.shape[1] // case.k_cache.shape[2]
    layout = cascade_meta.cascade_layout(
        batch.prefix_groups, len(case.keys), batch.page_size, group, 16
    )
    work = len(layout.tile_group)
    padded = layout.padded(seqs or len(case.keys), tiles or work)
    return cascade_meta.CascadeMeta(
        *padded.views(padded.flat()),
        num_tiles=tiles or work,
        work_tiles=work,
        max_prefix_len=max(layout.prefix_lens),
    )


def _partials(case, fused: bool, splits: int, prefix_splits: int, meta=None):
    batch = case.batch
    num_seqs, num_heads, dim = batch.num_seqs, case.q.shape[1], case.q.shape[2]
    slots = splits + prefix_splits
    out_part = torch.zeros(num_seqs, num_heads, slots, dim)
    # the fused launch writes every log-sum-exp slot: start it from NaN, not -inf
    lse_part = torch.full((num_seqs, num_heads, slots), float("nan" if fused else "-inf"))
    fill = cascade_fused.cascade_partials if fused else two_launch.cascade_partials_unfused
    fill(
        case.q,
        case.k_cache,
        case.v_cache,
        batch.block_tables,
        batch.seq_lens,
        batch.query_start,
        meta or _meta(case),
        dim**-0.5 * triton_common.LOG2E,
        out_part,
        lse_part,
        splits,
        prefix_splits,
        triton_common.use_ieee(case.q),
        triton_common.INTERPRETER_CONFIG,
    )
    return out_part, lse_part


@pytest.mark.parametrize(("heads", "kv_heads", "dim", "page", "splits"), FUSED_SHAPES)
def test_fused_cascade_matches_two_launches_and_reference(heads, kv_heads, dim, page, splits):
    case = _fused_case(heads, kv_heads, dim, page, seed=dim + page + heads)
    fused = _partials(case, True, *splits)
    unfused = _partials(case, False, *splits)
    assert torch.equal(fused[0], unfused[0]) and torch.equal(fused[1], unfused[1])
    members = [m for group, _ in FUSED_GROUPS for m in group]
    prefix_lse = fused[1][:, :, splits[0] :]
    assert (prefix_lse[members] > float("-inf")).any(-1).all()  # every member saw its prefix
    assert (prefix_lse[7] == float("-inf")).all()  # the ungrouped sequence saw none
    assert (fused[1][1, :, : splits[0]] == float("-inf")).all()  # member 1: empty suffix
    out = torch.empty_like(case.q)
    triton_merge.merge_partials(*fused, out, case.batch.query_start)
    error = relative_error(out, reference_attention(case, dim**-0.5))
    assert error < TOL[torch.float32], f"relative error {error:.2e}"


def test_fused_cascade_with_padding_tiles_and_sequences():
    """Padding tiles (empty group) and padded sequences (seq_len 0) do no work."""
    case = _fused_case(8, 2, 64, 16, seed=9)
    expected = _partials(case, True, 2, 2)
    pad = 3
    batch = case.batch
    padded_batch = dataclasses.replace(
        batch,
        seq_lens=torch.cat([batch.seq_lens, torch.zeros(pad, dtype=torch.int32)]),
        block_tables=torch.cat([batch.block_tables, torch.zeros_like(batch.block_tables[:pad])]),
        query_start=torch.arange(batch.num_seqs + pad + 1, dtype=torch.int32),
    )
    padded_case = dataclasses.replace(
        case, batch=padded_batch, q=torch.cat([case.q, torch.randn(pad, *case.q.shape[1:])])
    )
    tiles = len(_meta(case).tile_group) + 2
    meta = _meta(padded_case, tiles=tiles, seqs=batch.num_seqs + pad)
    out_part, lse_part = _partials(padded_case, True, 2, 2, meta=meta)
    assert torch.equal(out_part[: batch.num_seqs], expected[0])
    assert torch.equal(lse_part[: batch.num_seqs], expected[1])
    assert (lse_part[batch.num_seqs :] == float("-inf")).all()
    assert (out_part[batch.num_seqs :] == 0).all()


def test_backend_cascade_path_matches_reference():
    backend = TritonBackend(fixed_decode_splits=2, fixed_prefix_splits=3)
    _check(
        [32, 40, 33, 5, 48],
        [1] * 5,
        heads=8,
        kv_heads=2,
        dim=64,
        page=16,
        groups=[((0, 1, 2), 2), ((4,), 3)],
        backend=backend,
        seed=13,
    )


# Groups whose shared pages are consecutive read their prefix as whole key tiles through
# tensor descriptors (16-bit caches); the result must equal the paged path's bit for bit.
def _with_first_pages(case, shift: int | None):
    """The case with each group's first_page moved by `shift` pages (None: unset, so every
    group takes the paged path)."""
    groups = [dataclasses.replace(g, first_page=None if shift is None else g.first_page + shift)
              for g in case.batch.prefix_groups]
    return dataclasses.replace(case, batch=dataclasses.replace(case.batch, prefix_groups=groups))


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize(("heads", "kv_heads", "dim", "page"), [(8, 2, 64, 16), (2, 2, 128, 32)])
def test_consecutive_prefix_pages_read_as_tiles_match_the_paged_path(fused, heads, kv_heads,
                                                                    dim, page):
    case = _fused_case(heads, kv_heads, dim, page, seed=page + dim, dtype=torch.float16,
                       consecutive=True)
    block_n = triton_common.INTERPRETER_CONFIG.block_n
    assert triton_common.kv_descriptors(case.k_cache, case.v_cache, block_n) is not None
    assert all(g.first_page is not None for g in case.batch.prefix_groups)
    tiles = _partials(case, fused, 2, 3)
    paged = _partials(_with_first_pages(case, None), fused, 2, 3)
    assert torch.equal(tiles[0], paged[0]) and torch.equal(tiles[1], paged[1])
    out = torch.empty_like(case.q)
    triton_merge.merge_partials(*tiles, out, case.batch.query_start)
    error = relative_error(out, reference_attention(case, dim**-0.5))
    assert error < TOL[torch.float16], f"relative error {error:.2e}"
    # the tile path reads where first_page says: a run one page off gives other numbers
    shifted = _partials(_with_first_pages(case, -1), fused, 2, 3)
    assert not torch.equal(shifted[0], tiles[0])
