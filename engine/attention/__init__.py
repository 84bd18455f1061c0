"""Attention backends: torch reference and Triton kernels."""

from __future__ import annotations

import importlib

import torch

from engine.attention.base import AttentionBackend

BACKENDS = ("reference", "triton")


def get_backend(name: str, device: torch.device | str) -> AttentionBackend:
    """The backend called `name` ("auto" | "reference" | "triton") for `device`. "auto" picks
    the Triton kernels on CUDA when they are importable, else the torch reference."""
    device = torch.device(device)
    if name == "auto":
        if device.type == "cuda":
            try:
                return _triton_backend()
            except ImportError:
                pass
        name = "reference"
    if name == "reference":
        from engine.attention.reference import TorchReferenceBackend

        return TorchReferenceBackend()
    if name == "triton":
        return _triton_backend()
    raise ValueError(f"unknown attention backend {name!r}; use auto or one of {BACKENDS}")


def _triton_backend() -> AttentionBackend:
    module = importlib.import_module("engine.attention.triton_backend")
    return module.TritonBackend()
