"""Building blocks of Llama-family models, numerically identical to transformers'."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.ops import fused_ops_enabled


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        input_dtype = x.dtype
        x = x.to(torch.float32)
        variance = x.pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(variance + self.eps)
        return self.weight * x.to(input_dtype)


class GatedMLP(nn.Module):
    """down(silu(gate(x)) * up(x)), with gate and up fused into one projection."""

    def __init__(self, hidden_size: int, intermediate_size: int, bias: bool) -> None:
        super().__init__()
        self.intermediate_size = intermediate_size
        self.gate_up_proj = nn.Linear(hidden_size, 2 * intermediate_size, bias=bias)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if fused_ops_enabled(x) and self.gate_up_proj.bias is None:
            from engine.ops import triton_gated_gemm

            if triton_gated_gemm.fits(x, self.gate_up_proj.weight):  # decode batches
                h = triton_gated_gemm.gate_up_silu(x, self.gate_up_proj.weight)
                return streamed_linear(self.down_proj, h)
        gate_up = self.gate_up_proj(x)
        if fused_ops_enabled(gate_up) and gate_up.dim() == 2:
            from engine.ops.triton_activation import silu_and_mul

            return self.down_proj(silu_and_mul(gate_up))
        gate, up = gate_up.split(self.intermediate_size, dim=-1)
        return self.down_proj(F.silu(gate) * up)


def streamed_linear(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """linear(x); on CUDA a decode batch (up to 64 rows, 16-bit, no bias) streams the weight
    through TMA in one launch, which reads the attention output and MLP down projections
    faster than cuBLAS (benchmarks/decode_gemm_bench.py)."""
    if fused_ops_enabled(x) and linear.bias is None:
        from engine.ops import triton_decode_gemm

        if triton_decode_gemm.fits(x, linear.weight):
            return triton_decode_gemm.decode_linear(x, linear.weight)
    return linear(x)
