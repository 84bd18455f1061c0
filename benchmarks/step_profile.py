"""Where a decode step's time goes on the host: cProfile over the engine's steps for batch-1
decode and for shared-prefix decode (64 branches on a long prefix), with the wall time per
step and the model's own time per step (CUDA-graph replay alone) beside it.

    python benchmarks/step_profile.py --shape llama-3.2-1b --out benchmarks/results/x.txt
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.api import SamplingParams  # noqa: E402
from engine.config import EngineConfig  # noqa: E402
from engine.engine import LLMEngine  # noqa: E402
from engine.models.shapes import dummy_shape  # noqa: E402


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def device_time(engine: LLMEngine, prompts, new: int, rows: int = 12) -> str:
    """The kernels of a generate call by total device time (torch.profiler), per step."""
    from torch.profiler import ProfilerActivity, profile

    params = [SamplingParams(max_tokens=new, ignore_eos=True)] * len(prompts)
    steps = engine.stats().steps
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        engine.generate(prompts, params)
        sync()
    steps = engine.stats().steps - steps
    events = prof.key_averages()
    total = sum(e.self_device_time_total for e in events) / 1e3 / steps
    table = events.table(sort_by="self_device_time_total", row_limit=rows,
                         max_name_column_width=60)
    return f"device time per step: {total:.3f} ms over {steps} steps\n{table}"


def synchronizing_calls(engine: LLMEngine, prompts, new: int) -> str:
    """Where the engine's steps block on the GPU implicitly (torch's sync debug mode), and the
    time per step the host spends waiting for tokens explicitly."""
    import warnings

    from engine import overlap

    waited = [0.0]
    read = overlap.InflightStep.read

    def timed_read(step):
        start = time.perf_counter()
        try:
            return read(step)
        finally:
            waited[0] += time.perf_counter() - start

    params = [SamplingParams(max_tokens=new, ignore_eos=True)] * len(prompts)
    steps = engine.stats().steps
    overlap.InflightStep.read = timed_read
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            engine.generate(prompts, params)
            seconds = time.perf_counter() - start
    finally:
        torch.cuda.set_sync_debug_mode("default")
        overlap.InflightStep.read = read
    steps = engine.stats().steps - steps
    places: dict[str, int] = {}
    for w in caught:
        key = f"{w.filename}:{w.lineno}: {str(w.message)[:80]}"
        places[key] = places.get(key, 0) + 1
    lines = [f"{count:6d}  {place}" for place, count in sorted(places.items())]
    return (f"wall {1e3 * seconds / steps:.3f} ms/step, waiting for tokens "
            f"{1e3 * waited[0] / steps:.3f} ms/step, alloc retries "
            f"{torch.cuda.memory_stats().get('num_alloc_retries', 0)}; implicit syncs:\n"
            + "\n".join(lines))


def host_breakdown(engine: LLMEngine, prompts, new: int) -> str:
    """Wall milliseconds per step in each part of the overlapped decode loop (timers around
    the engine's own functions; no profiler)."""
    from engine import overlap, runner

    totals: dict[str, float] = {}
    originals = []

    def timer(owner, name: str, label: str) -> None:
        original = getattr(owner, name)
        originals.append((owner, name, original))

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals[label] = totals.get(label, 0.0) + time.perf_counter() - start

        setattr(owner, name, timed)

    timer(runner, "build_forward_batch", "build batch")
    timer(engine.runner, "forward", "runner.forward")
    timer(overlap, "greedy_step", "greedy sampling launch")
    timer(overlap.InflightStep, "read", "read tokens (waits for the GPU)")
    timer(engine, "_accept", "accept tokens")
    timer(engine.kv, "publish", "publish pages (part of accept)")
    timer(engine.overlap, "_launch", "launch (all of the above but read/accept)")
    params = [SamplingParams(max_tokens=new, ignore_eos=True)] * len(prompts)
    engine.generate(prompts, [SamplingParams(max_tokens=1, ignore_eos=True)] * len(prompts))
    totals.clear()
    steps = engine.stats().steps
    start = time.perf_counter()
    try:
        engine.generate(prompts, params)
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)
    seconds = time.perf_counter() - start
    steps = engine.stats().steps - steps
    parts = ", ".join(f"{k} {1e3 * v / steps:.3f}" for k, v in totals.items())
    return f"host breakdown, ms/step over {steps} steps (wall {1e3 * seconds / steps:.3f}): {parts}"


def profiled(engine: LLMEngine, prompts, new: int, lines: int) -> tuple[float, int, str]:
    params = [SamplingParams(max_tokens=new, ignore_eos=True)] * len(prompts)
    engine.generate(prompts, params)  # warm-up: graphs captured, kernels compiled
    steps = engine.stats().steps
    profiler = cProfile.Profile()
    sync()
    start = time.perf_counter()
    profiler.enable()
    engine.generate(prompts, params)
    profiler.disable()
    sync()
    seconds = time.perf_counter() - start
    steps = engine.stats().steps - steps
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(lines)
    return seconds, steps, stream.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="llama-3.2-1b")
    parser.add_argument("--branches", type=int, default=64)
    parser.add_argument("--prefix", type=int, default=8192)
    parser.add_argument("--new", type=int, default=64)
    parser.add_argument("--lines", type=int, default=30)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    shape = dummy_shape(args.shape)
    engine = LLMEngine(EngineConfig(model=f"dummy:{args.shape}", dtype="bfloat16",
                                    device="cuda" if torch.cuda.is_available() else "cpu",
                                    max_num_seqs=256, max_batch_tokens=8192))
    rng = random.Random(0)
    report = [f"# step profile: {args.shape}, command: python {' '.join(sys.argv)}\n"]
    prompt = [rng.randrange(10, shape.vocab_size - 10) for _ in range(512)]
    seconds, steps, text = profiled(engine, [prompt], args.new, args.lines)
    report.append(f"## batch-1: {steps} steps, {1e3 * seconds / steps:.3f} ms/step\n{text}")
    if torch.cuda.is_available():
        report.append(device_time(engine, [prompt], args.new))
        report.append(synchronizing_calls(engine, [prompt], args.new))
        report.append(host_breakdown(engine, [prompt], args.new))
    prefix = [rng.randrange(10, shape.vocab_size - 10) for _ in range(args.prefix)]
    handle = engine.prefill(prefix)
    prompts = [prefix + [rng.randrange(10, shape.vocab_size - 10)] for _ in range(args.branches)]
    for cascade in (True, False):
        engine.runner.attention_backend.use_cascade = cascade
        seconds, steps, text = profiled(engine, prompts, args.new, args.lines)
        report.append(f"## shared prefix {args.branches} x {args.prefix}, cascade={cascade}: "
                      f"{steps} steps, {1e3 * seconds / steps:.3f} ms/step\n{text}")
        if torch.cuda.is_available():
            report.append(device_time(engine, prompts, args.new))
            report.append(synchronizing_calls(engine, prompts, args.new))
            report.append(host_breakdown(engine, prompts, args.new))
    engine.release(handle)
    args.out.write_text("\n".join(report))
    print("\n".join(report))


if __name__ == "__main__":
    main()
