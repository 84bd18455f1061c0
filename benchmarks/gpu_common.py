"""Shared pieces of the GPU benchmarks: environment record, copy bandwidth, timing, output."""

from __future__ import annotations

import datetime
import json
import platform
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import torch


def environment() -> dict:
    import transformers
    import triton

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        name, sms, memory = props.name, props.multi_processor_count, props.total_memory
    else:
        name, sms, memory = "cpu (Triton interpreter)", 0, 0
    return {
        "device": name,
        "sms": sms,
        "memory_gib": round(memory / 2**30, 1),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python " + shlex.join(sys.argv),
    }


def median_ms(fn: Callable[[], object], warmup_ms: int = 25, rep_ms: int = 100) -> float:
    """Median time of fn in milliseconds, with CUDA events, L2 flushed between calls (on the
    CPU: one timed call, for smoke runs only)."""
    import time

    import triton.testing

    if not torch.cuda.is_available():
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) * 1e3

    return float(triton.testing.do_bench(fn, warmup=warmup_ms, rep=rep_ms, return_mode="median"))


def graph_ms(fn: Callable[[], object], rep_ms: int = 100) -> float:
    """Median time of fn in milliseconds replayed from a CUDA graph (no launch overhead, no
    L2 flush: callers rotate over inputs larger than L2)."""
    import triton.testing

    if not torch.cuda.is_available():
        return median_ms(fn)
    return float(triton.testing.do_bench_cudagraph(fn, rep=rep_ms, return_mode="median"))


def copy_bandwidth_gbs(num_bytes: int = 2 << 30) -> float:
    """Device-to-device copy bandwidth, counting bytes read plus bytes written."""
    ms = _copy_ms(num_bytes)
    torch.cuda.empty_cache()
    return 2 * num_bytes / (ms * 1e-3) / 1e9


def _copy_ms(num_bytes: int) -> float:
    src = torch.empty(num_bytes // 2, dtype=torch.bfloat16, device="cuda").normal_()
    dst = torch.empty_like(src)
    return median_ms(lambda: dst.copy_(src), rep_ms=200)


def write_results(path: Path, results: dict, markdown: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    path.with_suffix(".md").write_text(markdown)


def table(headers: list[str], rows: list[list]) -> str:
    def cell(x) -> str:
        return f"{x:.4g}" if isinstance(x, float) else str(x)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def env_markdown(env: dict) -> str:
    return (
        f"- device: {env['device']} ({env['sms']} SMs, {env['memory_gib']} GiB)\n"
        f"- torch {env['torch']}, triton {env['triton']}, transformers {env['transformers']}, "
        f"Python {env['python']}\n- date: {env['date']}\n- command: `{env['command']}`\n"
    )
