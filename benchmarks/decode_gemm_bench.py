"""Decode-batch GEMMs (1 to 64 rows against Llama-3-8B and Llama-3.2-1B weights): the engine's
TMA weight-streaming kernel (engine/ops/triton_decode_gemm.py) by tile and stages, against
torch (cuBLAS) in the same run, as bandwidth of the weight read; CUDA-graph replay rotating
over 8 copies of each weight, so none stays in L2. The engine uses the kernel for the MLP's
down projection where it wins.

    python benchmarks/decode_gemm_bench.py [rows,rows,...]
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_common import copy_bandwidth_gbs, graph_ms  # noqa: E402

from engine.ops.triton_decode_gemm import decode_linear  # noqa: E402

SHAPES = {"8b qkv": (6144, 4096), "8b o": (4096, 4096), "8b down": (4096, 14336),
          "1b qkv": (3072, 2048), "1b o": (2048, 2048), "1b down": (2048, 8192)}
COPIES = 8


def tb_s(weights: list[torch.Tensor], fn) -> float:
    ms = graph_ms(lambda: [fn(w) for w in weights]) / len(weights)
    return weights[0].nbytes / (ms * 1e-3) / 1e12


def main() -> None:
    row_counts = [int(r) for r in (sys.argv[1] if len(sys.argv) > 1 else "1,16,64").split(",")]
    print(f"copy bandwidth {copy_bandwidth_gbs():.0f} GB/s", flush=True)
    for (name, (n, k)), rows in itertools.product(SHAPES.items(), row_counts):
        x = torch.randn(rows, k, dtype=torch.bfloat16, device="cuda")
        weights = [torch.randn(n, k, dtype=torch.bfloat16, device="cuda") * 0.02
                   for _ in range(COPIES)]
        want = F.linear(x, weights[0]).float()
        results = {"torch": tb_s(weights, lambda w, x=x: F.linear(x, w)),
                   "default": tb_s(weights, lambda w, x=x: decode_linear(x, w))}
        for bn, bk, stages in itertools.product((32, 64, 128), (128, 256), (4, 6)):
            label = f"n{bn}-k{bk}-s{stages}"
            try:
                got = decode_linear(x, weights[0], bn, bk, stages).float()
                error = float((got - want).norm() / want.norm())
                if error > 1e-2:
                    results[label] = f"error {error:.1e}"
                    continue
                results[label] = tb_s(weights, lambda w, x=x, c=(bn, bk, stages):
                                      decode_linear(x, w, *c))
            except Exception as exc:  # noqa: BLE001 (a config that does not fit is skipped)
                results[label] = type(exc).__name__
        best = max((v, key) for key, v in results.items() if isinstance(v, float) and
                   key != "torch")
        print(f"{name} {n}x{k} rows {rows}: torch {results['torch']:.2f} TB/s, default "
              f"{results['default']:.2f}, best {best[1]} {best[0]:.2f} TB/s", flush=True)
        print("  ", {key: (round(v, 2) if isinstance(v, float) else v)
                     for key, v in results.items()}, flush=True)
        del weights
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
