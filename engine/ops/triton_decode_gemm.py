"""x @ weight.T for decode batches (few rows) as one stream of the weight through TMA.

With at most 64 rows the product is bound by reading the weight. Each program owns BLOCK_N
output columns, brings their weight rows in BLOCK_K at a time through the tensor memory
accelerator and multiplies them against every row of x: no split over K, so no reduction
kernel after it (cuBLAS splits the MLP's down projection and reduces in a second launch).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from triton.tools.tensor_descriptor import TensorDescriptor

MAX_ROWS = 64
BLOCK_N, BLOCK_K, NUM_STAGES = 32, 256, 4  # best for 8B and 1B o/down (decode_gemm_bench)


@triton.jit
def _decode_gemm_kernel(x_desc, w_desc, out_ptr, rows, cols, stride_out,
                        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                        INNER: tl.constexpr, NUM_STAGES: tl.constexpr):
    n0 = tl.program_id(0) * BLOCK_N
    acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    # rows past x's end, weight rows past `cols` and columns past INNER arrive as zeros
    for k in tl.range(0, INNER, BLOCK_K, num_stages=NUM_STAGES):
        acc = tl.dot(x_desc.load([0, k]), w_desc.load([n0, k]).T, acc)
    row = tl.arange(0, BLOCK_M)
    col = n0 + tl.arange(0, BLOCK_N)
    mask = (row < rows)[:, None] & (col < cols)[None, :]
    tl.store(out_ptr + row[:, None] * stride_out + col[None, :],
             acc.to(out_ptr.dtype.element_ty), mask=mask)


def fits(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether decode_linear takes these: a 2-D 16-bit batch of at most MAX_ROWS rows and a
    contiguous [out, in] weight of its dtype, rows 16-byte aligned for TMA."""
    return (x.dim() == 2 and 0 < x.shape[0] <= MAX_ROWS and x.dtype == weight.dtype
            and x.element_size() == 2 and x.is_contiguous() and weight.is_contiguous()
            and weight.dim() == 2 and weight.shape[1] == x.shape[1] and x.shape[1] % 8 == 0)


def stream_operands(x: torch.Tensor, weight: torch.Tensor, block_n: int, block_k: int
                    ) -> tuple[TensorDescriptor, TensorDescriptor, int, int]:
    """TMA descriptors of x (all its rows in one tile, at least 16) and of the weight's
    [block_n, block_k] tiles, with the row tile and the key tile (no wider than the inner
    size needs)."""
    block_m = max(16, triton.next_power_of_2(x.shape[0]))
    block_k = min(block_k, triton.next_power_of_2(x.shape[1]))
    return (TensorDescriptor.from_tensor(x, [block_m, block_k]),
            TensorDescriptor.from_tensor(weight, [block_n, block_k]), block_m, block_k)


def decode_linear(x: torch.Tensor, weight: torch.Tensor, block_n: int = BLOCK_N,
                  block_k: int = BLOCK_K, stages: int = NUM_STAGES) -> torch.Tensor:
    """x [rows, in] @ weight[out, in].T -> [rows, out] in x's dtype (float32 accumulation)."""
    if not fits(x, weight):
        raise ValueError(f"decode_linear takes x [1..{MAX_ROWS}, in] and weight [out, in], "
                         f"both contiguous 16-bit of one dtype; got {tuple(x.shape)} {x.dtype} "
                         f"and {tuple(weight.shape)} {weight.dtype}")
    rows, inner = x.shape
    cols = weight.shape[0]
    x_desc, w_desc, block_m, block_k = stream_operands(x, weight, block_n, block_k)
    out = torch.empty((rows, cols), dtype=x.dtype, device=x.device)
    _decode_gemm_kernel[(triton.cdiv(cols, block_n),)](
        x_desc, w_desc, out, rows, cols, out.stride(0),
        BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k, INNER=inner, NUM_STAGES=stages,
        num_warps=4)
    return out
