"""The contract every attention backend meets (torch reference, Triton kernels).

KV layout, one pair of tensors per layer, allocated by the engine:
    k_cache, v_cache: [num_pages, page_size, num_kv_heads, head_dim]
Queries, keys and values for the new tokens are flat over the batch:
    q: [T, num_heads, head_dim], k and v: [T, num_kv_heads, head_dim]
Grouped-query attention: query head h reads KV head h // (num_heads // num_kv_heads).
Attention is causal: new token t of sequence i at absolute position p attends to positions
0..p of that sequence (cached pages first, then the new tokens up to itself).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from engine.forward import ForwardBatch


class AttentionBackend(ABC):
    name: str

    @abstractmethod
    def write_kv(
        self,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        slot_mapping: torch.Tensor,
    ) -> None:
        """Store each new token's K/V at its slot (page * page_size + offset), in place."""

    @abstractmethod
    def attend(
        self,
        q: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        batch: ForwardBatch,
        scale: float,
    ) -> torch.Tensor:
        """Return the attention output [T, num_heads, head_dim] for the new tokens, reading
        every key and value (cached and new) from the pages; `write_kv` has already run."""
