"""TritonBackend: the GPU attention backend (paged prefill/extend, split-K decode, cascade).

Decode batches go through split-K decode; when the batch names prefix groups, the shared
prefix of each group is attended once for all members (cascade) and merged with each
member's suffix, the prefix and suffix passes in one launch.
Any other batch (prefill, extend, mixed) goes through the prefill kernel.
Per-batch metadata (cascade groups) is built once per ForwardBatch and reused by every layer.
"""

from __future__ import annotations

import functools

import torch

from engine.attention.base import AttentionBackend
from engine.attention.triton_cascade import (
    CascadeMeta,
    build_cascade_meta,
    prefix_splits,
    resident_programs,
)
from engine.attention.triton_cascade_fused import cascade_partials
from engine.attention.triton_common import (
    LOG2E,
    KernelConfig,
    check_cache,
    pick_config,
    use_ieee,
)
from engine.attention.triton_decode import decode_partials, decode_splits
from engine.attention.triton_graphs import CascadeGraphMeta
from engine.attention.triton_kv import write_kv
from engine.attention.triton_merge import merge_partials
from engine.attention.triton_prefill import prefill_attention
from engine.forward import ForwardBatch, PrefixGroup

CASCADE_CONFIGS = {  # by head_dim <= key; tuned on an H100 (benchmarks/cascade_variants.py)
    64: KernelConfig(block_m=64, block_n=64, num_warps=4, num_stages=4),
    256: KernelConfig(block_m=64, block_n=64, num_warps=4, num_stages=3),
}


@functools.cache
def _num_sms(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    return 4


@functools.cache
def _smem_per_sm(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).shared_memory_per_multiprocessor
    return 228 * 1024


class TritonBackend(AttentionBackend):
    name = "triton"
    supports_cuda_graphs = True

    def __init__(
        self,
        use_cascade: bool = True,
        fixed_decode_splits: int | None = None,
        decode_config: KernelConfig | None = None,
        cascade_config: KernelConfig | None = None,
        prefill_config: KernelConfig | None = None,
        fixed_prefix_splits: int | None = None,
    ):
        """fixed_decode_splits: a constant split count (CUDA graphs need a static grid).
        The configs override the kernels' tile shapes (None: the defaults)."""
        self.use_cascade = use_cascade
        self.fixed_decode_splits = fixed_decode_splits
        self.decode_config = decode_config
        self.cascade_config = cascade_config
        self.prefill_config = prefill_config
        self.fixed_prefix_splits = fixed_prefix_splits
        self._meta_batch: ForwardBatch | None = None
        self._meta: CascadeMeta | None = None
        self._graph_meta: CascadeGraphMeta | None = None

    def write_kv(
        self,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        slot_mapping: torch.Tensor,
    ) -> None:
        write_kv(k_cache, v_cache, k, v, slot_mapping)

    def attend(
        self,
        q: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        batch: ForwardBatch,
        scale: float,
    ) -> torch.Tensor:
        if not batch.is_decode:
            return prefill_attention(q, k_cache, v_cache, batch, scale, config=self.prefill_config)
        check_cache(k_cache, v_cache, q)
        if self.use_cascade and batch.prefix_groups:
            return self._cascade_decode(q, k_cache, v_cache, batch, scale)
        return self._decode(q, k_cache, v_cache, batch, scale)

    def decode_num_splits(self, batch: ForwardBatch, num_kv_heads: int, device) -> int:
        if self.fixed_decode_splits is not None:
            return self.fixed_decode_splits
        return decode_splits(batch.num_seqs, num_kv_heads, batch.max_seq_len, _num_sms(device))

    def _decode(self, q, k_cache, v_cache, batch: ForwardBatch, scale: float) -> torch.Tensor:
        num_seqs, (num_heads, head_dim) = batch.num_seqs, q.shape[1:]
        splits = self.decode_num_splits(batch, k_cache.shape[2], q.device)
        out_part = q.new_empty((num_seqs, num_heads, splits, head_dim), dtype=torch.float32)
        lse_part = q.new_empty((num_seqs, num_heads, splits), dtype=torch.float32)
        decode_partials(
            q,
            k_cache,
            v_cache,
            batch.block_tables,
            batch.seq_lens,
            batch.query_start,
            scale * LOG2E,
            out_part,
            lse_part,
            splits,
            use_ieee(q),
            config=self.decode_config,
        )
        out = torch.empty_like(q)
        merge_partials(out_part, lse_part, out, batch.query_start)
        return out

    def cascade_kernel_config(self, head_dim: int, device: torch.device) -> KernelConfig:
        default = next(c for size, c in sorted(CASCADE_CONFIGS.items()) if head_dim <= size)
        return pick_config(device, default, self.cascade_config)

    def init_cuda_graphs(self, max_num_seqs: int, max_pages: int, page_size: int,
                         group_size: int, head_dim: int, device: torch.device) -> None:
        block_m = self.cascade_kernel_config(head_dim, device).block_m
        self._graph_meta = CascadeGraphMeta(max_num_seqs, max_pages, page_size, group_size,
                                            block_m, device)

    def graph_variant(self, batch: ForwardBatch) -> int:
        """The cascade layout's row tiles (a graph per tile count keeps padding tiles out of
        the prefix kernel's grid); 0 without prefix groups."""
        if not (self.use_cascade and batch.prefix_groups):
            return 0
        assert self._graph_meta is not None
        return self._graph_meta.fill(batch)

    def prepare_capture(self, batch: ForwardBatch, variant: int) -> None:
        if variant == 0:
            return
        assert self._graph_meta is not None
        # a placeholder group: attend reads the pinned static metadata instead
        batch.prefix_groups = [PrefixGroup((0,), 1)]
        self._meta_batch = batch
        self._meta = self._graph_meta.static_meta(batch.num_seqs, variant)

    def cascade_meta(
        self, batch: ForwardBatch, group_size: int, block_m: int, device
    ) -> CascadeMeta:
        if self._meta_batch is not batch:
            self._meta = build_cascade_meta(
                batch.prefix_groups,
                batch.num_seqs,
                batch.page_size,
                group_size,
                block_m,
                device,
            )
            self._meta_batch = batch
        assert self._meta is not None
        return self._meta

    def _cascade_decode(
        self, q, k_cache, v_cache, batch: ForwardBatch, scale: float
    ) -> torch.Tensor:
        num_seqs, (num_heads, head_dim) = batch.num_seqs, q.shape[1:]
        num_kv_heads = k_cache.shape[2]
        config = self.cascade_kernel_config(head_dim, q.device)
        meta = self.cascade_meta(batch, num_heads // num_kv_heads, config.block_m, q.device)
        sms = _num_sms(q.device)
        splits = self.decode_num_splits(batch, num_kv_heads, q.device)
        resident = resident_programs(config, head_dim, _smem_per_sm(q.device))
        pre_splits = self.fixed_prefix_splits or prefix_splits(meta, num_kv_heads, sms, resident)
        slots = splits + pre_splits
        out_part = q.new_empty((num_seqs, num_heads, slots, head_dim), dtype=torch.float32)
        lse_part = q.new_empty((num_seqs, num_heads, slots), dtype=torch.float32)  # all written
        cascade_partials(
            q,
            k_cache,
            v_cache,
            batch.block_tables,
            batch.seq_lens,
            batch.query_start,
            meta,
            scale * LOG2E,
            out_part,
            lse_part,
            splits,
            pre_splits,
            use_ieee(q),
            config,
            decode_config=self.decode_config,
        )
        out = torch.empty_like(q)
        merge_partials(out_part, lse_part, out, batch.query_start)
        return out
