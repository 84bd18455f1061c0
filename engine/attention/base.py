"""The contract every attention backend meets (torch reference, Triton kernels).

KV layout, one pair of tensors per layer, allocated by the engine:
    k_cache, v_cache: [num_pages, page_size, num_kv_heads, head_dim]
Queries, keys and values for the new tokens are flat over the batch:
    q: [T, num_heads, head_dim], k and v: [T, num_kv_heads, head_dim]
Grouped-query attention: query head h reads KV head h // (num_heads // num_kv_heads).
Attention is causal: new token t of sequence i at absolute position p attends to positions
0..p of that sequence (cached pages first, then the new tokens up to itself).

CUDA graphs (engine/cuda_graphs.py): a backend with `supports_cuda_graphs` gets its decode
batches replayed over static input buffers. Whatever per-batch metadata it builds beyond the
ForwardBatch must then live in static buffers too: the three hooks below set them up, fill
them before each replay and point a capture at them. A graph is captured per batch-size
bucket and per variant the backend names (0: plain decode).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from engine.forward import ForwardBatch


class AttentionBackend(ABC):
    name: str
    supports_cuda_graphs: bool  # attend reads no batch field on the host

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

    @abstractmethod
    def init_cuda_graphs(self, max_num_seqs: int, max_pages: int, page_size: int,
                         group_size: int, head_dim: int, device: torch.device) -> None:
        """Allocate the static metadata graphs replay over: decode batches of up to
        `max_num_seqs` sequences of up to `max_pages` pages. Called once, before any capture."""

    @abstractmethod
    def graph_variant(self, batch: ForwardBatch) -> int:
        """Before a graph replays `batch`: copy its metadata into the static buffers and return
        which variant of its bucket's graph replays it (0: plain decode)."""

    @abstractmethod
    def prepare_capture(self, batch: ForwardBatch, variant: int) -> None:
        """Before `variant` is captured over `batch` (views of the static input buffers, one
        row per bucket slot): make `batch` and the backend read the static metadata."""
