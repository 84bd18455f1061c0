"""The fused Triton ops (engine/ops) compiled on the GPU against the torch ops they replace,
at the Llama-3.2-1B / 3-8B sizes, in bf16 and float32. The model path that uses them is covered
end to end by test_end_to_end.py (greedy tokens equal to transformers)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

if not torch.cuda.is_available():
    pytest.skip("needs CUDA", allow_module_level=True)

from engine.ops.cases import norm_errors, rotary_errors, silu_error  # noqa: E402
from engine.ops.triton_activation import silu_and_mul  # noqa: E402
from engine.ops.triton_norm import add_rms_norm, rms_norm  # noqa: E402
from engine.ops.triton_rotary import apply_rotary_  # noqa: E402

OPS = SimpleNamespace(
    rms_norm=rms_norm,
    add_rms_norm=add_rms_norm,
    silu_and_mul=silu_and_mul,
    apply_rotary_=apply_rotary_,
)
# bf16: one rounding step apart at most (the norm's reduction order differs from torch's).
TOL = {torch.float32: 1e-5, torch.bfloat16: 1.6e-2}
DTYPES = [torch.float32, torch.bfloat16]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("tokens", "hidden"), [(1, 2048), (7, 4096), (300, 2048)])
def test_add_rms_norm(dtype, tokens, hidden):
    errors = norm_errors(OPS, tokens, hidden, dtype, "cuda")
    assert max(errors) < TOL[dtype], errors


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("tokens", "size"), [(1, 8192), (5, 14336), (64, 1000)])
def test_silu_and_mul(dtype, tokens, size):
    assert silu_error(OPS, tokens, size, dtype, "cuda") < TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("tokens", "q_heads", "k_heads", "head_dim"), [(1, 32, 8, 64), (9, 32, 8, 128), (3, 14, 2, 96)]
)
def test_rotary_in_place(dtype, tokens, q_heads, k_heads, head_dim):
    errors = rotary_errors(OPS, tokens, q_heads, k_heads, head_dim, dtype, "cuda")
    assert max(errors) < TOL[dtype], errors
