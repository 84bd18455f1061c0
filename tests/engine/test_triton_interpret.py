"""The Triton attention kernels under TRITON_INTERPRET=1 (CPU) at tiny sizes, against the
float64 reference: write_kv, prefill/extend, split-K decode and cascade decode."""

from __future__ import annotations

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
    "engine.attention.triton_cascade",
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
from engine.attention.paged_cases import (  # noqa: E402
    make_case,
    reference_attention,
    relative_error,
)

TritonBackend = triton_backend.TritonBackend


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
