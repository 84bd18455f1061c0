"""Rotary position embedding, computed exactly as transformers does in float32 (same inverse
frequencies, same llama3 scaling, same cos/sin products) so that float32 logits match."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

SUPPORTED_ROPE_TYPES = ("default", "linear", "llama3")
TABLE_CHUNK_ROWS = 8192  # rows built at a time, bounding the build's float32 temporaries


@dataclass(frozen=True)
class RotaryTable:
    """cos and sin [num_positions, head_dim // 2] in one dtype. Row p holds the first half of
    `RotaryEmbedding.cos_sin` at position p; its second half is equal to the first (the
    frequencies are repeated), so cos_sin's row is cat((row, row)) exactly."""

    cos: torch.Tensor
    sin: torch.Tensor

    @property
    def num_positions(self) -> int:
        return int(self.cos.shape[0])


def inverse_frequencies(
    head_dim: int, theta: float, scaling: dict[str, Any] | None
) -> torch.Tensor:
    """float32 [head_dim // 2] on CPU."""
    scaling = scaling or {}
    rope_type = scaling.get("rope_type", "default")
    if rope_type not in SUPPORTED_ROPE_TYPES:
        raise ValueError(
            f"unsupported rope_type {rope_type!r}; flowc supports {', '.join(SUPPORTED_ROPE_TYPES)}"
        )
    if scaling.get("partial_rotary_factor", 1.0) != 1.0:
        raise ValueError("partial rotary embeddings are not supported")
    arange = torch.arange(0, head_dim, 2, dtype=torch.int64, device="cpu")
    exponents = arange.to(dtype=torch.float) / head_dim
    inv_freq = 1.0 / (theta**exponents)
    if rope_type == "linear":
        return inv_freq / scaling["factor"]
    if rope_type == "llama3":
        return _llama3_scaled(inv_freq, scaling)
    return inv_freq


def _llama3_scaled(inv_freq: torch.Tensor, scaling: dict[str, Any]) -> torch.Tensor:
    factor = scaling["factor"]
    low_freq_factor = scaling["low_freq_factor"]
    high_freq_factor = scaling["high_freq_factor"]
    old_context_len = scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, scaled)


class RotaryEmbedding:
    """cos/sin per position: built on the fly from the positions of a batch (`cos_sin`), or
    read from a table built once per device and dtype (`table`, for the fused CUDA kernel)."""

    def __init__(self, head_dim: int, theta: float, scaling: dict[str, Any] | None) -> None:
        self.inv_freq = inverse_frequencies(head_dim, theta, scaling)
        self._on_device: dict[torch.device, torch.Tensor] = {}
        self._tables: dict[tuple[torch.device, torch.dtype], RotaryTable] = {}

    def table(self, device: torch.device, dtype: torch.dtype, num_positions: int) -> RotaryTable:
        """The table for positions 0..num_positions-1 (at least), built on first use and
        rebuilt only when more positions are asked for. Build it before CUDA graph capture."""
        key = (torch.device(device), dtype)
        table = self._tables.get(key)
        if table is None or table.num_positions < num_positions:
            table = self._build_table(key[0], dtype, num_positions)
            self._tables[key] = table
        return table

    def _build_table(
        self, device: torch.device, dtype: torch.dtype, num_positions: int
    ) -> RotaryTable:
        if num_positions < 1:
            raise ValueError(f"a rotary table needs at least one position, got {num_positions}")
        if device.type == "cuda" and torch.cuda.is_current_stream_capturing():
            raise RuntimeError("the rotary table must be built before CUDA graph capture")
        half = self.inv_freq.shape[0]
        cos = torch.empty(num_positions, half, dtype=dtype, device=device)
        sin = torch.empty_like(cos)
        for start in range(0, num_positions, TABLE_CHUNK_ROWS):
            stop = min(start + TABLE_CHUNK_ROWS, num_positions)
            positions = torch.arange(start, stop, dtype=torch.int64, device=device)
            chunk_cos, chunk_sin = self.cos_sin(positions, dtype)
            cos[start:stop] = chunk_cos[:, :half]
            sin[start:stop] = chunk_sin[:, :half]
        return RotaryTable(cos, sin)

    def cos_sin(
        self, positions: torch.Tensor, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """[T, head_dim] each, for flat positions [T]."""
        inv_freq = self._on_device.get(positions.device)
        if inv_freq is None:
            inv_freq = self.inv_freq.to(positions.device)
            self._on_device[positions.device] = inv_freq
        freqs = positions.float()[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [T, heads, head_dim]; cos/sin [T, head_dim]."""
    cos = cos[:, None, :]
    sin = sin[:, None, :]
    return (x * cos) + (rotate_half(x) * sin)
