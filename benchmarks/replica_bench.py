"""flowc on engine replicas (Ray actors): throughput by replica count, and plan-aware routing
against round-robin.

    python benchmarks/replica_bench.py --device cpu                      # the embedded model
    python benchmarks/replica_bench.py --device cuda --replicas 1 2 4 \
        --model dummy:llama-3-8b --tokenizer TOKENIZER_DIR               # one replica a GPU

Workloads, each a batch submitted at once:
- triage: the workflow benchmark's soar_triage graph (benchmarks/workloads.py) over
  `--instances` generated alerts (256 on a GPU, 12 on a CPU).
- offline: the engine benchmark's offline shape: `--prompts` independent prompts, each
  decoding exactly `--max-tokens` tokens (EOS ignored), through the OpenAI-facing router.
- routing: `--tenants` copies of the triage graph that differ only in their system prompt
  (distinct prefix groups), instances interleaved; the plan-aware router (affinity by the
  plan's pinned prefix groups, with load balance) against round-robin on the same batch and
  replica count: prefix-cache hit rate and prefill tokens computed, summed over replicas.

Reported: seconds, runs and generated tokens per second, scaling efficiency (throughput at N
replicas over N times the one-replica throughput), hit rates. A row "in-process" runs the
triage batch on one engine without Ray (the cost of the actor hop). Every pool starts cold.
Writes benchmarks/results/replica_bench_<device>[_<model>].{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from workloads import security_alert, workloads  # noqa: E402

import flowc  # noqa: E402
from cluster import (  # noqa: E402
    ClusterRuntime,
    ReplicaPool,
    ReplicaSpec,
    RoutedEngine,
    Router,
    shutdown_ray,
)
from compiler import Plan  # noqa: E402
from engine.api import EngineStats, SamplingParams  # noqa: E402
from executor import WorkflowRuntime  # noqa: E402

Row = dict[str, Any]


def triage_batch(size: str, instances: int, tenants: int = 1
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`tenants` variants of the soar_triage graph and `instances` alerts: (graphs, inputs);
    instance i runs graph i % tenants."""
    [workload] = workloads("full" if size == "full" else "small", ["soar_triage"])
    rng = random.Random(2020)
    alerts = [{"alert": security_alert(rng, n)} for n in range(1, instances + 1)]
    return [_tenant(workload.workflow, t) for t in range(tenants)], alerts


def _tenant(workflow: dict[str, Any], tenant: int) -> dict[str, Any]:
    graph = copy.deepcopy(workflow)
    graph["name"] = f"{graph['name']}_t{tenant}"
    for node in graph["nodes"]:
        for message in node.get("messages", []):
            if message["role"] == "system":
                message["content"] = f"Tenant {tenant}. {message['content']}"
    return graph


def offline_prompts(tokenizer: Any, count: int) -> list[list[int]]:
    topics = ["the sea", "a lighthouse", "the night shift", "a firewall", "the harvest",
              "a train station", "the first snow", "an old library"]
    texts = [f"Write a short story about {topics[i % len(topics)]} (number {i})."
             for i in range(count)]
    chats = [tokenizer.apply_chat_template([{"role": "user", "content": t}],
                                           add_generation_prompt=True, tokenize=False)
             for t in texts]
    return [tokenizer(chat, add_special_tokens=False)["input_ids"] for chat in chats]


async def run_plans(runtime: Any, plans: list[Plan], inputs: list[dict[str, Any]]
                    ) -> tuple[float, int]:
    started = time.perf_counter()
    results = await asyncio.gather(*(runtime.run(plans[i % len(plans)], values, seed=i)
                                     for i, values in enumerate(inputs)))
    seconds = time.perf_counter() - started
    failed = [r.error for r in results if r.status != "succeeded"]
    if failed:
        raise RuntimeError(f"{len(failed)} runs failed, e.g. {failed[0]}")
    return seconds, sum(r.trace.generated_tokens for r in results)


