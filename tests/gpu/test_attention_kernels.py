"""Triton attention kernels on the GPU against the float64 reference over the shape matrix:
page sizes 16/32, head dims 64/128, GQA 1/4/8, lengths 1, page multiples, ragged, prefixes
up to 8K, shared-prefix groups; bf16 and float32 (TF32 off)."""

from __future__ import annotations

import pytest
import torch

if not torch.cuda.is_available():
    pytest.skip("needs CUDA", allow_module_level=True)

from engine.attention.paged_cases import (  # noqa: E402
    kernel_matrix,
    make_case,
    reference_attention,
    relative_error,
)
from engine.attention.triton_backend import TritonBackend  # noqa: E402

TOL = {torch.bfloat16: 1e-2, torch.float32: 1e-5}
MATRIX = kernel_matrix()


@pytest.mark.parametrize("spec", MATRIX, ids=[spec.name for spec in MATRIX])
def test_kernel_matches_reference(spec):
    torch.backends.cuda.matmul.allow_tf32 = False
    case = spec.make("cuda", seed=MATRIX.index(spec))
    backend = TritonBackend(use_cascade=spec.kernel == "cascade")
    assert case.batch.is_decode == all(n == 1 for n in spec.query_lens)
    backend.write_kv(case.k_cache, case.v_cache, case.k_new, case.v_new, case.batch.slot_mapping)
    scale = spec.head_dim**-0.5
    out = backend.attend(case.q, case.k_cache, case.v_cache, case.batch, scale)
    error = relative_error(out, reference_attention(case, scale, device="cuda"))
    assert error < TOL[spec.dtype], f"{spec.name}: relative error {error:.2e}"


def test_write_kv_skips_padding_slots():
    case = make_case(
        [5, 0],
        [3, 17],
        num_heads=8,
        num_kv_heads=2,
        head_dim=128,
        page_size=16,
        dtype=torch.bfloat16,
        device="cuda",
    )
    slots = case.batch.slot_mapping.clone()
    slots[::2] = -1
    before = case.k_cache.clone()
    TritonBackend().write_kv(case.k_cache, case.v_cache, case.k_new, case.v_new, slots)
    flat, old = case.k_cache.view(-1, 2, 128), before.view(-1, 2, 128)
    kept = slots >= 0
    assert torch.equal(flat[slots[kept]], case.k_new[kept])
    skipped = case.batch.slot_mapping[~kept]
    assert torch.equal(flat[skipped], old[skipped])
