"""The gated MLP's first half for decode batches in one kernel: silu(x @ gate.T) * (x @ up.T).

A decode step's MLP input has few rows, so the projection is a stream of its weight: each
program takes BLOCK_N output columns, brings in the matching gate rows and up rows of the
fused [2 * size, hidden] weight through TMA, multiplies both against all rows of x and
applies SiLU-and-multiply before its one store. That saves the [rows, 2 * size] gate/up
tensor's round trip and the separate SiLU-and-multiply launch.

Rounding follows the unfused path (`gate_up_proj`, then `silu_and_mul`): each projection
rounds to the dtype, silu in float32 rounds to the dtype, then the product rounds again.
Batches of more than MAX_ROWS rows go through cuBLAS and silu_and_mul.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from engine.ops.triton_decode_gemm import MAX_ROWS, stream_operands
from engine.ops.triton_decode_gemm import fits as decode_linear_fits

BLOCK_N, BLOCK_K, NUM_STAGES = 64, 128, 4


@triton.jit
def _gate_up_silu_kernel(x_desc, w_desc, out_ptr, rows, size, stride_out,
                         BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                         HIDDEN: tl.constexpr, NUM_STAGES: tl.constexpr):
    n0 = tl.program_id(0) * BLOCK_N
    gate = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    up = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    # rows past x's end and columns past the hidden size arrive as zeros (TMA bounds); a gate
    # tile past `size` reads up rows, whose columns are never stored
    for k in tl.range(0, HIDDEN, BLOCK_K, num_stages=NUM_STAGES):
        x = x_desc.load([0, k])
        gate = tl.dot(x, w_desc.load([n0, k]).T, gate)
        up = tl.dot(x, w_desc.load([size + n0, k]).T, up)
    dtype = out_ptr.dtype.element_ty
    gate_f = gate.to(dtype).to(tl.float32)
    silu = (gate_f / (1.0 + tl.exp(-gate_f))).to(dtype)
    out = (silu.to(tl.float32) * up.to(dtype).to(tl.float32)).to(dtype)
    row = tl.arange(0, BLOCK_M)
    col = n0 + tl.arange(0, BLOCK_N)
    mask = (row < rows)[:, None] & (col < size)[None, :]
    tl.store(out_ptr + row[:, None] * stride_out + col[None, :], out, mask=mask)


def fits(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether gate_up_silu takes these: what decode_linear takes, with an even number of
    weight rows (gate, then up)."""
    return decode_linear_fits(x, weight) and weight.shape[0] % 2 == 0


def gate_up_silu(x: torch.Tensor, weight: torch.Tensor, block_n: int = BLOCK_N,
                 block_k: int = BLOCK_K, stages: int = NUM_STAGES) -> torch.Tensor:
    """x [rows, hidden] with weight [2 * size, hidden] (gate rows first) -> silu(gate) * up
    [rows, size], as `silu_and_mul(x @ weight.T)`."""
    if not fits(x, weight):
        raise ValueError(f"gate_up_silu takes x [1..{MAX_ROWS}, hidden] and weight "
                         f"[2 * size, hidden], both contiguous 16-bit of one dtype; got "
                         f"{tuple(x.shape)} {x.dtype} and {tuple(weight.shape)} {weight.dtype}")
    rows, hidden = x.shape
    size = weight.shape[0] // 2
    x_desc, w_desc, block_m, block_k = stream_operands(x, weight, block_n, block_k)
    out = torch.empty((rows, size), dtype=x.dtype, device=x.device)
    _gate_up_silu_kernel[(triton.cdiv(size, block_n),)](
        x_desc, w_desc, out, rows, size, out.stride(0),
        BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k, HIDDEN=hidden, NUM_STAGES=stages,
        num_warps=4)
    return out
