"""The cascade's prefix pass alone, by how it brings in K/V and orders its two products:
64 branches on an 8K-token shared prefix (512 contiguous pages of 16), microseconds per layer
(CUDA-graph replay over 8 layers' KV), against the engine's prefix pass at the same splits.

Modes: `paged` looks each key's page up in the block table (the engine's way), `contig`
computes addresses from the prefix's first page (valid only when its pages are consecutive),
`tma` loads whole K/V tiles through tensor descriptors over the same contiguous run. `pipe`
issues the next tile's Q.K product before the current tile's softmax, so the tensor cores
work while the softmax runs.

    python benchmarks/prefix_pass_probe.py [shape ...]
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl

sys.path.insert(0, str(Path(__file__).resolve().parent))
SHAPE_NAMES = sys.argv[1:] or ["llama-3-8b"]
sys.argv = sys.argv[:1] + ["--out", "/dev/null"]  # attention_bench reads its flags on import

import attention_bench as ab  # noqa: E402
from cascade_layers import shared_prefix_case  # noqa: E402
from triton.tools.tensor_descriptor import TensorDescriptor  # noqa: E402

from engine.attention.triton_backend import TritonBackend  # noqa: E402
from engine.attention.triton_common import LOG2E, KernelConfig  # noqa: E402
from engine.testing.cascade_two_launch import prefix_partials  # noqa: E402

MODES = {"paged": 0, "contig": 1, "tma": 2}


@triton.jit
def _load_k(k_cache, k_desc, table_row, first_row, start, kv_head, stride_page, stride_slot,
            stride_head, HEAD_DIM: tl.constexpr, PAGE_SIZE: tl.constexpr,
            BLOCK_N: tl.constexpr, MODE: tl.constexpr):
    offsets = start + tl.arange(0, BLOCK_N)
    dims = tl.arange(0, HEAD_DIM)
    if MODE == 2:
        return k_desc.load([first_row + start, kv_head * HEAD_DIM])
    if MODE == 1:
        rows = (first_row + offsets).to(tl.int64)
        page, slot = rows // PAGE_SIZE, rows % PAGE_SIZE
    else:
        page = tl.load(table_row + offsets // PAGE_SIZE).to(tl.int64)
        slot = offsets % PAGE_SIZE
    ptrs = (k_cache + page[:, None] * stride_page + slot[:, None] * stride_slot
            + kv_head * stride_head + dims[None, :])
    return tl.load(ptrs)


@triton.jit
def _probe_kernel(q_ptr, k_cache, v_cache, k_desc, v_desc, out_part, lse_part, block_tables,
                  query_start, members, group_start, prefix_lens, tile_group, tile_row,
                  stride_qt, stride_qh, stride_page, stride_slot, stride_head, stride_bt,
                  stride_ob, stride_oh, stride_os, stride_lb, stride_lh, qk_scale, first_slot,
                  num_splits, GROUP: tl.constexpr, HEAD_DIM: tl.constexpr,
                  PAGE_SIZE: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                  MODE: tl.constexpr, PIPE: tl.constexpr):
    tile, kv_head, split = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    group = tl.load(tile_group + tile)
    row0 = tl.load(tile_row + tile)
    g_first = tl.load(group_start + group)
    g_count = tl.load(group_start + group + 1) - g_first
    prefix_len = tl.load(prefix_lens + group)
    rows = row0 + tl.arange(0, BLOCK_M)
    row_mask = rows < g_count * GROUP
    member = tl.load(members + g_first + rows // GROUP, mask=row_mask, other=0)
    heads = kv_head * GROUP + rows % GROUP
    dims = tl.arange(0, HEAD_DIM)
    tokens_q = tl.load(query_start + member, mask=row_mask, other=0).to(tl.int64)
    q = tl.load(q_ptr + tokens_q[:, None] * stride_qt + heads[:, None] * stride_qh + dims[None, :],
                mask=row_mask[:, None], other=0.0)
    owner = tl.load(members + g_first)
    table_row = block_tables + owner.to(tl.int64) * stride_bt
    first_row = tl.load(table_row) * PAGE_SIZE
    chunk = tl.cdiv(tl.cdiv(prefix_len, num_splits), BLOCK_N) * BLOCK_N
    lo = split * chunk
    hi = tl.minimum(lo + chunk, prefix_len)  # the probe's prefixes are whole key tiles
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    if PIPE:
        k = _load_k(k_cache, k_desc, table_row, first_row, lo, kv_head, stride_page,
                    stride_slot, stride_head, HEAD_DIM, PAGE_SIZE, BLOCK_N, MODE)
        qk = tl.dot(q, tl.trans(k))
        for start in range(lo, hi, BLOCK_N):
            v = _load_k(v_cache, v_desc, table_row, first_row, start, kv_head, stride_page,
                        stride_slot, stride_head, HEAD_DIM, PAGE_SIZE, BLOCK_N, MODE)
            ahead = tl.minimum(start + BLOCK_N, hi - BLOCK_N)
            k = _load_k(k_cache, k_desc, table_row, first_row, ahead, kv_head, stride_page,
                        stride_slot, stride_head, HEAD_DIM, PAGE_SIZE, BLOCK_N, MODE)
            qk_next = tl.dot(q, tl.trans(k))
            s = qk * qk_scale
            m_new = tl.maximum(m_i, tl.max(s, 1))
            p = tl.exp2(s - m_new[:, None])
            alpha = tl.exp2(m_i - m_new)
            l_i = l_i * alpha + tl.sum(p, 1)
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
            m_i = m_new
            qk = qk_next
    else:
        for start in range(lo, hi, BLOCK_N):
            k = _load_k(k_cache, k_desc, table_row, first_row, start, kv_head, stride_page,
                        stride_slot, stride_head, HEAD_DIM, PAGE_SIZE, BLOCK_N, MODE)
            v = _load_k(v_cache, v_desc, table_row, first_row, start, kv_head, stride_page,
                        stride_slot, stride_head, HEAD_DIM, PAGE_SIZE, BLOCK_N, MODE)
            s = tl.dot(q, tl.trans(k)) * qk_scale
            m_new = tl.maximum(m_i, tl.max(s, 1))
            p = tl.exp2(s - m_new[:, None])
            alpha = tl.exp2(m_i - m_new)
            l_i = l_i * alpha + tl.sum(p, 1)
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
            m_i = m_new
    l_safe = tl.where(l_i > 0, l_i, 1.0)
    lse = tl.where(l_i > 0, m_i + tl.log2(l_safe), float("-inf"))
    slot = first_slot + split
    member64 = member.to(tl.int64)
    o_ptrs = out_part + member64[:, None] * stride_ob + heads[:, None] * stride_oh + dims[None, :]
    tl.store(o_ptrs + slot * stride_os, acc / l_safe[:, None], mask=row_mask[:, None])
    tl.store(lse_part + member64 * stride_lb + heads * stride_lh + slot, lse, mask=row_mask)


def probe_partials(q, k_cache, v_cache, block_tables, query_start, meta, qk_scale, out_part,
                   lse_part, splits: int, config: KernelConfig, mode: str, pipe: bool):
    pages, page_size, kv_heads, head_dim = k_cache.shape
    flat = (pages * page_size, kv_heads * head_dim)
    descs = [TensorDescriptor.from_tensor(c.view(flat), [config.block_n, head_dim])
             for c in (k_cache, v_cache)]
    return _probe_kernel[(meta.num_tiles, kv_heads, splits)](
        q, k_cache, v_cache, *descs, out_part, lse_part, block_tables, query_start,
        meta.members, meta.group_start, meta.prefix_lens, meta.tile_group, meta.tile_row,
        q.stride(0), q.stride(1), k_cache.stride(0), k_cache.stride(1), k_cache.stride(2),
        block_tables.stride(0), out_part.stride(0), out_part.stride(1), out_part.stride(2),
        lse_part.stride(0), lse_part.stride(1), qk_scale, 0, splits,
        GROUP=q.shape[1] // kv_heads, HEAD_DIM=head_dim, PAGE_SIZE=page_size,
        BLOCK_M=config.block_m, BLOCK_N=config.block_n, MODE=MODES[mode], PIPE=pipe,
        num_warps=config.num_warps, num_stages=config.num_stages)


def variants(dim: int):
    for mode, pipe, stages in itertools.product(MODES, (False, True), (2, 3, 4)):
        yield f"{mode}{'-pipe' if pipe else ''}-s{stages}", mode, pipe, KernelConfig(
            64, 64, 4, stages)
    for mode, stages in itertools.product(("contig", "tma"), (2, 3)):
        yield f"{mode}-m128w8-s{stages}", mode, False, KernelConfig(128, 64, 8, stages)


def run_shape(shape: str) -> None:
    heads, kv_heads, dim = ab.SHAPES[shape]
    q, caches, batch, _ = shared_prefix_case(shape, 1)
    backend = TritonBackend()
    scale = 0.125 * LOG2E
    print(shape, "fused cascade at suffix 1 (default):",
          f"{ab.time_layers(backend, q, caches, batch) * 1e3:.1f} us", flush=True)
    slots = 16
    out = torch.empty(64, heads, slots, dim, dtype=torch.float32, device="cuda")
    lse = torch.empty(64, heads, slots, dtype=torch.float32, device="cuda")
    args = (batch.block_tables, batch.query_start)

    def meta_for(block_m):
        return backend.cascade_meta(batch, heads // kv_heads, block_m, q.device) if (
            block_m == 64) else TritonBackend().cascade_meta(batch, heads // kv_heads, block_m,
                                                              q.device)

    engine_cfg = backend.cascade_kernel_config(dim, q.device)
    meta = meta_for(64)
    for splits in (6, 8, 12):

        def engine_pass(k, v, splits=splits):
            prefix_partials(q, k, v, *args, meta, scale, out, lse, 0, splits, False, engine_cfg)

        ref_out, ref_lse = None, None
        engine_pass(*caches[0])
        ref_out, ref_lse = out[:, :, :splits].clone(), lse[:, :, :splits].clone()
        us = ab.graph_ms(lambda: [engine_pass(k, v) for k, v in caches]) / len(caches) * 1e3
        row = [f"engine {us:.1f}"]
        for name, mode, pipe, config in variants(dim):
            vmeta = meta_for(config.block_m)
            try:
                out.zero_()
                handle = probe_partials(q, *caches[0], *args, vmeta, scale, out, lse, splits,
                                        config, mode, pipe)
                regs = f" r{getattr(handle, 'n_regs', '?')}/{getattr(handle, 'n_spills', '?')}" if (
                    splits == 6) else ""
                error = (out[:, :, :splits] - ref_out).abs().max().item()
                lse_error = (lse[:, :, :splits] - ref_lse).abs().max().item()
                us = ab.graph_ms(lambda vm=vmeta, c=config, m=mode, p=pipe, n=splits: [
                    probe_partials(q, k, v, *args, vm, scale, out, lse, n, c, m, p)
                    for k, v in caches]) / len(caches) * 1e3
                worst = max(error, lse_error)
                bad = "" if worst < 2e-2 else f" (WRONG {worst:.1e})"
                row.append(f"{name} {us:.1f}{bad}{regs}")
            except Exception as exc:  # noqa: BLE001  (a variant that does not compile)
                row.append(f"{name} {type(exc).__name__}")
        print(shape, f"splits {splits} prefix pass (us per layer):", ", ".join(row), flush=True)


if __name__ == "__main__":
    for name in SHAPE_NAMES:
        run_shape(name)
