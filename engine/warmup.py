"""Engine start on the GPU: serve a little synthetic traffic of every shape class a workload
can reach, so that the Triton kernel variants it needs are compiled (or loaded from Triton's
on-disk cache) and the CUDA graphs of shared-prefix decoding are captured before the first
real request, never inside it.

Triton compiles a kernel once per constexpr choice and per integer-argument class (1, a
multiple of 16, anything else); the shapes below cover prompts that are one token, a page, a
page and a bit, longer than a prefill chunk; extends of a cached prefix by 1 to 33 tokens;
decode batches of every graph bucket with one and with two shared-prefix groups; greedy,
sampled, nucleus and top-k draws; choices, and scoring. Afterwards the prefix cache is empty
and the counters start from zero.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from engine.api import EngineStats, SamplingParams
from engine.cuda_graphs import bucket_sizes

if TYPE_CHECKING:
    from engine.engine import LLMEngine

_FIRST_ID = 1000  # plain vocabulary ids, clear of the special tokens of every family
_SAMPLINGS = (
    SamplingParams(max_tokens=3),
    SamplingParams(max_tokens=3, temperature=0.8, seed=1),
    SamplingParams(max_tokens=3, temperature=1.0, top_p=0.9, seed=2),
    SamplingParams(max_tokens=3, temperature=0.7, top_k=40, seed=3),
)


def warm_up(engine: LLMEngine) -> float:
    """Run the warm-up traffic; return the seconds it took."""
    started = time.perf_counter()
    ids = _ids(engine.limits.vocab_size)
    page = engine.page_size
    lengths = (1, page, page + 9, 5 * page + 3, engine.config.prefill_chunk + 2 * page + 5)
    for sampling in _SAMPLINGS:
        engine.generate([_take(ids, n) for n in lengths], sampling)
    prefix = _take(ids, 6 * page)
    engine.generate([prefix], SamplingParams(max_tokens=1))
    engine.generate([prefix + _take(ids, n) for n in (1, 9, page, 2 * page + 1)],
                    SamplingParams(max_tokens=2))
    _shared_prefix_decodes(engine, ids, prefix)
    if engine.tokenizer is not None:
        engine.generate([prefix + _take(ids, 3)],
                        SamplingParams(max_tokens=4, choices=("yes", "no", "maybe")))
    engine.score(prefix, [_take(ids, 2), _take(ids, 3)])
    engine.clear_prefix_cache()
    engine.counters = EngineStats()
    engine.overlap.launched = 0
    engine.scheduler.num_preemptions = 0
    return time.perf_counter() - started


def _shared_prefix_decodes(engine: LLMEngine, ids: Iterator[int], prefix: list[int]) -> None:
    """Decode batches of every bucket whose rows share one prefix, then two prefixes."""
    other = _take(ids, 4 * engine.page_size)
    engine.generate([other], SamplingParams(max_tokens=1))
    for size in bucket_sizes(engine.config.max_num_seqs):
        one = [prefix + _take(ids, 2) for _ in range(size)]
        engine.generate(one, SamplingParams(max_tokens=3))
        if size > 1:
            two = [(prefix if i % 2 else other) + _take(ids, 2) for i in range(size)]
            engine.generate(two, SamplingParams(max_tokens=3, temperature=0.8, seed=4))


def _ids(vocab_size: int) -> Iterator[int]:
    first = min(_FIRST_ID, vocab_size // 2)
    span = min(vocab_size - first, 20_000)
    count = 0
    while True:
        yield first + (count * 7919) % span  # a stride prime to most spans: few repeats
        count += 1


def _take(ids: Iterator[int], count: int) -> list[int]:
    return [next(ids) for _ in range(count)]
