"""Workflows at realistic sizes, flowc's compiled plan against what users would run instead.

    python benchmarks/workflow_bench.py --device cuda --dtype bfloat16 \
        --model dummy:llama-3-8b --tokenizer TOKENIZER_DIR --modes A B B-df B-LG C
    python benchmarks/workflow_bench.py --device cpu --size small     # the embedded model

Workloads: `benchmarks/workloads.py`. Modes, all on the same weights, every free-text call
decoding exactly its `max_tokens` (EOS ignored), every run starting from a cold prefix cache:
- A: flowc, the compiled plan (eager prefill and pins of prefix groups, speculation,
  priorities, dataflow readiness).
- B: the strongest fair baseline, LangGraph's superstep model in front of a prefix-caching
  server: the same engine with its radix cache (shared pages, cascade attention), every node
  of a superstep submitted at once, none of the plan's features.
- B-df: B with dataflow readiness instead of supersteps.
- B-LG: real LangGraph driving the workflow through flowc's OpenAI-compatible server (same
  engine, in this process).
- C: each node in turn with transformers `generate` (no KV reuse).
Each mode runs `--runs` times (median reported; A's first run is the first time the process
sees the workload). Writes benchmarks/results/workflow_bench_<device>[_<model>].{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from compile_watch import CompileWatch  # noqa: E402
from fixed_length import FixedLengthEngine  # noqa: E402
from gc_watch import GcWatch  # noqa: E402
from least_prefill import PrefillFloor  # noqa: E402
from workloads import Workload, workloads  # noqa: E402

import flowc  # noqa: E402
from compiler import Plan  # noqa: E402
from engine import AsyncEngine, EngineConfig  # noqa: E402
from engine.api import EngineAPI  # noqa: E402
from executor import RunResult, Schedule, ToolRegistry, WorkflowRuntime, explain_run  # noqa: E402
from graph import load  # noqa: E402

MODES = ("A", "B", "B-df", "B-LG", "C")
SCHEDULES = {"A": Schedule.PLANNED, "B": Schedule.SUPERSTEP, "B-df": Schedule.DATAFLOW,
             "C": Schedule.SEQUENTIAL}
Measurement = dict[str, Any]
ENGINE_START: dict[str, float] = {}  # flowc's engine start, its warm-up traffic included


# -- one measurement ---------------------------------------------------------------------------
async def run_executor(engine: EngineAPI, plan: Plan, tools: ToolRegistry, schedule: Schedule,
                       instances: Sequence[dict[str, Any]], seed: int) -> Measurement:
    """Every instance of the workload at once on a fresh runtime; the engine's counters
    before and after give what was computed."""
    runtime = WorkflowRuntime(engine, tools, schedule)
    floor = PrefillFloor(engine.page_size)
    if isinstance(engine, FixedLengthEngine):
        engine.floor = floor
    before = engine.stats()
    started = time.perf_counter()
    try:
        results = await asyncio.gather(*(runtime.run(plan, i, seed=seed) for i in instances))
    finally:
        if isinstance(engine, FixedLengthEngine):
            engine.floor = None
    seconds = time.perf_counter() - started
    measured = _measurement(seconds, engine, before, [r.outputs for r in results],
                            [r.status for r in results], results)
    measured["least_prefill"] = floor.tokens()
    measured["results"] = results
    return measured


async def run_langgraph(engine: AsyncEngine, workload: Workload, tools: ToolRegistry,
                        base_url: str) -> Measurement:
    from langgraph_mode import run_langgraph as drive

    before = engine.stats()
    started = time.perf_counter()
    outputs = await drive(workload.workflow, workload.instances, base_url, tools, True)
    seconds = time.perf_counter() - started
    return _measurement(seconds, engine, before, outputs, ["succeeded"] * len(outputs), [])


def _measurement(seconds: float, engine: EngineAPI, before: Any, outputs: list[dict[str, Any]],
                 statuses: list[str], results: Sequence[RunResult]) -> Measurement:
    after = engine.stats()
    prompt = after.prompt_tokens - before.prompt_tokens
    cached = after.cached_tokens - before.cached_tokens
    errors = sorted({r.error for r in results if r.error})
    return {
        "seconds": round(seconds, 3),
        "succeeded": statuses.count("succeeded"),
        "errors": errors[:3],
        "prompt_tokens": prompt,
        "prefill_computed": prompt - cached,
        "cache_hit_rate": round(cached / prompt, 4) if prompt else 0.0,
        "generated_tokens": after.generated_tokens - before.generated_tokens,
        "engine_steps": after.steps - before.steps,
        "decode_step_ms": _decode_step_ms(results),
        "outputs": outputs,
    }


def _decode_step_ms(results: Sequence[RunResult]) -> float | None:
    """Token-weighted mean time between a call's generated tokens, over every free-text call."""
    seconds = tokens = 0.0
    for result in results:
        for node in result.trace.llm_calls:
            if node.generated_tokens > 1 and node.decode_s:
                seconds += node.decode_s
                tokens += node.generated_tokens - 1
    return round(seconds / tokens * 1e3, 3) if tokens else None


