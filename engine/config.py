"""The engine's settings, and how "auto" resolves to a device and a dtype."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.api import DEFAULT_PAGE_SIZE

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "float64": torch.float64,
    "fp64": torch.float64,
}


@dataclass
class EngineConfig:
    model: str = "default"  # "default" | HF folder | .gguf file | "dummy:<shape>"
    tokenizer: str | None = None  # a tokenizer folder for dummy:<shape> (None: the default's)
    dtype: str = "auto"  # "auto" (float32 on CPU, bfloat16 on CUDA) | a name in DTYPES
    device: str = "auto"  # "auto" (cuda when available) | "cpu" | "cuda" | "cuda:N"
    page_size: int = DEFAULT_PAGE_SIZE
    num_pages: int | None = None  # None: sized from free memory
    gpu_memory_fraction: float = 0.85
    max_num_seqs: int = 256
    max_batch_tokens: int = 4096
    prefill_chunk: int = 2048
    enable_prefix_cache: bool = True
    attention: str = "auto"  # "auto" | "reference" | "triton"
    use_cuda_graphs: bool = True
    capture_graphs_at_start: bool = True  # every decode bucket's graph before the first step
    warm_up: bool | None = None  # serve synthetic traffic of every shape at start; None: CUDA
    overlap_decode: bool | None = None  # launch greedy steps ahead of reading; None: on CUDA
    seed: int = 0

    def __post_init__(self) -> None:
        if self.tokenizer is not None and not self.model.startswith("dummy:"):
            raise ValueError("a tokenizer folder goes with a dummy:<shape> model only; a "
                             "model folder or .gguf file brings its own")
        if self.page_size <= 0:
            raise ValueError(f"page_size must be positive, got {self.page_size}")
        if self.num_pages is not None and self.num_pages <= 0:
            raise ValueError(f"num_pages must be positive, got {self.num_pages}")
        if not 0.0 < self.gpu_memory_fraction <= 1.0:
            raise ValueError(
                f"gpu_memory_fraction must be in (0, 1], got {self.gpu_memory_fraction}"
            )
        if self.dtype != "auto" and self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; use auto or one of {sorted(DTYPES)}")
        if self.attention not in ("auto", "reference", "triton"):
            raise ValueError(
                f"unknown attention backend {self.attention!r}; use auto, reference or triton"
            )

    def resolved_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(self.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {self.device!r} asked for, but CUDA is not available")
        return device

    def resolved_dtype(self) -> torch.dtype:
        if self.dtype == "auto":
            return torch.bfloat16 if self.resolved_device().type == "cuda" else torch.float32
        dtype = DTYPES[self.dtype]
        if dtype is torch.float64 and self.resolved_device().type != "cpu":
            raise ValueError("float64 runs on the CPU only (for numerics checks); on CUDA use "
                             "bfloat16, float16 or float32")
        return dtype
