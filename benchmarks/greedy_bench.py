"""Greedy token choice on the GPU: the fused argmax + log-probability kernels against the
torch ops they replace (float copy, argmax, log_softmax, gather), in one run, with the read
of the logits over the copy bandwidth as the floor.

    python benchmarks/greedy_bench.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_common import copy_bandwidth_gbs, graph_ms  # noqa: E402

from engine.ops.triton_greedy import greedy_tokens  # noqa: E402


def torch_greedy(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    full = logits.float()
    tokens = full.argmax(dim=-1)
    return tokens, torch.log_softmax(full, dim=-1).gather(1, tokens[:, None]).squeeze(1)


def per_call_us(fn, inputs: list[torch.Tensor]) -> float:
    return graph_ms(lambda: [fn(x) for x in inputs]) / len(inputs) * 1e3


def main() -> None:
    bandwidth = copy_bandwidth_gbs()
    print(f"copy bandwidth {bandwidth:.0f} GB/s")
    for rows in (1, 64, 256):
        logits = torch.randn(rows, 128256, dtype=torch.bfloat16, device="cuda") * 4
        # rotate over inputs larger than L2, as the logits of a real step come from DRAM
        inputs = [logits.clone() for _ in range(max(1, (64 << 20) // logits.nbytes))]
        fused_us = per_call_us(greedy_tokens, inputs)
        torch_us = per_call_us(torch_greedy, inputs)
        floor_us = logits.nbytes / (bandwidth * 1e9) * 1e6
        same = torch.equal(greedy_tokens(logits)[0], torch_greedy(logits)[0])
        print(f"rows {rows} x 128256 bf16: fused {fused_us:.1f} us, torch {torch_us:.1f} us "
              f"({torch_us / fused_us:.1f}x), read floor {floor_us:.1f} us, same tokens {same}")


if __name__ == "__main__":
    main()
