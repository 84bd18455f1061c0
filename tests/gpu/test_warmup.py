"""The start-up warm-up on the GPU: it leaves no trace (empty cache, zero counters), changes
no output, and leaves nothing to compile or capture for a shared-prefix workload."""

from __future__ import annotations

import pytest
import torch

if not torch.cuda.is_available():
    pytest.skip("needs CUDA", allow_module_level=True)

from engine import LLMEngine  # noqa: E402
from engine.api import SamplingParams  # noqa: E402
from engine.config import EngineConfig  # noqa: E402
from engine.models.loader import load_model  # noqa: E402

SHAPE = {"model": "dummy:llama-3.2-1b", "device": "cuda", "dtype": "bfloat16",
         "num_pages": 2048}


def shared_prefix_batch(size: int, seed: int) -> list[list[int]]:
    generator = torch.Generator().manual_seed(seed)
    prefix = torch.randint(1000, 30000, (163,), generator=generator).tolist()
    return [prefix + torch.randint(1000, 30000, (5 + i % 7,), generator=generator).tolist()
            for i in range(size)]


def test_a_warmed_engine_starts_empty_and_answers_as_a_cold_one():
    loaded = load_model(EngineConfig(**SHAPE))
    warmed = LLMEngine(EngineConfig(**SHAPE, warm_up=True), loaded=loaded)
    stats = warmed.stats()
    assert warmed.warmup_s > 0
    assert stats.pages_in_use == 0 and stats.steps == 0 and stats.prompt_tokens == 0
    graphs = warmed.runner.decode_graphs
    captured = set(graphs.graphs)
    batch = shared_prefix_batch(12, seed=1)
    sampling = SamplingParams(max_tokens=16, ignore_eos=True)
    warmed.generate(batch[:1], SamplingParams(max_tokens=1))
    ours = [g.token_ids for g in warmed.generate(batch, sampling)]
    assert set(graphs.graphs) == captured  # nothing captured while serving
    del warmed
    cold = LLMEngine(EngineConfig(**SHAPE, warm_up=False), loaded=loaded)
    cold.generate(batch[:1], SamplingParams(max_tokens=1))
    assert [g.token_ids for g in cold.generate(batch, sampling)] == ours
