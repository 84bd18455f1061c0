"""The GPU kernels of one decode step, by total device time: torch.profiler over replays of
the model alone (CUDA graphs when enabled) at a given batch size and context.

    python benchmarks/kernel_profile.py --shape llama-3.2-1b --batch 1 --context 512
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import EngineConfig  # noqa: E402
from engine.engine import LLMEngine  # noqa: E402
from engine.forward import ForwardBatch  # noqa: E402
from engine.models.shapes import dummy_shape  # noqa: E402


def decode_batch(size: int, context: int, page: int, vocab: int) -> ForwardBatch:
    pages = -(-(context + 1) // page)
    tables = torch.arange(1, size * pages + 1, dtype=torch.int32).view(size, pages)
    return ForwardBatch(
        input_ids=torch.randint(10, vocab - 10, (size,)),
        positions=torch.full((size,), context),
        seq_lens=torch.full((size,), context + 1, dtype=torch.int32),
        query_lens=torch.ones(size, dtype=torch.int32),
        query_start=torch.arange(size + 1, dtype=torch.int32),
        block_tables=tables,
        slot_mapping=tables[:, context // page].long() * page + context % page,
        logits_indices=torch.arange(size),
        page_size=page,
        max_query_len=1,
        max_seq_len=context + 1,
        is_decode=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="llama-3.2-1b")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--context", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    shape = dummy_shape(args.shape)
    engine = LLMEngine(EngineConfig(model=f"dummy:{args.shape}", dtype="bfloat16",
                                    max_num_seqs=max(8, args.batch)))
    runner = engine.runner
    batch = decode_batch(args.batch, args.context, runner.page_size, shape.vocab_size)
    for _ in range(3):
        runner.forward(batch)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(args.steps):
            runner.forward(batch)
        torch.cuda.synchronize()
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=args.rows,
                                    max_name_column_width=70))


if __name__ == "__main__":
    main()
