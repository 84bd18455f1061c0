"""Session-wide settings that must hold before any test module imports its libraries."""

import os

import torch

# Triton picks its interpreter when it is first imported; on a machine without CUDA the
# kernels can only run interpreted, so choose that before any module imports triton.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
