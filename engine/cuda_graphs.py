"""Decode under CUDA graphs: one graph per batch-size bucket, replayed over preallocated input
buffers. Plain decode graphs are captured when the runner starts (`capture_all`), so kernel
compiles and captures stay off the serving path; the others on first use.

A decode batch of n sequences runs in the smallest bucket >= n. Rows past n are padding:
sequence length 0 (attention writes zeros) and slot -1 (write_kv skips them), so a padded
replay never touches the KV cache of a live sequence. Block-table columns past the batch's
width keep stale page numbers that are never read (kernels stop at each sequence's length).

The attention backend keeps whatever metadata it needs in static buffers of its own, through
the hooks of its contract (engine/attention/base.py); a bucket holds a graph per variant the
backend names (0: plain decode). Batches with extra logits rows (prompt log-probs) run
eagerly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from engine.attention.base import AttentionBackend
from engine.forward import ForwardBatch

if TYPE_CHECKING:
    from engine.runner import ModelRunner

BUCKETS = (1, 2, 4, 8, 12, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256)


def bucket_sizes(max_num_seqs: int) -> list[int]:
    return [b for b in BUCKETS if b < max_num_seqs] + [max_num_seqs]


class DecodeGraphs:
    def __init__(
        self,
        forward: Callable[[ForwardBatch], torch.Tensor],
        backend: AttentionBackend,
        page_size: int,
        max_num_seqs: int,
        max_context: int,
        device: torch.device,
        group_size: int = 1,
        head_dim: int = 128,
    ) -> None:
        """forward(batch) -> logits [num_seqs, vocab]: the model over the engine's KV caches,
        attending through `backend`."""
        self.forward = forward
        self.backend = backend
        self.page_size = page_size
        self.buckets = bucket_sizes(max_num_seqs)
        self.max_pages = -(-max_context // page_size)
        size = self.buckets[-1]

        def zeros(*shape: int, dtype: torch.dtype = torch.int64) -> torch.Tensor:
            return torch.zeros(shape, dtype=dtype, device=device)

        self.input_ids = zeros(size)
        self.positions = zeros(size)
        self.seq_lens = zeros(size, dtype=torch.int32)
        self.query_lens = torch.ones(size, dtype=torch.int32, device=device)
        self.query_start = torch.arange(size + 1, dtype=torch.int32, device=device)
        self.block_tables = zeros(size, self.max_pages, dtype=torch.int32)
        self.slot_mapping = torch.full((size,), -1, dtype=torch.int64, device=device)
        self.logits_indices = torch.arange(size, dtype=torch.int64, device=device)
        self.graphs: dict[tuple[int, int], torch.cuda.CUDAGraph] = {}
        self.outputs: dict[tuple[int, int], torch.Tensor] = {}
        self.pool: tuple[int, int] | None = None
        backend.init_cuda_graphs(size, self.max_pages, page_size, group_size, head_dim, device)

    @classmethod
    def for_runner(cls, runner: ModelRunner) -> DecodeGraphs | None:
        """Graphs for a ModelRunner when it runs on CUDA with a backend that supports them
        and its config allows them; None otherwise."""
        if not runner.config.use_cuda_graphs or runner.device.type != "cuda":
            return None
        if not runner.attention_backend.supports_cuda_graphs:
            return None
        cfg = runner.model_config
        return cls(
            lambda batch: runner.model(batch, runner.kv_caches),
            runner.attention_backend,
            runner.page_size,
            runner.config.max_num_seqs,
            cfg.max_position_embeddings,
            runner.device,
            group_size=cfg.num_heads // cfg.num_kv_heads,
            head_dim=cfg.head_dim,
        )

    def can_run(self, batch: ForwardBatch) -> bool:
        return (
            batch.is_decode
            and 0 < batch.num_seqs <= self.buckets[-1]
            and batch.block_tables.shape[1] <= self.max_pages
            and batch.logits_indices.shape[0] == batch.num_seqs
        )

    def run(self, batch: ForwardBatch) -> torch.Tensor:
        """Logits [num_seqs, vocab] in the model's dtype (a view of the graph's output,
        valid until the next replay)."""
        count = batch.num_seqs
        bucket = next(b for b in self.buckets if b >= count)
        key = (bucket, self.backend.graph_variant(batch))
        self._fill(batch, count, bucket)
        if key not in self.graphs:
            self._capture(key)
        self.graphs[key].replay()
        return self.outputs[key][:count]

    def capture_all(self) -> None:
        """Capture the plain decode graph of every bucket, largest first so that the smaller
        ones reuse the pool's memory. The buffers are set to padding rows first, so the
        warm-up forwards write no KV."""
        self.seq_lens.zero_()
        self.slot_mapping.fill_(-1)
        for bucket in reversed(self.buckets):
            if (bucket, 0) not in self.graphs:
                self._capture((bucket, 0))

    def _fill(self, batch: ForwardBatch, count: int, bucket: int) -> None:
        self.input_ids[:count].copy_(batch.input_ids, non_blocking=True)
        self.positions[:count].copy_(batch.positions, non_blocking=True)
        self.seq_lens[:count].copy_(batch.seq_lens, non_blocking=True)
        self.slot_mapping[:count].copy_(batch.slot_mapping, non_blocking=True)
        width = batch.block_tables.shape[1]
        self.block_tables[:count, :width].copy_(batch.block_tables, non_blocking=True)
        if bucket > count:
            self.seq_lens[count:bucket].zero_()
            self.slot_mapping[count:bucket].fill_(-1)

    def _static_batch(self, bucket: int) -> ForwardBatch:
        return ForwardBatch(
            input_ids=self.input_ids[:bucket],
            positions=self.positions[:bucket],
            seq_lens=self.seq_lens[:bucket],
            query_lens=self.query_lens[:bucket],
            query_start=self.query_start[: bucket + 1],
            block_tables=self.block_tables[:bucket],
            slot_mapping=self.slot_mapping[:bucket],
            logits_indices=self.logits_indices[:bucket],
            page_size=self.page_size,
            max_query_len=1,
            max_seq_len=self.max_pages * self.page_size,
            is_decode=True,
        )

    @torch.inference_mode()
    def _capture(self, key: tuple[int, int]) -> None:
        """key: (bucket, the backend's variant; 0 for plain decode)."""
        bucket, variant = key
        batch = self._static_batch(bucket)
        self.backend.prepare_capture(batch, variant)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):  # warm-up: compiles kernels, fills caches; writes are idempotent
                self.forward(batch)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool):
            self.outputs[key] = self.forward(batch)
        self.pool = graph.pool()
        self.graphs[key] = graph
