"""Decode-batch GEMMs (64 rows, or 1, against a Llama-3-8B weight): a Triton kernel that streams
the weight through TMA (below) by tile, stages and K split, against torch (cuBLAS) in the same
run, as bandwidth of the weight read; CUDA-graph replay rotating over 8 copies of each weight,
so none stays in L2. It asks whether the engine's decode GEMMs, which both arms of the
shared-prefix benchmark pay, could stream the weights faster than cuBLAS does.

    python benchmarks/decode_gemm_bench.py [rows]
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
import triton
import triton.language as tl
from triton.tools.tensor_descriptor import TensorDescriptor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_common import copy_bandwidth_gbs, graph_ms  # noqa: E402


@triton.jit
def _decode_gemm_kernel(x_desc, w_desc, y_ptr, M, N, stride_ym, k_per_split,
                        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                        SPLIT_K: tl.constexpr, NUM_STAGES: tl.constexpr):
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    n0 = pid_n * BLOCK_N
    k_lo = pid_k * k_per_split
    acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    for k in tl.range(k_lo, k_lo + k_per_split, BLOCK_K, num_stages=NUM_STAGES):
        x = x_desc.load([0, k])
        w = w_desc.load([n0, k])
        acc = tl.dot(x, w.T, acc)
    rows = tl.arange(0, BLOCK_M)
    cols = n0 + tl.arange(0, BLOCK_N)
    mask = (rows < M)[:, None] & (cols < N)[None, :]
    ptrs = y_ptr + rows[:, None] * stride_ym + cols[None, :]
    if SPLIT_K == 1:
        tl.store(ptrs, acc.to(y_ptr.dtype.element_ty), mask=mask)
    else:
        tl.atomic_add(ptrs, acc, mask=mask, sem="relaxed")


def decode_gemm(x: torch.Tensor, weight: torch.Tensor, block_n: int = 128, block_k: int = 128,
                split_k: int = 1, stages: int = 4, warps: int = 4) -> torch.Tensor:
    """x [M, K] (M <= 64) @ weight[N, K]^T -> [M, N] in x's dtype."""
    m, k = x.shape
    n = weight.shape[0]
    block_m = max(16, triton.next_power_of_2(m))
    if k % (block_k * split_k):
        raise ValueError(f"K={k} is not a multiple of {block_k} x {split_k}")
    x_desc = TensorDescriptor.from_tensor(x, [block_m, block_k])
    w_desc = TensorDescriptor.from_tensor(weight, [block_n, block_k])
    if split_k == 1:
        y = torch.empty((m, n), dtype=x.dtype, device=x.device)
    else:
        y = torch.zeros((m, n), dtype=torch.float32, device=x.device)
    grid = (triton.cdiv(n, block_n), split_k)
    _decode_gemm_kernel[grid](x_desc, w_desc, y, m, n, y.stride(0), k // split_k,
                              BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k,
                              SPLIT_K=split_k, NUM_STAGES=stages, num_warps=warps)
    return y if split_k == 1 else y.to(x.dtype)


SHAPES = {"qkv": (6144, 4096), "o": (4096, 4096), "gate_up": (28672, 4096), "down": (4096, 14336)}
COPIES = 8


def tb_s(weights: list[torch.Tensor], fn) -> float:
    ms = graph_ms(lambda: [fn(w) for w in weights]) / len(weights)
    return weights[0].nbytes / (ms * 1e-3) / 1e12


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    print(f"copy bandwidth {copy_bandwidth_gbs():.0f} GB/s; rows {rows}", flush=True)
    for name, (n, k) in SHAPES.items():
        x = torch.randn(rows, k, dtype=torch.bfloat16, device="cuda")
        weights = [torch.randn(n, k, dtype=torch.bfloat16, device="cuda") * 0.02
                   for _ in range(COPIES)]
        want = F.linear(x, weights[0]).float()
        results = {"torch": tb_s(weights, lambda w, x=x: F.linear(x, w))}
        for bn, bk, stages, split in itertools.product((64, 128), (64, 128), (4, 6), (1, 2, 4)):
            label = f"n{bn}-k{bk}-s{stages}-split{split}"
            try:
                got = decode_gemm(x, weights[0], bn, bk, split, stages).float()
                error = float((got - want).norm() / want.norm())
                if error > 1e-2:
                    results[label] = f"error {error:.1e}"
                    continue
                results[label] = tb_s(weights, lambda w, x=x, c=(bn, bk, split, stages):
                                      decode_gemm(x, w, c[0], c[1], c[2], c[3]))
            except Exception as exc:  # noqa: BLE001 (a config that does not fit is skipped)
                results[label] = type(exc).__name__
        best = max((v, key) for key, v in results.items() if isinstance(v, float) and
                   key != "torch")
        print(f"{name} {n}x{k}: torch {results['torch']:.2f} TB/s, best {best[1]} "
              f"{best[0]:.2f} TB/s", flush=True)
        print("  ", {key: (round(v, 2) if isinstance(v, float) else v)
                     for key, v in results.items()}, flush=True)
        del weights
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
