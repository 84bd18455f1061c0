"""The gated MLP's first half for decode batches: the fused Triton kernel (gate and up rows
through TMA, SiLU-and-multiply before the store) against the unfused path the engine takes
otherwise (cuBLAS gate_up projection, then the silu_and_mul kernel), in one run. Microseconds
per call and TB/s of the weight read, CUDA-graph replay rotating over 8 copies of the weight
so none stays in L2; a tile and stage sweep of the fused kernel beside its default.

    python benchmarks/gated_gemm_bench.py
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

from engine.ops.triton_activation import silu_and_mul  # noqa: E402
from engine.ops.triton_gated_gemm import gate_up_silu  # noqa: E402

SHAPES = {"llama-3-8b": (4096, 14336), "llama-3.2-1b": (2048, 8192)}  # hidden, intermediate
COPIES = 8


def per_call_us(weights: list[torch.Tensor], fn) -> float:
    return graph_ms(lambda: [fn(w) for w in weights]) / len(weights) * 1e3


def main() -> None:
    print(f"copy bandwidth {copy_bandwidth_gbs():.0f} GB/s", flush=True)
    for (name, (hidden, size)), rows in itertools.product(SHAPES.items(), (1, 16, 64)):
        x = torch.randn(rows, hidden, dtype=torch.bfloat16, device="cuda")
        weights = [torch.randn(2 * size, hidden, dtype=torch.bfloat16, device="cuda") / 64
                   for _ in range(COPIES)]
        want = silu_and_mul(F.linear(x, weights[0]))
        error = ((gate_up_silu(x, weights[0]).float() - want.float()).abs().max()
                 / want.float().abs().max()).item()
        timings = {"unfused": per_call_us(weights, lambda w, x=x: silu_and_mul(F.linear(x, w))),
                   "fused": per_call_us(weights, lambda w, x=x: gate_up_silu(x, w))}
        for n, k, s in itertools.product((32, 64, 128), (64, 128), (3, 4, 5)):
            try:
                timings[f"n{n}-k{k}-s{s}"] = per_call_us(
                    weights, lambda w, x=x, n=n, k=k, s=s: gate_up_silu(x, w, n, k, s))
            except Exception as exc:  # noqa: BLE001  (a tile that does not fit)
                timings[f"n{n}-k{k}-s{s}"] = type(exc).__name__
        tb = weights[0].nbytes / 1e6
        best = min((v, key) for key, v in timings.items() if isinstance(v, float))
        print(f"{name} rows {rows}: unfused {timings['unfused']:.1f} us "
              f"({tb / timings['unfused']:.2f} TB/s), fused {timings['fused']:.1f} us "
              f"({tb / timings['fused']:.2f} TB/s), best {best[1]} {best[0]:.1f} us; "
              f"max error {error:.1e}", flush=True)
        print("   ", {key: round(v, 1) if isinstance(v, float) else v
                      for key, v in timings.items()}, flush=True)
        del weights
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
