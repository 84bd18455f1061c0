"""GPU attention kernels: accuracy over the shape matrix and timings against baselines.

Run on a CUDA machine:  python benchmarks/attention_bench.py --out benchmarks/results/x.json
- accuracy: max relative error per kernel against the float64 reference (kernel_matrix);
- shared-prefix decode: plain split-K paged decode vs cascade decode (prefix and suffix passes
  in one launch, and in two), 64 branches on an 8K prefix with 256-token suffixes, and dense
  torch SDPA on contiguous KV for scale; tile and split sweeps of both cascade paths;
- batch-1 decode against the KV bandwidth floor (copy bandwidth measured in the same run);
- prefill/extend against dense torch SDPA (causal);
- tile-shape sweeps for each kernel.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import os
import sys
from collections import defaultdict
from pathlib import Path

SMOKE = "--smoke" in sys.argv  # tiny sizes on the CPU under the Triton interpreter
if SMOKE:
    os.environ["TRITON_INTERPRET"] = "1"

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_common import (  # noqa: E402
    copy_bandwidth_gbs,
    env_markdown,
    environment,
    graph_ms,
    median_ms,
    table,
    write_results,
)

from engine.attention.triton_backend import TritonBackend  # noqa: E402
from engine.attention.triton_common import KernelConfig  # noqa: E402
from engine.forward import ForwardBatch, PrefixGroup  # noqa: E402
from engine.testing.paged_cases import (  # noqa: E402
    kernel_matrix,
    reference_attention,
    relative_error,
)

SHAPES = {"llama-3.2-1b": (32, 8, 64), "llama-3-8b": (32, 8, 128)}  # heads, kv heads, dim
LAYERS = 1 if SMOKE else 8  # distinct KV caches cycled per timed call, so no layer's KV stays in L2
DEV = "cpu" if SMOKE else "cuda"
DTYPE = torch.float16 if SMOKE else torch.bfloat16  # the interpreter's bf16 dot is wrong
SCALE = 1 / 64 if SMOKE else 1  # lengths shrink in smoke mode


def accuracy() -> dict:
    worst: dict[str, float] = defaultdict(float)
    specs = kernel_matrix()
    for index, spec in enumerate(specs[:3] if SMOKE else specs):
        case = spec.make(DEV, seed=index)
        backend = TritonBackend(use_cascade=spec.kernel == "cascade")
        backend.write_kv(
            case.k_cache, case.v_cache, case.k_new, case.v_new, case.batch.slot_mapping
        )
        scale = spec.head_dim**-0.5
        out = backend.attend(case.q, case.k_cache, case.v_cache, case.batch, scale)
        error = relative_error(out, reference_attention(case, scale, device=DEV))
        key = f"{spec.kernel} {str(spec.dtype).removeprefix('torch.')}"
        worst[key] = max(worst[key], error)
    return dict(worst)


def paged_batch(
    seq_lens: list[int], page: int, shared_pages: int = 0, cascade: bool = False
) -> ForwardBatch:
    """Decode batch on the GPU; the first `shared_pages` pages of every row are shared, and
    they are pages 0, 1, ... (consecutive)."""
    own = [math.ceil(n / page) - shared_pages for n in seq_lens]
    width = shared_pages + max(own)
    table_rows, next_page = [], shared_pages
    for count in own:
        row = list(range(shared_pages)) + list(range(next_page, next_page + count))
        table_rows.append(row + [0] * (width - len(row)))
        next_page += count
    dev = DEV
    batch_size = len(seq_lens)
    groups = [PrefixGroup(tuple(range(batch_size)), shared_pages, 0)] if cascade else []
    return ForwardBatch(
        input_ids=torch.zeros(batch_size, dtype=torch.int64, device=dev),
        positions=torch.tensor(seq_lens, device=dev) - 1,
        seq_lens=torch.tensor(seq_lens, dtype=torch.int32, device=dev),
        query_lens=torch.ones(batch_size, dtype=torch.int32, device=dev),
        query_start=torch.arange(batch_size + 1, dtype=torch.int32, device=dev),
        block_tables=torch.tensor(table_rows, dtype=torch.int32, device=dev),
        slot_mapping=torch.zeros(batch_size, dtype=torch.int64, device=dev),
        logits_indices=torch.arange(batch_size, device=dev),
        page_size=page,
        max_query_len=1,
        max_seq_len=max(seq_lens),
        is_decode=True,
        prefix_groups=groups,
    )


def kv_caches(num_pages: int, page: int, kv_heads: int, dim: int) -> list[tuple]:
    shape = (num_pages, page, kv_heads, dim)
    return [
        (torch.randn(shape, dtype=DTYPE, device=DEV), torch.randn(shape, dtype=DTYPE, device=DEV))
        for _ in range(LAYERS)
    ]


def time_layers(backend, q, caches, batch) -> float:
    """Per-layer milliseconds of attention over LAYERS distinct caches, replayed from a CUDA
    graph as decode runs in the engine."""

    def run():
        for k, v in caches:
            backend.attend(q, k, v, batch, 0.125)

    return graph_ms(run) / len(caches)


def shared_prefix(shape: str, branches=64, prefix=8192, suffix=256, page=16) -> dict:
    heads, kv_heads, dim = SHAPES[shape]
    if SMOKE:
        branches, prefix, suffix = 4, 64, 16
    lens = [prefix + suffix] * branches
    plain_batch = paged_batch(lens, page, prefix // page)
    cascade_batch = paged_batch(lens, page, prefix // page, cascade=True)
    num_pages = int(plain_batch.block_tables.max()) + 1
    caches = kv_caches(num_pages, page, kv_heads, dim)
    q = torch.randn(branches, heads, dim, dtype=DTYPE, device=DEV)
    plain, cascade = TritonBackend(use_cascade=False), TritonBackend()
    k, v = caches[0]
    plain_out = plain.attend(q, k, v, plain_batch, 0.125).double()
    error = relative_error(cascade.attend(q, k, v, cascade_batch, 0.125), plain_out)
    plain_ms = time_layers(plain, q, caches, plain_batch)
    cascade_ms = time_layers(cascade, q, caches, cascade_batch)
    new_batch = functools.partial(paged_batch, lens, page, prefix // page, cascade=True)
    meta_ms = host_ms(
        lambda: cascade.cascade_meta(
            paged_batch(lens, page, prefix // page, True), heads // kv_heads, 64, DEV
        )
    )
    meta_ms -= host_ms(lambda: paged_batch(lens, page, prefix // page, True))
    dense_k = torch.randn(branches, kv_heads, prefix + suffix, dim, dtype=DTYPE, device=DEV)
    dense_q = q.view(branches, heads, 1, dim)
    sdpa_ms = median_ms(
        lambda: F.scaled_dot_product_attention(dense_q, dense_k, dense_k, enable_gqa=True)
    )
    kv_bytes = branches * (prefix + suffix) * kv_heads * dim * 2 * 2
    return {
        "shape": shape,
        "branches": branches,
        "prefix": prefix,
        "suffix": suffix,
        "plain_paged_decode_ms": plain_ms,
        "cascade_decode_ms": cascade_ms,  # the default: prefix and suffix in one launch
        "speedup": plain_ms / cascade_ms,
        "cascade_vs_plain_rel_err": error,
        "plain_effective_tb_s": kv_bytes / (plain_ms * 1e-3) / 1e12,
        "dense_sdpa_ms": sdpa_ms,
        "cascade_sweep_ms": cascade_sweep(q, caches, new_batch, dim),
        "fused_split_sweep_ms": fused_split_sweep(q, caches, new_batch),
        "cascade_meta_build_ms_per_step": meta_ms,
    }


def cascade_sweep(q, caches, new_batch, dim: int) -> dict:
    """Tile shapes x prefix splits (ms per layer)."""
    tiles = [(64, 64, 4), (128, 64, 8), (128, 32, 4), (64, 32, 4)]
    if dim == 128:
        tiles += [(64, 128, 4), (64, 128, 8), (128, 128, 8)]
    sweep = {}
    for (block_m, block_n, warps), splits in itertools.product(tiles, (None, 4, 8, 16)):
        variant = TritonBackend(
            cascade_config=KernelConfig(block_m, block_n, warps, 2),
            fixed_prefix_splits=splits,
        )
        name = f"fused-m{block_m}-n{block_n}-w{warps}-s{splits or 'auto'}"
        sweep[name] = time_layers(variant, q, caches, new_batch())
    return sweep


def fused_split_sweep(q, caches, new_batch) -> dict:
    """Suffix (decode) splits x prefix splits of the fused launch (ms per layer): the two
    passes share the GPU, so the best split counts may differ from the two-launch ones."""
    sweep = {}
    for decode_splits, splits in itertools.product((1, 2, 4), (2, 4, 8, 16)):
        variant = TritonBackend(fixed_decode_splits=decode_splits, fixed_prefix_splits=splits)
        sweep[f"d{decode_splits}-s{splits}"] = time_layers(variant, q, caches, new_batch())
    return sweep


def host_ms(fn, repeats: int = 20) -> float:
    """Mean host milliseconds per call (synchronised)."""
    import time

    fn()
    torch.cuda.synchronize() if DEV == "cuda" else None
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if DEV == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) * 1e3 / repeats


def batch1_decode(shape: str, context: int, copy_gbs: float, page=16) -> dict:
    heads, kv_heads, dim = SHAPES[shape]
    batch = paged_batch([context], page)
    caches = kv_caches(int(batch.block_tables.max()) + 1, page, kv_heads, dim)
    q = torch.randn(1, heads, dim, dtype=DTYPE, device=DEV)
    result = {"shape": shape, "context": context}
    kv_bytes = context * kv_heads * dim * 2 * 2
    result["floor_us"] = kv_bytes / (copy_gbs * 1e9) * 1e6
    for splits in (None, 1, 4, 16, 32):
        ms = time_layers(TritonBackend(fixed_decode_splits=splits), q, caches, batch)
        result[f"splits_{splits or 'auto'}_us"] = ms * 1e3
    return result


def decode_sweep(shape: str, batch_size=32, context=2048, page=16) -> dict:
    heads, kv_heads, dim = SHAPES[shape]
    batch = paged_batch([context] * batch_size, page)
    caches = kv_caches(int(batch.block_tables.max()) + 1, page, kv_heads, dim)
    q = torch.randn(batch_size, heads, dim, dtype=DTYPE, device=DEV)
    out = {}
    variants = ((32, 2, 2), (64, 4, 2), (64, 4, 3), (128, 4, 3), (128, 8, 3), (64, 8, 3))
    for block_n, warps, stages in variants:
        backend = TritonBackend(decode_config=KernelConfig(64, block_n, warps, stages))
        out[f"n{block_n}-w{warps}-s{stages}"] = time_layers(backend, q, caches, batch) * 1e3
    kv_bytes = batch_size * context * kv_heads * dim * 4
    return {
        "shape": shape,
        "batch": batch_size,
        "context": context,
        "floor_us_at_3TBs": kv_bytes / 3e12 * 1e6,
        "variants_us": out,
    }


def prefill(shape: str, new: int, prefix: int, page=16) -> dict:
    from engine.testing.paged_cases import make_case

    heads, kv_heads, dim = SHAPES[shape]
    case = make_case(
        [prefix],
        [new],
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=dim,
        page_size=page,
        dtype=DTYPE,
        device=DEV,
    )
    backend = TritonBackend()
    backend.write_kv(case.k_cache, case.v_cache, case.k_new, case.v_new, case.batch.slot_mapping)
    flops = 4 * heads * dim * new * (prefix + (new + 1) / 2)
    result = {"shape": shape, "new_tokens": new, "prefix": prefix}
    configs = {"default": None}
    configs.update(
        {
            f"m{m}-n{n}-w{w}-s{s}": KernelConfig(m, n, w, s)
            for m, n, w, s in (
                (64, 64, 4, 2),
                (128, 64, 8, 2),
                (128, 32, 4, 3),
                (128, 64, 8, 3),
                (64, 32, 4, 3),
            )
        }
    )
    for name, config in configs.items():
        variant = TritonBackend(prefill_config=config)
        ms = median_ms(
            lambda v=variant: v.attend(case.q, case.k_cache, case.v_cache, case.batch, 0.1)
        )
        result[f"{name}_tflops"] = flops / (ms * 1e-3) / 1e12
    q = case.q.transpose(0, 1).unsqueeze(0)
    k = torch.randn(1, kv_heads, prefix + new, dim, dtype=DTYPE, device=DEV)
    if prefix == 0:
        ms = median_ms(
            lambda: F.scaled_dot_product_attention(q, k, k, is_causal=True, enable_gqa=True)
        )
        result["sdpa_causal_tflops"] = flops / (ms * 1e-3) / 1e12
    return result


SECTIONS = ("accuracy", "shared_prefix", "decode", "prefill")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--smoke", action="store_true", help="tiny CPU run under the interpreter")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated subset")
    args = parser.parse_args()
    sections = args.sections.split(",")
    env = environment()
    copy_gbs = 1.0 if SMOKE else copy_bandwidth_gbs()
    print(f"copy bandwidth {copy_gbs:.0f} GB/s", flush=True)
    results = {"environment": env, "copy_bandwidth_gb_s": copy_gbs}
    if "accuracy" in sections:
        results["max_rel_error"] = accuracy()
        print(results["max_rel_error"], flush=True)
    if "shared_prefix" in sections:
        results["shared_prefix"] = [shared_prefix(s) for s in SHAPES]
        print(results["shared_prefix"], flush=True)
    write_results(args.out, results, markdown(results))
    if "decode" in sections:
        contexts = (1024, 8192, 32768)
        results["batch1_decode"] = [
            batch1_decode(s, int(c * SCALE), copy_gbs) for s in SHAPES for c in contexts
        ]
        sweep_batch = 2 if SMOKE else 32
        results["decode_sweep"] = [
            decode_sweep(s, batch_size=sweep_batch, context=int(2048 * SCALE)) for s in SHAPES
        ]
        write_results(args.out, results, markdown(results))
    if "prefill" in sections:
        lengths = ((4096, 0), (512, 8192))
        results["prefill"] = [
            prefill(s, int(n * SCALE), int(p * SCALE)) for s in SHAPES for n, p in lengths
        ]
    write_results(args.out, results, markdown(results))
    print(markdown(results))


def markdown(r: dict) -> str:
    text = "# Attention kernels on the GPU\n\n" + env_markdown(r["environment"])
    text += f"- copy bandwidth (read + write): {r['copy_bandwidth_gb_s']:.0f} GB/s\n"
    if "max_rel_error" in r:
        text += "\n## Max relative error vs float64 reference\n\n"
        text += table(["kernel", "max rel err"], [[k, v] for k, v in r["max_rel_error"].items()])
    if "shared_prefix" in r:
        text += shared_prefix_markdown(r["shared_prefix"])
    if "batch1_decode" in r:
        text += decode_markdown(r)
    if "prefill" in r:
        text += "\n## Prefill/extend (TFLOP/s)\n\n"
        for x in r["prefill"]:
            values = ", ".join(
                f"{k.removesuffix('_tflops')} {v:.0f}" for k, v in x.items() if k.endswith("tflops")
            )
            text += f"- {x['shape']} {x['new_tokens']} new on {x['prefix']} cached: {values}\n"
    return text


def shared_prefix_markdown(rows: list[dict]) -> str:
    text = "\n## Shared-prefix decode (attention per layer, CUDA-graph replay)\n\n"
    text += table(
        [
            "shape",
            "branches",
            "prefix",
            "suffix",
            "plain ms",
            "cascade ms",
            "speedup",
            "plain TB/s",
            "dense SDPA ms",
        ],
        [
            [
                x["shape"],
                x["branches"],
                x["prefix"],
                x["suffix"],
                x["plain_paged_decode_ms"],
                x["cascade_decode_ms"],
                x["speedup"],
                x["plain_effective_tb_s"],
                x["dense_sdpa_ms"],
            ]
            for x in rows
        ],
    )
    text += "\ncascade: prefix and suffix passes in one launch.\n\nCascade tile sweep "
    text += "(ms; m/n/w: prefix tile rows, keys, warps; "
    text += "s: prefix splits):\n\n"
    for x in rows:
        sweep = ", ".join(f"{k} {v:.4f}" for k, v in x["cascade_sweep_ms"].items())
        meta = x["cascade_meta_build_ms_per_step"]
        text += f"- {x['shape']}: {sweep}; metadata per step {meta:.3f} ms\n"
    text += "\nFused launch, suffix splits d x prefix splits s (ms):\n\n"
    for x in rows:
        sweep = ", ".join(f"{k} {v:.4f}" for k, v in x["fused_split_sweep_ms"].items())
        text += f"- {x['shape']}: {sweep}\n"
    return text


def decode_markdown(r: dict) -> str:
    text = "\n## Batch-1 decode (per layer, µs, CUDA-graph replay)\n\n"
    keys = [k for k in r["batch1_decode"][0] if k not in ("shape", "context")]
    text += table(
        ["shape", "context", *keys],
        [[x["shape"], x["context"], *[x[k] for k in keys]] for x in r["batch1_decode"]],
    )
    text += "\n## Decode tile sweep, batch 32 (per layer, µs)\n\n"
    for x in r["decode_sweep"]:
        text += f"- {x['shape']} ctx {x['context']}: floor at 3 TB/s {x['floor_us_at_3TBs']:.1f}; "
        text += ", ".join(f"{k} {v:.1f}" for k, v in x["variants_us"].items()) + "\n"
    return text


if __name__ == "__main__":
    main()
