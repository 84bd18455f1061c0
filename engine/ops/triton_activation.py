"""SiLU-and-multiply over the fused gate/up projection output: silu(gate) * up.

Rounding follows `F.silu(gate) * up`: silu in float32 rounded to the dtype, then the product
rounded again.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _silu_and_mul_kernel(
    gate_up_ptr,
    out_ptr,
    stride_in,
    stride_out,
    size,
    BLOCK: tl.constexpr,
):
    token = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < size
    row = gate_up_ptr + token * stride_in
    gate = tl.load(row + cols, mask=mask, other=0.0)
    up = tl.load(row + size + cols, mask=mask, other=0.0)
    gate_f = gate.to(tl.float32)
    silu = (gate_f / (1.0 + tl.exp(-gate_f))).to(gate.dtype)
    out = (silu.to(tl.float32) * up.to(tl.float32)).to(gate.dtype)
    tl.store(out_ptr + token * stride_out + cols, out, mask=mask)


def silu_and_mul(gate_up: torch.Tensor, block: int = 1024) -> torch.Tensor:
    """gate_up [tokens, 2 * size] (gate columns first) -> silu(gate) * up [tokens, size]."""
    if gate_up.dim() != 2 or gate_up.shape[-1] % 2 or gate_up.stride(-1) != 1:
        raise ValueError(
            f"expected [tokens, 2 * size] with unit last stride, got {tuple(gate_up.shape)}"
        )
    tokens, size = gate_up.shape[0], gate_up.shape[-1] // 2
    out = torch.empty((tokens, size), dtype=gate_up.dtype, device=gate_up.device)
    if tokens == 0:
        return out
    block = min(block, triton.next_power_of_2(size))
    grid = (tokens, triton.cdiv(size, block))
    _silu_and_mul_kernel[grid](gate_up, out, gate_up.stride(0), out.stride(0), size, BLOCK=block)
    return out
