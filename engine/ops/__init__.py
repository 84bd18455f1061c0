"""Fused Triton kernels for the model's elementwise steps on CUDA: residual add + RMSNorm,
SiLU-and-multiply, rotary in place. Each rounds to the tensor's dtype where the torch ops do,
so results match the unfused torch path up to the order of the norm's reduction.

The model uses them only for CUDA tensors (the CPU path stays the torch ops, bit for bit);
`FLOWC_FUSED_OPS=0` turns them off on CUDA too.
"""

from __future__ import annotations

import os

import torch


def fused_ops_enabled(x: torch.Tensor) -> bool:
    return x.is_cuda and os.environ.get("FLOWC_FUSED_OPS", "1") != "0"
