"""The torch ops the fused kernels replace, as plain functions (tests and benchmarks)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.models.rope import apply_rotary


def rms_norm_torch(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    xf = x.to(torch.float32)
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return weight * xf.to(x.dtype)


def add_rms_norm_torch(x, residual, weight, eps) -> tuple[torch.Tensor, torch.Tensor]:
    summed = x + residual
    return rms_norm_torch(summed, weight, eps), summed


def silu_and_mul_torch(gate_up: torch.Tensor) -> torch.Tensor:
    gate, up = gate_up.chunk(2, dim=-1)
    return F.silu(gate) * up


def rotary_torch(q, k, cos, sin) -> tuple[torch.Tensor, torch.Tensor]:
    return apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
