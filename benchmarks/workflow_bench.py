"""Workflows run with the plan honoured against the plain orchestrator baseline, one run.

    python benchmarks/workflow_bench.py --device cpu [--examples soar_triage debate]

For each example graph: flowc (eager prefill and pins of the plan's prefix groups, parallel
branches batched, prefix cache on) and the baseline `flowc run --no-plan-opt` would run (one
node at a time, no eager prefill, prefix cache off), on two engines over the same loaded
weights, greedy, with the same capped token budgets. Reports wall time, prompt tokens
computed, tokens served from the cache, engine steps and whether the outputs agree. Writes
benchmarks/results/workflow_bench_<device>.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import flowc  # noqa: E402
from engine import AsyncEngine, EngineConfig  # noqa: E402
from executor import Executor  # noqa: E402
from graph import load  # noqa: E402


def capped(spec: dict[str, Any], max_tokens: int) -> dict[str, Any]:
    """The workflow with every free-text llm call capped to `max_tokens` new tokens."""
    spec = copy.deepcopy(spec)

    def walk(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            free = not any(node.get(k) is not None for k in ("regex", "json_schema", "choices"))
            if node.get("type") == "llm" and free:
                default = (spec.get("defaults") or {}).get("max_tokens") or 256
                node["max_tokens"] = min(node.get("max_tokens") or default, max_tokens)
            if node.get("type") == "map":
                walk(node["body"]["nodes"])

    walk(spec["nodes"])
    return spec


async def run_once(engine: AsyncEngine, plan: Any, tools: Any, optimize: bool) -> dict[str, Any]:
    executor = Executor(plan, engine, tools, optimize=optimize)
    started = time.perf_counter()
    result = await executor.run({})
    seconds = time.perf_counter() - started
    trace = result.trace
    return {
        "status": result.status,
        "error": result.error,
        "seconds": round(seconds, 3),
        "prompt_tokens": trace.prompt_tokens,
        "prefill_computed": trace.prefill_computed,
        "cached_tokens": trace.cached_tokens,
        "generated_tokens": trace.generated_tokens,
        "engine_steps": trace.engine_steps,
        "predicted_saving": trace.predicted_saving,
        "outputs": result.outputs,
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    settings = {"model": args.model, "device": args.device, "dtype": args.dtype, "seed": 0,
                "tokenizer": args.tokenizer}
    if args.device.startswith("cuda"):
        settings["num_pages"] = 4096  # two engines share the GPU's memory
    planned_engine = AsyncEngine(EngineConfig(**settings))
    baseline_engine = AsyncEngine(EngineConfig(**settings, enable_prefix_cache=False),
                                  loaded=planned_engine.engine.loaded)
    tools = flowc.make_tools([ROOT / "examples" / "tools.py"])
    paths = sorted((ROOT / "examples" / "graphs").glob("*.json"))
    if args.examples:
        paths = [p for p in paths if p.stem in args.examples]
    rows = []
    try:
        for index, path in enumerate(paths):
            workflow = load(capped(json.loads(path.read_text(encoding="utf-8")),
                                   args.max_tokens))
            plan = flowc.compile(workflow, planned_engine.tokenizer)
            order = [True, False] if index % 2 == 0 else [False, True]
            results = {}
            for optimize in order:
                engine = planned_engine if optimize else baseline_engine
                results[optimize] = asyncio.run(run_once(engine, plan, tools, optimize))
            planned, baseline = results[True], results[False]
            row = {"workflow": path.stem, "planned": planned, "baseline": baseline,
                   "same_outputs": planned["outputs"] == baseline["outputs"]}
            rows.append(row)
            print(_line(row), flush=True)
    finally:
        planned_engine.close()
        baseline_engine.close()
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": args.device,
        "model": planned_engine.model_name,
        "dtype": args.dtype,
        "max_tokens_free_text": args.max_tokens,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        "rows": rows,
    }


def _line(row: dict[str, Any]) -> str:
    p, b = row["planned"], row["baseline"]
    return (f"{row['workflow']:<20} planned {p['seconds']:7.2f} s, {p['prefill_computed']:5d} "
            f"prefilled, {p['engine_steps']:4d} steps | baseline {b['seconds']:7.2f} s, "
            f"{b['prefill_computed']:5d} prefilled, {b['engine_steps']:4d} steps | "
            f"speed-up {b['seconds'] / max(p['seconds'], 1e-9):.2f}x | "
            f"same outputs: {row['same_outputs']}")


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Workflow benchmark ({report['device']}, {report['model']}, {report['dtype']})",
        "",
        f"{report['date']}; {report['machine']}; free-text calls capped at "
        f"{report['max_tokens_free_text']} new tokens; greedy.",
        "",
        "| workflow | planned s | baseline s | speed-up | prefilled planned | prefilled baseline "
        "| cached planned | steps planned | steps baseline | same outputs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        p, b = row["planned"], row["baseline"]
        lines.append(
            f"| {row['workflow']} | {p['seconds']:.2f} | {b['seconds']:.2f} | "
            f"{b['seconds'] / max(p['seconds'], 1e-9):.2f}x | {p['prefill_computed']} | "
            f"{b['prefill_computed']} | {p['cached_tokens']} | {p['engine_steps']} | "
            f"{b['engine_steps']} | {'yes' if row['same_outputs'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--model", default="default")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--tokenizer", default=None,
                        help="a tokenizer folder for a dummy:SHAPE model (flowc export-tokenizer)")
    parser.add_argument("--examples", nargs="*", default=None)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    report = bench(args)
    if not args.no_write:
        out = args.out_dir
        out.mkdir(parents=True, exist_ok=True)
        stem = f"workflow_bench_{args.device.split(':')[0]}"
        (out / f"{stem}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        (out / f"{stem}.md").write_text(markdown(report))
    sys.stdout.write(markdown(report))


if __name__ == "__main__":
    main()
