"""Cascade decode variants per layer, 64 branches on an 8K-token shared prefix: prefix split
counts and pipeline stages of the prefix pass, by suffix length; the log-sum-exp merge by
warps, and old and new code side by side when `.ab/old_merge.py` exists; dense flash SDPA
over the prefix alone (contiguous keys, the same 256 query rows per KV head) as the floor
the paged prefix pass is held against.

    python benchmarks/cascade_variants.py [splits | tiles | wide | overlap | streams] [shape ...]

`overlap` weighs how the suffix programs run beside the prefix programs: fewer prefix splits
(more slots left to the suffix), the suffix's key tile, two stages (less shared memory per
program), 128-row prefix tiles (half the L2 reads of each prefix tile); and times the
suffix pass and the prefix pass alone. `streams` runs the two passes as two kernels on two
streams (joined before the merge), so each keeps its own registers and shared memory and the
GPU runs them side by side.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
SWEEP = sys.argv[1] if len(sys.argv) > 1 else "splits"  # splits | tiles | wide
SHAPE_NAMES = sys.argv[2:] or ["llama-3-8b", "llama-3.2-1b"]
sys.argv = sys.argv[:1] + ["--out", "/dev/null"]  # attention_bench reads its flags on import

import attention_bench as ab  # noqa: E402
from cascade_layers import shared_prefix_case  # noqa: E402
from gpu_common import median_ms  # noqa: E402

from engine.attention.triton_backend import TritonBackend  # noqa: E402
from engine.attention.triton_cascade import prefix_splits, resident_programs  # noqa: E402
from engine.attention.triton_common import LOG2E, KernelConfig  # noqa: E402
from engine.attention.triton_decode import decode_partials  # noqa: E402
from engine.attention.triton_merge import merge_partials  # noqa: E402
from engine.testing.cascade_two_launch import prefix_partials  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def variants(dim: int) -> dict[str, TritonBackend]:
    """The default, then (`splits`) prefix split counts with the default tile and with
    another number of pipeline stages, or (`tiles`) 128-row tiles over 8 warps."""
    out = {"default": TritonBackend()}
    if SWEEP == "tiles":
        for s, splits in itertools.product((2, 3), (8, 10, 12, 16)):
            out[f"m128-w8-s{s}-splits{splits}"] = TritonBackend(
                cascade_config=KernelConfig(128, 64, 8, s), fixed_prefix_splits=splits)
        return out
    if SWEEP == "wide":  # every query row of a KV head in one program: one read of each tile
        for (n, s), splits in itertools.product(((64, 2), (32, 2), (32, 3)), (12, 16)):
            out[f"m256-n{n}-w16-s{s}-splits{splits}"] = TritonBackend(
                cascade_config=KernelConfig(256, n, 16, s), fixed_prefix_splits=splits)
        for splits in (12, 16):
            out[f"m128-n32-w8-s3-splits{splits}"] = TritonBackend(
                cascade_config=KernelConfig(128, 32, 8, 3), fixed_prefix_splits=splits)
        return out
    if SWEEP == "streams":
        tiles = {"m64-w4-s3": KernelConfig(64, 64, 4, 3), "m128-w8-s3": KernelConfig(128, 64, 8, 3),
                 "m128-w8-s2": KernelConfig(128, 64, 8, 2)}
        for (tile, config), splits, n in itertools.product(tiles.items(), (4, 5, 6, 7, 8),
                                                           (32, 64)):
            out[f"streams-{tile}-splits{splits}-dn{n}"] = TwoStreamCascade(
                splits, KernelConfig(block_n=n, num_stages=2), True, config)
        return out
    if SWEEP == "overlap":
        split_counts = (3, 4, 5, 6, 8) if dim == 128 else (6, 7, 8, 9, 10)
        for splits, n in itertools.product(split_counts, (32, 64, 128)):
            out[f"splits{splits}-dn{n}"] = TritonBackend(
                fixed_prefix_splits=splits, decode_config=KernelConfig(block_n=n))
        for splits in (4, 6, 8):
            out[f"s2-splits{splits}"] = TritonBackend(
                cascade_config=KernelConfig(64, 64, 4, 2), fixed_prefix_splits=splits)
            out[f"m128-w8-s3-splits{splits}"] = TritonBackend(
                cascade_config=KernelConfig(128, 64, 8, 3), fixed_prefix_splits=splits)
        return out
    stages = 3 if dim == 128 else 4
    other = 2
    for s in (stages, other):
        for splits in (5, 6, 7, 8, 10, 12, 16):
            out[f"s{s}-splits{splits}"] = TritonBackend(
                cascade_config=KernelConfig(64, 64, 4, s), fixed_prefix_splits=splits)
    return out


def dense_prefix_us(kv_heads: int, dim: int, rows: int, prefix: int) -> float:
    q = torch.randn(1, kv_heads, rows, dim, dtype=ab.DTYPE, device=ab.DEV)
    k = torch.randn(1, kv_heads, prefix, dim, dtype=ab.DTYPE, device=ab.DEV)
    v = torch.randn_like(k)
    return median_ms(lambda: F.scaled_dot_product_attention(q, k, v)) * 1e3


def merge_us(num_heads: int, dim: int, slots: int) -> dict[str, float]:
    part = torch.randn(64, num_heads, slots, dim, dtype=torch.float32, device=ab.DEV)
    lse = torch.randn(64, num_heads, slots, dtype=torch.float32, device=ab.DEV)
    out = torch.empty(64, num_heads, dim, dtype=ab.DTYPE, device=ab.DEV)
    start = torch.arange(65, dtype=torch.int32, device=ab.DEV)
    timings = {f"w{w}": ab.graph_ms(lambda w=w: merge_partials(part, lse, out, start, w)) * 1e3
               for w in (1, 2, 4, 8)}
    timings["new"] = ab.graph_ms(lambda: merge_partials(part, lse, out, start)) * 1e3
    old_path = ROOT / ".ab" / "old_merge.py"
    if old_path.exists():
        spec = importlib.util.spec_from_file_location("old_merge", old_path)
        old = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(old)
        expected = out.clone()
        old.merge_partials(part, lse, out, start)
        assert torch.equal(out, expected), "old and new merge differ"
        timings["old"] = ab.graph_ms(lambda: old.merge_partials(part, lse, out, start)) * 1e3
    return timings


class TwoStreamCascade:
    """The cascade's prefix pass and suffix pass as two kernels on two streams."""

    def __init__(self, prefix_splits: int, decode_config: KernelConfig, prefix_first: bool,
                 prefix_config: KernelConfig | None = None):
        self.backend = TritonBackend(decode_config=decode_config, cascade_config=prefix_config)
        self.prefix_splits, self.decode_config = prefix_splits, decode_config
        self.prefix_first = prefix_first
        self.side = torch.cuda.Stream()

    def attend(self, q, k, v, batch, scale):
        heads, dim = q.shape[1:]
        kv_heads = k.shape[2]
        config = self.backend.cascade_kernel_config(dim, q.device)
        meta = self.backend.cascade_meta(batch, heads // kv_heads, config.block_m, q.device)
        splits = self.backend.decode_num_splits(batch, kv_heads, q.device)
        slots = splits + self.prefix_splits
        out_part = q.new_empty((q.shape[0], heads, slots, dim), dtype=torch.float32)
        lse_part = q.new_empty((q.shape[0], heads, slots), dtype=torch.float32)
        qk_scale = scale * LOG2E

        def suffix():
            decode_partials(q, k, v, batch.block_tables, batch.seq_lens, batch.query_start,
                            qk_scale, out_part, lse_part, splits, False,
                            kv_starts=meta.kv_starts, config=self.decode_config)

        def prefix():
            prefix_partials(q, k, v, batch.block_tables, batch.query_start, meta, qk_scale,
                            out_part, lse_part, splits, self.prefix_splits, False, config)

        main = torch.cuda.current_stream()
        self.side.wait_stream(main)
        if self.prefix_first:
            prefix()
        with torch.cuda.stream(self.side):
            suffix() if self.prefix_first else prefix()
        if not self.prefix_first:
            suffix()
        main.wait_stream(self.side)
        out = torch.empty_like(q)
        merge_partials(out_part, lse_part, out, batch.query_start)
        return out


def passes_alone(q, caches, batch) -> list[str]:
    """The default cascade's suffix pass and prefix pass, each alone (two launches' halves)."""
    backend = TritonBackend()
    heads, dim = q.shape[1:]
    kv_heads = caches[0][0].shape[2]
    config = backend.cascade_kernel_config(dim, q.device)
    meta = backend.cascade_meta(batch, heads // kv_heads, config.block_m, q.device)
    splits = backend.decode_num_splits(batch, kv_heads, q.device)
    prefix_splits = prefix_splits_of(backend, meta, kv_heads, dim, q.device)
    slots = splits + prefix_splits
    out = torch.empty(64, heads, slots, dim, dtype=torch.float32, device=q.device)
    lse = torch.empty(64, heads, slots, dtype=torch.float32, device=q.device)
    scale = 0.125 * LOG2E

    def suffix(k, v):
        decode_partials(q, k, v, batch.block_tables, batch.seq_lens, batch.query_start, scale,
                        out, lse, splits, False, kv_starts=meta.kv_starts)

    def prefix(k, v):
        prefix_partials(q, k, v, batch.block_tables, batch.query_start, meta, scale, out, lse,
                        splits, prefix_splits, False, config)

    timings = [(name, ab.graph_ms(lambda f=f: [f(k, v) for k, v in caches]) / len(caches))
               for name, f in (("suffix pass", suffix), ("prefix pass", prefix))]
    return [f"{name} alone {ms * 1e3:.1f}" for name, ms in timings]


def prefix_splits_of(backend, meta, kv_heads: int, dim: int, device) -> int:
    config = backend.cascade_kernel_config(dim, device)
    resident = resident_programs(config, dim, torch.cuda.get_device_properties(device)
                                 .shared_memory_per_multiprocessor)
    sms = torch.cuda.get_device_properties(device).multi_processor_count
    return prefix_splits(meta, kv_heads, sms, resident)


def main() -> None:
    for shape in SHAPE_NAMES:
        heads, kv_heads, dim = ab.SHAPES[shape]
        print(shape, "dense flash SDPA over the prefix alone:",
              f"{dense_prefix_us(kv_heads, dim, 64 * heads // kv_heads, 8192):.1f} us", flush=True)
        for slots in (1, 9, 17) if SWEEP == "splits" else ():
            print(shape, f"merge {slots} slots (us):", merge_us(heads, dim, slots), flush=True)
        for suffix in (1, 128, 256):
            q, caches, batch, plain_batch = shared_prefix_case(shape, suffix)
            expected = TritonBackend(use_cascade=False).attend(q, *caches[0], plain_batch, 0.125)
            row = []
            for name, backend in variants(dim).items():
                error = ab.relative_error(backend.attend(q, *caches[0], batch, 0.125),
                                          expected.double())
                us = ab.time_layers(backend, q, caches, batch) * 1e3
                row.append(f"{name} {us:.1f}" + (f" (error {error:.1e})" if error > 1e-2 else ""))
            if SWEEP == "overlap":
                row += passes_alone(q, caches, batch)
            print(shape, f"suffix {suffix} (us per layer):", ", ".join(row), flush=True)
            del caches
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
