"""Fused Triton kernels for the model on CUDA: residual add + RMSNorm, SiLU-and-multiply,
rotary in place, the greedy choice, and for decode batches the gated MLP's projection with
SiLU-and-multiply and the output/down projections as TMA weight streams. Each rounds to the
tensor's dtype where the torch ops do, so results match the unfused torch path up to the order
of reductions.

The model uses them only for CUDA tensors (the CPU path stays the torch ops, bit for bit);
`FLOWC_FUSED_OPS=0` turns them off on CUDA too.
"""

from __future__ import annotations

import os

import torch


def fused_ops_enabled(x: torch.Tensor) -> bool:
    return x.is_cuda and os.environ.get("FLOWC_FUSED_OPS", "1") != "0"
