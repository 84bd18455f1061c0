"""Where the host's time goes in one run of a workload's batch: cProfile over the event loop's
thread (the executor, rendering hand-offs, the engine client) while the engine thread runs the
model, after one unprofiled run has warmed everything.

    python benchmarks/workflow_profile.py --device cuda --dtype bfloat16 \
        --model dummy:llama-3-8b --tokenizer TOKENIZER_DIR --workloads few_shot_classify \
        --modes A B --out profile.txt
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fixed_length import FixedLengthEngine  # noqa: E402
from workflow_bench import SCHEDULES, make_engines, run_executor  # noqa: E402
from workloads import Workload, workloads  # noqa: E402

import flowc  # noqa: E402
from compiler import Plan  # noqa: E402
from executor import ToolRegistry  # noqa: E402
from graph import load  # noqa: E402

TOP = 45


def profile_run(engine: FixedLengthEngine, plan: Plan, tools: ToolRegistry, workload: Workload,
                mode: str, report: io.StringIO) -> None:
    """One warm run of the workload's batch in `mode`, then one under cProfile."""

    def once() -> float:
        asyncio.run(engine.inner.clear_prefix_cache())
        started = time.perf_counter()
        asyncio.run(run_executor(engine, plan, tools, SCHEDULES[mode], workload.instances, 0))
        return time.perf_counter() - started

    warm = once()
    profile = cProfile.Profile()
    profile.enable()
    profiled = once()
    profile.disable()
    report.write(f"# {workload.name} ({len(workload.instances)} instances), mode {mode}: "
                 f"{warm:.2f} s unprofiled, {profiled:.2f} s profiled\n")
    for order in ("tottime", "cumulative"):
        pstats.Stats(profile, stream=report).sort_stats(order).print_stats(TOP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--model", default="default")
    parser.add_argument("--tokenizer", default=None)
    parser.add_argument("--size", choices=("full", "small"), default="full")
    parser.add_argument("--workloads", nargs="*", default=None)
    parser.add_argument("--modes", nargs="+", choices=sorted(SCHEDULES), default=["A"])
    parser.add_argument("--num-pages", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    engine = make_engines(args, ["A"])["A"]
    assert isinstance(engine, FixedLengthEngine)
    tools = flowc.make_tools([ROOT / "examples" / "tools.py"])
    report = io.StringIO()
    try:
        for workload in workloads(args.size, args.workloads):
            plan = flowc.compile(load(workload.workflow), engine.tokenizer)
            for mode in args.modes:
                profile_run(engine, plan, tools, workload, mode, report)
    finally:
        engine.close()
    text = report.getvalue()
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