# -- a workload in every mode ------------------------------------------------------------------
def predicted_prefill(plan: Plan, instances: int) -> int:
    """The plan's prefill optimum for `instances` concurrent runs: each run's planned prefill,
    with the calls' static prompt heads (the same in every run) computed once in all."""
    return instances * plan.estimate.prefill_tokens_planned - (instances - 1) * _static_union(plan)


def _static_union(plan: Plan) -> int:
    """Tokens in the union (as a prefix tree) of every call's leading static tokens."""
    heads = []
    for step in plan.walk():
        if step.call is None:
            continue
        head: list[int] = []
        for segment in step.call.segments:
            if segment.kind != "static":
                break
            head += segment.token_ids
        heads.append(tuple(head))
    heads.sort()
    total, previous = 0, ()
    for head in heads:
        pairs = enumerate(zip(head, previous, strict=False))
        common = next((i for i, (a, b) in pairs if a != b), min(len(head), len(previous)))
        total += len(head) - common
        previous = head
    return total


def bench_workload(workload: Workload, modes: Sequence[str], engines: dict[str, EngineAPI],
                   tools: ToolRegistry, args: argparse.Namespace,
                   base_url: str | None) -> dict[str, Any]:
    plan = flowc.compile(load(workload.workflow), engines["A"].tokenizer)
    plans = {"C": flowc.compile(load(workload.workflow), engines["C"].tokenizer)
             } if "C" in modes else {}
    runs: dict[str, list[Measurement]] = {m: [] for m in modes}
    for index in range(args.runs):
        order = list(modes) if index == 0 else list(modes[index % len(modes):]) + list(
            modes[:index % len(modes)])
        for mode in order:
            if mode == "C" and index >= args.c_runs:
                continue
            runs[mode].append(_run_mode(mode, workload, plans.get(mode, plan), engines, tools,
                                        args, base_url))
            print(f"  {workload.name:<18} {mode:<5} run {index + 1}: "
                  f"{runs[mode][-1]['seconds']:8.2f} s (collector {runs[mode][-1]['gc_s']:.2f} s)",
                  flush=True)
    return _summary(workload, plan, runs)


def _run_mode(mode: str, workload: Workload, plan: Plan, engines: dict[str, EngineAPI],
              tools: ToolRegistry, args: argparse.Namespace, base_url: str | None
              ) -> Measurement:
    engine = engines[mode]
    inner = engine.inner if isinstance(engine, FixedLengthEngine) else engine
    instances = workload.instances
    if mode == "C":
        instances = instances[:args.c_instances]
    if isinstance(inner, AsyncEngine):
        _sync(inner.clear_prefix_cache())
    with (CompileWatch(inner.engine if isinstance(inner, AsyncEngine) else None) as watch,
          GcWatch() as collector):
        if mode == "B-LG":
            assert base_url is not None and isinstance(inner, AsyncEngine)
            measured = _sync(run_langgraph(inner, workload, tools, base_url))
        else:
            measured = _sync(run_executor(engine, plan, tools, SCHEDULES[mode], instances,
                                          args.seed))
    measured["compiled"] = list(watch.compiled)
    measured["graphs_captured"] = watch.graphs_captured
    measured["gc_s"] = round(collector.seconds, 3)
    measured["gc_full"] = collector.full_collections
    if mode == "B-LG":
        return measured
    measured["instances"] = len(instances)
    if args.explain_dir is not None and mode != "C":
        args.explain_dir.mkdir(parents=True, exist_ok=True)
        run = sum(1 for _ in args.explain_dir.glob(f"{workload.name}_{mode}_*.txt")) + 1
        text = explain_run(plan, measured.pop("results")[0].trace)
        (args.explain_dir / f"{workload.name}_{mode}_{run}.txt").write_text(text)
    measured.pop("results", None)
    return measured


def _sync(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coroutine)


