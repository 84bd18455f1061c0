"""Triton attention kernels on the GPU against the float64 reference over the shape matrix:
page sizes 16/32, head dims 64/128, GQA 1/4/8, lengths 1, page multiples, ragged, prefixes
up to 8K, shared-prefix groups (fused and two-launch cascade); bf16 and float32 (TF32 off)."""

from __future__ import annotations

import pytest
import torch

if not torch.cuda.is_available():
    pytest.skip("needs CUDA", allow_module_level=True)

from engine.attention.triton_backend import TritonBackend  # noqa: E402
from engine.attention.triton_cascade import build_cascade_meta  # noqa: E402
from engine.attention.triton_cascade_fused import cascade_partials, suffix_config  # noqa: E402
from engine.attention.triton_common import LOG2E, use_ieee  # noqa: E402
from engine.testing.cascade_two_launch import cascade_partials_unfused  # noqa: E402
from engine.testing.paged_cases import (  # noqa: E402
    kernel_matrix,
    make_case,
    reference_attention,
    relative_error,
)

TOL = {torch.bfloat16: 1e-2, torch.float32: 1e-5}
MATRIX = kernel_matrix()
CASCADES = [spec for spec in MATRIX if spec.kernel == "cascade"]
FUSED_SPECS = CASCADES[:3] + CASCADES[4::3] + CASCADES[-1:]  # GQA 1/4/8, every page/dim, fp32


@pytest.mark.parametrize("spec", MATRIX, ids=lambda spec: spec.name)
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


def _cascade_partials(case, fused: bool, splits: int, pre_splits: int):
    backend = TritonBackend()
    batch, (num_heads, head_dim) = case.batch, case.q.shape[1:]
    num_kv_heads = case.k_cache.shape[2]
    config = backend.cascade_kernel_config(head_dim, case.q.device)
    meta = build_cascade_meta(
        batch.prefix_groups,
        batch.num_seqs,
        batch.page_size,
        num_heads // num_kv_heads,
        config.block_m,
        case.q.device,
    )
    slots = splits + pre_splits
    out_part = case.q.new_zeros((batch.num_seqs, num_heads, slots, head_dim), dtype=torch.float32)
    lse_part = case.q.new_full(
        (batch.num_seqs, num_heads, slots), float("-inf"), dtype=torch.float32
    )
    fill = cascade_partials if fused else cascade_partials_unfused
    fill(
        case.q,
        case.k_cache,
        case.v_cache,
        batch.block_tables,
        batch.seq_lens,
        batch.query_start,
        meta,
        head_dim**-0.5 * LOG2E,
        out_part,
        lse_part,
        splits,
        pre_splits,
        use_ieee(case.q),
        config,
        # both paths' suffix programs take the fused launch's key tile
        decode_config=suffix_config(case.q, None),
    )
    return out_part, lse_part


@pytest.mark.parametrize("splits", [(1, 8), (4, 2), (3, 7)])
@pytest.mark.parametrize("spec", FUSED_SPECS, ids=lambda spec: spec.name)
def test_fused_cascade_partials_match_two_launches(spec, splits):
    """The fused launch runs the same program bodies: the same partials slot for slot."""
    torch.backends.cuda.matmul.allow_tf32 = False
    case = spec.make("cuda", seed=MATRIX.index(spec))
    TritonBackend().write_kv(
        case.k_cache, case.v_cache, case.k_new, case.v_new, case.batch.slot_mapping
    )
    fused = _cascade_partials(case, True, *splits)
    unfused = _cascade_partials(case, False, *splits)
    assert torch.equal(fused[1] == float("-inf"), unfused[1] == float("-inf"))
    torch.testing.assert_close(fused[1], unfused[1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fused[0], unfused[0], rtol=1e-5, atol=1e-5)