async def in_process(spec: ReplicaSpec, size: str, instances: int) -> Row:
    engine = flowc.make_engine(spec.model, seed=spec.seed, device=spec.device,
                               **({"tokenizer": spec.tokenizer} if spec.tokenizer else {}))
    try:
        graphs, inputs = triage_batch(size, instances)
        plan = flowc.compile(graphs[0], engine.tokenizer)
        seconds, tokens = await run_plans(WorkflowRuntime(engine), [plan], inputs)
        stats = engine.stats()
        return _row("in-process", 1, "triage", seconds, len(inputs), tokens,
                    stats.prompt_tokens, stats.cached_tokens)
    finally:
        engine.close()


async def on_pool(spec: ReplicaSpec, replicas: int, cpus: int, args: argparse.Namespace
                  ) -> list[Row]:
    """The triage and offline batches on a fresh pool of `replicas`."""
    pool = ReplicaPool(spec, replicas, args.ray_address, num_cpus=cpus)
    await pool.start()
    try:
        rows = []
        graphs, inputs = triage_batch(args.size, args.instances)
        plan = flowc.compile(graphs[0], pool.describe["tokenizer"])
        before = await _totals(pool)
        seconds, tokens = await run_plans(ClusterRuntime(pool), [plan], inputs)
        rows.append(_pool_row(pool, before, await _totals(pool), "triage", seconds,
                              len(inputs), tokens))
        engine = RoutedEngine(pool)
        prompts = offline_prompts(engine.tokenizer, args.prompts)
        sampling = SamplingParams(max_tokens=args.max_tokens, ignore_eos=True)
        before = await _totals(pool)
        started = time.perf_counter()
        done = await asyncio.gather(*(engine.generate(p, sampling) for p in prompts))
        seconds = time.perf_counter() - started
        rows.append(_pool_row(pool, before, await _totals(pool), "offline", seconds,
                              len(prompts), sum(len(g.token_ids) for g in done)))
        return rows
    finally:
        await pool.shutdown()


async def routing(spec: ReplicaSpec, replicas: int, cpus: int, args: argparse.Namespace,
                  affinity: bool) -> Row:
    pool = ReplicaPool(spec, replicas, args.ray_address, router=Router(affinity=affinity),
                       num_cpus=cpus)
    await pool.start()
    try:
        graphs, inputs = triage_batch(args.size, args.instances, args.tenants)
        plans = [flowc.compile(g, pool.describe["tokenizer"]) for g in graphs]
        before = await _totals(pool)
        seconds, tokens = await run_plans(ClusterRuntime(pool), plans, inputs)
        row = _pool_row(pool, before, await _totals(pool),
                        "routing: plan affinity" if affinity else "routing: round-robin",
                        seconds, len(inputs), tokens)
        return row
    finally:
        await pool.shutdown()


async def _totals(pool: ReplicaPool) -> EngineStats:
    await pool.refresh_stats()
    return pool.stats()


def _pool_row(pool: ReplicaPool, before: EngineStats, after: EngineStats, workload: str,
              seconds: float, count: int, tokens: int) -> Row:
    return _row(f"{pool.size} replica(s)", pool.size, workload, seconds, count, tokens,
                after.prompt_tokens - before.prompt_tokens,
                after.cached_tokens - before.cached_tokens)


def _row(label: str, replicas: int, workload: str, seconds: float, count: int, tokens: int,
         prompt_tokens: int, cached_tokens: int) -> Row:
    return {"setup": label, "replicas": replicas, "workload": workload,
            "seconds": round(seconds, 3), "items": count,
            "items_per_s": round(count / seconds, 3),
            "generated_tokens": tokens, "tokens_per_s": round(tokens / seconds, 1),
            "prompt_tokens": prompt_tokens, "cached_tokens": cached_tokens,
            "prefill_computed": prompt_tokens - cached_tokens,
            "hit_rate": round(cached_tokens / prompt_tokens, 4) if prompt_tokens else 0.0}