def _summary(workload: Workload, plan: Plan, runs: dict[str, list[Measurement]]
             ) -> dict[str, Any]:
    count = len(workload.instances)
    reference = runs["A"][0]["outputs"] if "A" in runs else None
    modes = {}
    for mode, measured in runs.items():
        if not measured:
            continue
        seconds = [m["seconds"] for m in measured]
        median = statistics.median(seconds)
        done = measured[0].get("instances", count)
        per_run = median if done == count else median * count / done  # C: a sample, scaled
        last = measured[-1]
        modes[mode] = {
            "seconds": seconds,
            "median_s": round(per_run, 3),
            "sampled_instances": done if done != count else None,
            "instances_per_min": round(60 * done / median, 1),
            "succeeded": f"{last['succeeded']}/{done}",
            "errors": last["errors"],
            "prefill_computed": last["prefill_computed"] * count // done,
            "least_prefill": (last["least_prefill"] * count // done
                              if "least_prefill" in last else None),
            "prompt_tokens": last["prompt_tokens"] * count // done,
            "cache_hit_rate": last["cache_hit_rate"],
            "generated_tokens": last["generated_tokens"] * count // done,
            "engine_steps": last["engine_steps"],
            "decode_step_ms": last["decode_step_ms"],
            "same_outputs_as_A": _agreement(reference, last["outputs"]),
            "compiles_per_run": [len(m.get("compiled", ())) for m in measured],
            "graph_captures_per_run": [m.get("graphs_captured", 0) for m in measured],
            "compiled_first_run": measured[0].get("compiled", []),
            "gc_s_per_run": [m.get("gc_s") for m in measured],
            "gc_full_per_run": [m.get("gc_full") for m in measured],
        }
    return {
        "workload": workload.name,
        "description": workload.description,
        "instances": count,
        "prefix_heavy": workload.prefix_heavy,
        "predicted_prefill": predicted_prefill(plan, count),
        "predicted_prefill_naive": count * plan.estimate.prefill_tokens_naive,
        "modes": modes,
    }


def _agreement(reference: list[dict[str, Any]] | None, outputs: list[dict[str, Any]]
               ) -> float | None:
    if reference is None:
        return None
    same = sum(a == b for a, b in zip(reference, outputs, strict=False))
    return round(same / len(outputs), 3) if outputs else None


# -- engines and the OpenAI server ---------------------------------------------------------------
def make_engines(args: argparse.Namespace, modes: Sequence[str]) -> dict[str, EngineAPI]:
    settings: dict[str, Any] = {"model": args.model, "device": args.device, "dtype": args.dtype,
                                "seed": 0, "tokenizer": args.tokenizer}
    if args.num_pages:
        settings["num_pages"] = args.num_pages
    started = time.perf_counter()
    engine = FixedLengthEngine(AsyncEngine(EngineConfig(**settings)))
    ENGINE_START["seconds"] = round(time.perf_counter() - started, 1)
    ENGINE_START["warm_up_seconds"] = round(engine.inner.engine.warmup_s, 1)
    engines: dict[str, EngineAPI] = {m: engine for m in modes if m != "C"}
    engines.setdefault("A", engine)
    if "C" in modes:
        from transformers_engine import TransformersEngine

        if args.model.startswith("dummy:"):
            hf = TransformersEngine.from_dummy(args.model.removeprefix("dummy:"), args.device,
                                               args.dtype, args.tokenizer)
        else:
            loaded = engine.inner.engine.loaded  # type: ignore[attr-defined]
            hf = TransformersEngine.from_folder(loaded.folder, args.device, args.dtype)
        engines["C"] = FixedLengthEngine(hf)
    return engines


