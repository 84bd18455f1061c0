"""ModelRunner: owns the paged KV caches and the attention backend, and runs the model on a
ForwardBatch.

KV layout (see engine/attention/base.py): one (k_cache, v_cache) pair per layer, each
[num_pages, page_size, num_kv_heads, head_dim] in the model's dtype.
"""

from __future__ import annotations

import os

import torch

from engine.attention import get_backend
from engine.attention.base import AttentionBackend
from engine.batching import BatchLogits, build_forward_batch
from engine.config import EngineConfig
from engine.cuda_graphs import DecodeGraphs
from engine.forward import ForwardBatch
from engine.kv.block_tables import BlockTableMirror
from engine.models.loader import LoadedModel
from engine.scheduler import ScheduledChunk

CPU_DEFAULT_TOKENS = 65536  # KV capacity on CPU when num_pages is not given
CPU_RAM_SHARE = 0.25  # at most this share of available RAM for KV on CPU
GPU_RESERVE_BYTES = 512 << 20  # kept free on CUDA for the allocator and kernels


class ModelRunner:
    def __init__(self, config: EngineConfig, loaded: LoadedModel) -> None:
        self.config = config
        self.loaded = loaded
        self.model = loaded.model
        self.model_config = loaded.model_config
        self.device = loaded.device
        self.dtype = loaded.dtype
        self.attention_backend = self._backend()
        self.page_size = config.page_size
        self.num_pages = config.num_pages or self._pages_that_fit()
        self.kv_pool = self._allocate_kv()
        self.kv_caches = [(layer[0], layer[1]) for layer in self.kv_pool]
        self.decode_graphs = DecodeGraphs.for_runner(self)
        if self.decode_graphs is not None and config.capture_graphs_at_start:
            self.decode_graphs.capture_all()

    def _backend(self) -> AttentionBackend:
        """The model's backend, unless the config names another: then that one, installed on
        the model (a loaded model runs under one backend at a time)."""
        current = self.model.attention_backend
        if self.config.attention in ("auto", current.name):
            return current
        self.model.attention_backend = get_backend(self.config.attention, self.device)
        return self.model.attention_backend

    @property
    def bytes_per_page(self) -> int:
        cfg = self.model_config
        elements = 2 * cfg.num_layers * self.page_size * cfg.num_kv_heads * cfg.head_dim
        return elements * torch.empty((), dtype=self.dtype).element_size()

    def run(self, chunks: list[ScheduledChunk], tables: BlockTableMirror) -> BatchLogits:
        """Prepare the batch of `chunks` (their block tables synced into `tables`, the
        engine's mirror) and run the model on it; writes the chunks' new K/V."""
        batch, rows = build_forward_batch(chunks, self.page_size, self.device, tables)
        return BatchLogits(self.forward(batch), rows)

    @torch.inference_mode()
    def forward(self, batch: ForwardBatch) -> torch.Tensor:
        """float32 logits [len(batch.logits_indices), vocab]; writes the batch's new K/V."""
        if self.decode_graphs is not None and self.decode_graphs.can_run(batch):
            return self.decode_graphs.run(batch).float()
        batch = self._on_device(batch)
        return self.model(batch, self.kv_caches).float()

    def copy_page(self, src: int, dst: int, num_tokens: int) -> None:
        """Copy the first `num_tokens` slots of page `src` into page `dst`, every layer's K and
        V at once."""
        self.kv_pool[:, :, dst, :num_tokens] = self.kv_pool[:, :, src, :num_tokens]

    def _allocate_kv(self) -> torch.Tensor:
        """One tensor (layer, K or V, page, slot, kv head, dim): each layer's K and V caches
        are contiguous views of it, and a page of every layer is one strided slice."""
        cfg = self.model_config
        shape = (cfg.num_layers, 2, self.num_pages, self.page_size, cfg.num_kv_heads,
                 cfg.head_dim)
        # CUDA: zeroed (cheap there). CPU: left as the OS hands it out (zero pages, touched
        # only when used), which starts a large cache instantly; backends never read a slot
        # before it is written.
        new = torch.zeros if self.device.type == "cuda" else torch.empty
        return new(shape, dtype=self.dtype, device=self.device)

    def _pages_that_fit(self) -> int:
        if self.device.type == "cuda":
            budget = self._cuda_kv_budget()
        else:
            wanted = -(-CPU_DEFAULT_TOKENS // self.page_size) * self.bytes_per_page
            budget = min(wanted, int(_available_ram() * CPU_RAM_SHARE))
        pages = budget // self.bytes_per_page
        if pages < 1:
            raise MemoryError(
                f"no memory left for the KV cache ({budget} bytes free, a page takes "
                f"{self.bytes_per_page}); lower the model size or raise gpu_memory_fraction"
            )
        return int(pages)

    def _cuda_kv_budget(self) -> int:
        free, total = torch.cuda.mem_get_info(self.device)
        used = total - free
        return int(total * self.config.gpu_memory_fraction) - used - self._activation_bytes()

    def _activation_bytes(self) -> int:
        """A generous bound on one forward's transient memory at max_batch_tokens."""
        cfg = self.model_config
        size = torch.empty((), dtype=self.dtype).element_size()
        tokens = self.config.max_batch_tokens
        per_token = 4 * cfg.intermediate_size + 6 * cfg.hidden_size + 2 * cfg.q_size
        logits = self.config.max_num_seqs * cfg.vocab_size * 4 * 2
        return tokens * per_token * size + logits + GPU_RESERVE_BYTES

    def _on_device(self, batch: ForwardBatch) -> ForwardBatch:
        if batch.input_ids.device == self.device:
            return batch
        moved = {
            name: getattr(batch, name).to(self.device, non_blocking=True)
            for name in (
                "input_ids", "positions", "seq_lens", "query_lens", "query_start",
                "block_tables", "slot_mapping", "logits_indices",
            )
        }
        return ForwardBatch(
            **moved,
            page_size=batch.page_size,
            max_query_len=batch.max_query_len,
            max_seq_len=batch.max_seq_len,
            is_decode=batch.is_decode,
            prefix_groups=batch.prefix_groups,
        )


def _available_ram() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