def add_efficiency(rows: list[Row]) -> None:
    """Scaling efficiency: throughput at N replicas over N times the 1-replica throughput."""
    base = {r["workload"]: r["tokens_per_s"] for r in rows
            if r["replicas"] == 1 and r["setup"] != "in-process"}
    for row in rows:
        one = base.get(row["workload"])
        if one and row["setup"] != "in-process":
            row["scaling_efficiency"] = round(row["tokens_per_s"] / (row["replicas"] * one), 3)


def markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    lines = [f"# Replica benchmark ({meta['device']}, {meta['model']})", "",
             f"{meta['cpus']} CPUs, {meta['gpus']} GPUs, Python {meta['python']}; "
             f"{meta['instances']} triage instances ({meta['size']}), {meta['prompts']} "
             f"offline prompts x {meta['max_tokens']} tokens, {meta['tenants']} tenants in "
             "the routing batch.", "",
             "| setup | workload | s | items/s | gen tok/s | scaling eff. | prefix hit rate | "
             "prefill computed |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['setup']} | {r['workload']} | {r['seconds']} | {r['items_per_s']} "
                     f"| {r['tokens_per_s']} | {r.get('scaling_efficiency', '')} "
                     f"| {r['hit_rate']:.1%} | {r['prefill_computed']} |")
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> None:
    spec = ReplicaSpec(model=args.model, tokenizer=args.tokenizer, device=args.device)
    cpus = args.cpus or max(args.replicas)
    rows = [await in_process(spec, args.size, args.instances)]
    print(json.dumps(rows[-1]), flush=True)
    for count in args.replicas:
        rows += await on_pool(spec, count, cpus, args)
        print(json.dumps(rows[-2:]), flush=True)
    largest = max(args.replicas)
    if largest > 1:
        for affinity in (True, False):
            rows.append(await routing(spec, largest, cpus, args, affinity))
            print(json.dumps(rows[-1]), flush=True)
    shutdown_ray()
    add_efficiency(rows)
    import torch

    meta = {"device": args.device, "model": args.model, "size": args.size,
            "instances": args.instances, "prompts": args.prompts,
            "max_tokens": args.max_tokens, "tenants": args.tenants,
            "cpus": os.cpu_count(), "gpus": torch.cuda.device_count(),
            "python": platform.python_version(),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    name = f"replica_bench_{args.device}" + (
        f"_{args.model.split(':', 1)[1]}" if args.model.startswith("dummy:") else "")
    out = ROOT / "benchmarks" / "results"
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    (out / f"{name}.md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--replicas", type=int, nargs="+", default=None,
                        help="replica counts to measure [cpu: 1 2; cuda: 1 2 4]")
    parser.add_argument("--model", default="default")
    parser.add_argument("--tokenizer", default=None, help="tokenizer folder for dummy:SHAPE")
    parser.add_argument("--instances", type=int, default=None,
                        help="triage runs [cpu: 12, cuda: 256]")
    parser.add_argument("--prompts", type=int, default=None,
                        help="offline prompts [cpu: 16, cuda: 1024]")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="offline tokens per prompt [cpu: 8, cuda: 256]")
    parser.add_argument("--tenants", type=int, default=None, help="[cpu: 3, cuda: 8]")
    parser.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray")
    parser.add_argument("--ray-address", default=None)
    args = parser.parse_args(argv)
    gpu = args.device == "cuda"
    args.size = "full" if gpu else "small"
    args.replicas = args.replicas or ([1, 2, 4] if gpu else [1, 2])
    args.instances = args.instances or (256 if gpu else 12)
    args.prompts = args.prompts or (1024 if gpu else 16)
    args.max_tokens = args.max_tokens or (256 if gpu else 8)
    args.tenants = args.tenants or (8 if gpu else 3)
    if gpu and args.tokenizer is not None:
        args.tokenizer = str(Path(args.tokenizer).resolve())
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