def serve_in_thread(engine: AsyncEngine, tools_file: Path) -> tuple[str, Callable[[], None]]:
    """flowc's HTTP service over `engine` on a free loopback port; returns its /v1 URL and a
    stopper."""
    import socket
    import tempfile
    import threading

    import uvicorn

    from web.app import create_app
    from web.settings import Settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="flowc-bench-")
    settings = Settings(port=port, database_url=f"sqlite:///{folder}/flowc.db",
                        max_concurrent_runs=4096, tools=[str(tools_file)])
    server = uvicorn.Server(uvicorn.Config(create_app(settings, engine), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)

    return f"http://127.0.0.1:{port}/v1", stop


# -- report ---------------------------------------------------------------------------------------
def bench(args: argparse.Namespace) -> dict[str, Any]:
    modes = [m for m in MODES if m in args.modes]
    engines = make_engines(args, modes)
    tools_file = ROOT / "examples" / "tools.py"
    tools = flowc.make_tools([tools_file])
    base_url, stop = None, None
    if "B-LG" in modes:
        inner = engines["B-LG"]
        assert isinstance(inner, FixedLengthEngine) and isinstance(inner.inner, AsyncEngine)
        base_url, stop = serve_in_thread(inner.inner, tools_file)
    started = time.perf_counter()
    try:
        rows = [bench_workload(w, modes, engines, tools, args, base_url)
                for w in workloads(args.size, args.workloads)]
    finally:
        if stop is not None:
            stop()
        for engine in {id(e): e for e in engines.values()}.values():
            engine.close()
    return {
        "environment": _environment(args),
        "model": engines["A"].model_name,
        "size": args.size,
        "modes": modes,
        "runs": args.runs,
        "bench_seconds": round(time.perf_counter() - started, 1),
        "engine_start": ENGINE_START,
        "rows": rows,
    }


def _environment(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    import transformers

    device = (torch.cuda.get_device_name(0) if args.device.startswith("cuda")
              else f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    commit = args.commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                           capture_output=True, text=True).stdout.strip()
    return {
        "device": device,
        "dtype": args.dtype,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "commit": commit or None,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python " + " ".join(sys.argv),
    }


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = [
        f"# Workflow benchmark: {report['model']} on {env['device']} ({env['dtype']})",
        "",
        f"{env['date']}, commit {env['commit']}, torch {env['torch']}, transformers "
        f"{env['transformers']}; size {report['size']}; median of {report['runs']} runs; "
        "free-text calls decode exactly their max_tokens; every run starts from a cold "
        "prefix cache.",
        "",
        f"Command: `{env['command']}`",
        "",
        "| workload | mode | median s | runs s | instances/min | vs A | prefill computed "
        "(predicted) | least for the prompts sent | cache hits | engine steps | "
        "decode step ms | same outputs as A | compiles, captures per run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        a = row["modes"].get("A")
        for mode, m in row["modes"].items():
            ratio = f"{m['median_s'] / a['median_s']:.2f}x" if a else "-"
            sample = f" ({m['sampled_instances']} sampled)" if m["sampled_instances"] else ""
            runs = ", ".join(f"{s:.2f}" for s in m["seconds"])
            lines.append(
                f"| {row['workload']} ({row['instances']}) | {mode} | {m['median_s']:.2f}"
                f"{sample} | {runs} | {m['instances_per_min']} | {ratio} | "
                f"{m['prefill_computed']} ({row['predicted_prefill']}) | "
                f"{m.get('least_prefill')} | {m['cache_hit_rate']:.0%} | {m['engine_steps']} | "
                f"{m['decode_step_ms']} | "
                f"{m['same_outputs_as_A']} | {_compiles(m)} |")
    return "\n".join(lines) + "\n"


def _compiles(mode: dict[str, Any]) -> str:
    compiles = mode.get("compiles_per_run", [])
    captures = mode.get("graph_captures_per_run", [])
    return ", ".join(f"{a}+{b}" for a, b in zip(compiles, captures, strict=False))


def _open_file_limit() -> None:
    """As many open files as allowed: B-LG holds a client and a server socket per request."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--model", default="default")
    parser.add_argument("--tokenizer", default=None,
                        help="a tokenizer folder for a dummy:SHAPE model (flowc export-tokenizer)")
    parser.add_argument("--size", choices=("full", "small"), default="full")
    parser.add_argument("--workloads", nargs="*", default=None)
    parser.add_argument("--modes", nargs="*", default=["A", "B", "B-df", "C"], choices=MODES)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--c-runs", type=int, default=1, help="runs of the slow mode C")
    parser.add_argument("--c-instances", type=int, default=None,
                        help="instances of a batched workload mode C runs (scaled to the batch)")
    parser.add_argument("--num-pages", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--commit", default=None, help="the commit measured (default: git's)")
    parser.add_argument("--explain-dir", type=Path, default=None,
                        help="write EXPLAIN ANALYZE of each run's first instance here")
    parser.add_argument("--out", type=Path, default=None, help="the .json to write (and .md)")
    args = parser.parse_args()
    _open_file_limit()
    report = bench(args)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        args.out.with_name(args.out.stem + ".md").write_text(markdown(report))
    sys.stdout.write(markdown(report))


if __name__ == "__main__":
    main()
