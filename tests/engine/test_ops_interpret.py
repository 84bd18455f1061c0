"""The fused Triton ops (engine/ops) under TRITON_INTERPRET=1 (CPU) at tiny sizes, against the
torch ops they replace, in float32 and float16."""

from __future__ import annotations

import importlib
import os
import sys
from types import SimpleNamespace

import pytest
import torch

_PREVIOUS_INTERPRET = os.environ.get("TRITON_INTERPRET")
os.environ["TRITON_INTERPRET"] = "1"
pytest.importorskip("triton")

KERNEL_MODULES = [
    "engine.ops.triton_norm",
    "engine.ops.triton_activation",
    "engine.ops.triton_rotary",
]


def _import_interpreted() -> SimpleNamespace:
    """The interpreter is chosen when a kernel is defined: reload modules imported earlier."""
    modules = {}
    for name in KERNEL_MODULES:
        module = sys.modules.get(name)
        modules[name] = importlib.reload(module) if module else importlib.import_module(name)
    norm, activation, rotary = modules.values()
    return SimpleNamespace(
        rms_norm=norm.rms_norm,
        add_rms_norm=norm.add_rms_norm,
        silu_and_mul=activation.silu_and_mul,
        apply_rotary_=rotary.apply_rotary_,
    )


OPS = _import_interpreted()
from engine.ops.cases import norm_errors, rotary_errors, silu_error  # noqa: E402


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


TOL = {torch.float32: 2e-6, torch.float16: 2e-3}
DTYPES = [torch.float32, torch.float16]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", [64, 96])
def test_add_rms_norm_matches_torch(dtype, hidden):
    errors = norm_errors(OPS, tokens=3, hidden=hidden, dtype=dtype, device="cpu")
    assert max(errors) < TOL[dtype], errors


@pytest.mark.parametrize("dtype", DTYPES)
def test_silu_and_mul_matches_torch_across_blocks(dtype):
    error = silu_error(OPS, tokens=3, size=40, dtype=dtype, device="cpu", block=16)
    assert error < TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("q_heads", "k_heads", "head_dim"), [(4, 2, 16), (3, 3, 12)])
def test_rotary_in_place_matches_torch(dtype, q_heads, k_heads, head_dim):
    errors = rotary_errors(OPS, 5, q_heads, k_heads, head_dim, dtype=dtype, device="cpu")
    assert max(errors) < TOL[dtype], errors


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="weight shape"):
        OPS.rms_norm(torch.ones(2, 8), torch.ones(4), 1e-5)
    with pytest.raises(ValueError, match="2 \\* size"):
        OPS.silu_and_mul(torch.ones(2, 7))
    with pytest.raises(ValueError, match="even head_dim"):
        OPS.apply_rotary_(
            torch.ones(1, 2, 7), torch.ones(1, 1, 7), torch.ones(1, 7), torch.ones(1, 7)
        )
