"""Cascade attention per layer for 64 branches on an 8K-token shared prefix, by suffix length
(1: the prefix pass nearly alone; 128: the average over a 256-token decode; 256), with plain
paged decode beside it and the cascade's error against it; CUDA-graph replay over 8 layers'
KV, as in `attention_bench.py`. The prefix's pages are consecutive, so the cascade reads it
as whole key tiles; "paged prefix" is the same cascade told nothing of that (the path of
scattered pages).

    python benchmarks/cascade_layers.py
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.argv = sys.argv[:1] + ["--out", "/dev/null"]  # attention_bench reads its flags on import

import attention_bench as ab  # noqa: E402

from engine.attention.triton_backend import TritonBackend  # noqa: E402


def shared_prefix_case(shape: str, suffix: int) -> tuple:
    """(queries, 8 layers' caches, cascade batch, plain batch): 64 branches on an 8192-token
    prefix of 512 shared pages of 16, each with `suffix` tokens of its own."""
    heads, kv_heads, dim = ab.SHAPES[shape]
    lens = [8192 + suffix] * 64
    cascade_batch = ab.paged_batch(lens, 16, 512, cascade=True)
    plain_batch = ab.paged_batch(lens, 16, 512)
    caches = ab.kv_caches(int(plain_batch.block_tables.max()) + 1, 16, kv_heads, dim)
    q = torch.randn(64, heads, dim, dtype=ab.DTYPE, device=ab.DEV)
    return q, caches, cascade_batch, plain_batch


def main() -> None:
    for shape in ("llama-3-8b", "llama-3.2-1b"):
        row = []
        for suffix in (1, 128, 256):
            q, caches, cascade_batch, plain_batch = shared_prefix_case(shape, suffix)
            cascade, plain = TritonBackend(), TritonBackend(use_cascade=False)
            expected = plain.attend(q, *caches[0], plain_batch, 0.125).double()
            error = ab.relative_error(cascade.attend(q, *caches[0], cascade_batch, 0.125),
                                      expected)
            cascade_us = ab.time_layers(cascade, q, caches, cascade_batch) * 1e3
            scattered = dataclasses.replace(cascade_batch, prefix_groups=[
                dataclasses.replace(g, first_page=None) for g in cascade_batch.prefix_groups])
            paged_us = ab.time_layers(TritonBackend(), q, caches, scattered) * 1e3
            plain_us = ab.time_layers(plain, q, caches, plain_batch) * 1e3
            row.append(f"suffix {suffix}: cascade {cascade_us:.1f} us (paged prefix "
                       f"{paged_us:.1f}), plain {plain_us:.1f} us "
                       f"({plain_us / cascade_us:.2f}x, error {error:.1e})")
            del caches
            torch.cuda.empty_cache()
        print(shape, "; ".join(row), flush=True)


if __name__ == "__main__":
    main()
