"""RMSNorm, alone or fused with the residual add before it, one program per token.

Rounding follows `engine.models.layers.RMSNorm` on `x + residual`: the sum is rounded to the
dtype (and stored as the new residual), normalised in float32, rounded, then multiplied by the
weight and rounded again.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _rms_norm_kernel(
    x_ptr,
    residual_ptr,
    weight_ptr,
    out_ptr,
    residual_out_ptr,
    stride_x,
    stride_r,
    stride_o,
    stride_ro,
    size,
    eps,
    HAS_RESIDUAL: tl.constexpr,
    BLOCK: tl.constexpr,
):
    token = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < size
    x = tl.load(x_ptr + token * stride_x + cols, mask=mask, other=0.0)
    if HAS_RESIDUAL:
        residual = tl.load(residual_ptr + token * stride_r + cols, mask=mask, other=0.0)
        x = (x.to(tl.float32) + residual.to(tl.float32)).to(x.dtype)
        tl.store(residual_out_ptr + token * stride_ro + cols, x, mask=mask)
    xf = x.to(tl.float32)
    variance = tl.sum(xf * xf, axis=0) / size
    normed = (xf * tl.math.rsqrt(variance + eps)).to(x.dtype)
    weight = tl.load(weight_ptr + cols, mask=mask, other=0.0)
    out = (weight.to(tl.float32) * normed.to(tl.float32)).to(out_ptr.dtype.element_ty)
    tl.store(out_ptr + token * stride_o + cols, out, mask=mask)


def _check(x: torch.Tensor, weight: torch.Tensor) -> None:
    if x.dim() != 2 or x.stride(-1) != 1:
        raise ValueError(f"expected a [tokens, hidden] tensor with unit last stride, got {x.shape}")
    if weight.shape != (x.shape[-1],):
        raise ValueError(f"weight shape {tuple(weight.shape)} does not match hidden {x.shape[-1]}")


def _launch(x, residual, weight, eps, out, residual_out) -> None:
    if x.shape[0] == 0:
        return
    size = x.shape[-1]
    block = triton.next_power_of_2(size)
    has_residual = residual is not None
    _rms_norm_kernel[(x.shape[0],)](
        x,
        residual if has_residual else x,
        weight,
        out,
        residual_out if has_residual else out,
        x.stride(0),
        residual.stride(0) if has_residual else 0,
        out.stride(0),
        residual_out.stride(0) if has_residual else 0,
        size,
        eps,
        HAS_RESIDUAL=has_residual,
        BLOCK=block,
        num_warps=min(max(block // 256, 1), 8),
    )


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """weight * norm(x) for x [tokens, hidden]; the result has the weight's dtype."""
    _check(x, weight)
    out = torch.empty(x.shape, dtype=torch.promote_types(x.dtype, weight.dtype), device=x.device)
    _launch(x, None, weight, eps, out, None)
    return out


def add_rms_norm(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight * norm(x + residual), x + residual) for x, residual [tokens, hidden]."""
    _check(x, weight)
    if residual.shape != x.shape or residual.dtype != x.dtype or residual.stride(-1) != 1:
        raise ValueError("residual must match x in shape and dtype, with unit last stride")
    out = torch.empty(x.shape, dtype=torch.promote_types(x.dtype, weight.dtype), device=x.device)
    residual_out = torch.empty_like(x)
    _launch(x, residual, weight, eps, out, residual_out)
    return out, residual_out
