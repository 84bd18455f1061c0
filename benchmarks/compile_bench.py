"""Compile time of generated workflows of 100, 1,000 and 10,000 nodes.

Usage: python benchmarks/compile_bench.py [--sizes 100,1000,10000] [--repeat 3] [--markdown OUT]

A generated workflow is layered like real ones: waves of up to 8 parallel nodes, each node
wired to one or two nodes of the wave before (some edges conditional), llm calls sharing a
few system prompts and instruction texts around dynamic variables, tool and set nodes, and a
map over a list every 50 nodes. Reported: loading (pydantic model), compiling (every pass),
the slowest passes, and the plan's prefix groups and stages, best of `--repeat` runs. CPU
time (process time) is reported beside wall time: on a shared machine it is the better
measure of the compiler's own work.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

SYSTEMS = [
    "You are a security analyst. Be precise, cite the evidence and never guess.",
    "You are a concise technical writer. Use short sentences and plain words.",
    "You are a careful reviewer. Point out every inconsistency you find in the text.",
]
INSTRUCTIONS = [
    "Classify the following text as benign, suspicious or malicious.",
    "Summarize the text below in three bullet points, keeping every number.",
    "Extract every IP address, domain and file hash from the text below.",
    "Write a one-paragraph answer to the question using the notes below.",
]
WIDTH = 8


def generate(size: int, seed: int = 0) -> dict[str, Any]:
    """A valid format-1 workflow with `size` top-level nodes."""
    rng = random.Random(seed)
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    previous: list[int] = []
    index = 0
    while index < size:
        wave = list(range(index, min(size, index + rng.randint(1, WIDTH))))
        for i in wave:
            parents = rng.sample(previous, min(len(previous), rng.randint(1, 2)))
            nodes.append(_node(rng, i, parents))
            for p in parents:
                edge = {"from": f"n{p}", "to": f"n{i}"}
                if rng.random() < 0.1:
                    edge["when"] = f"o{p} != 'skip'"
                edges.append(edge)
        previous, index = wave, wave[-1] + 1
    return {
        "flowc": 1,
        "name": f"generated_{size}",
        "inputs": {
            "doc": {"type": "string", "default": "Alert: 10.0.0.7 failed SSH logins."},
            "items": {"type": "array", "default": ["a", "b", "c", "d"]},
        },
        "nodes": nodes,
        "edges": edges,
    }


def _node(rng: random.Random, i: int, parents: list[int]) -> dict[str, Any]:
    variable = f"o{rng.choice(parents)}" if parents else "doc"
    if i % 50 == 49:
        body = {
            "id": "each",
            "type": "llm",
            "output": f"r{i}",
            "max_tokens": 32,
            "prompt": rng.choice(INSTRUCTIONS) + "\n{{ item }}",
        }
        return {
            "id": f"n{i}",
            "type": "map",
            "over": "items",
            "as": "item",
            "output": f"o{i}",
            "body": {"nodes": [body], "result": "{{ r" + str(i) + " }}"},
        }
    roll = rng.random()
    if roll < 0.15:
        return {
            "id": f"n{i}",
            "type": "tool",
            "tool": "lookup",
            "output": f"o{i}",
            "args": {"query": "{{ " + variable + " }}"},
        }
    if roll < 0.25:
        return {"id": f"n{i}", "type": "set", "assign": {f"o{i}": f"{variable} | upper"}}
    content = rng.choice(INSTRUCTIONS) + "\n{{ " + variable + " }}"
    return {
        "id": f"n{i}",
        "type": "llm",
        "output": f"o{i}",
        "max_tokens": 64,
        "messages": [
            {"role": "system", "content": rng.choice(SYSTEMS)},
            {"role": "user", "content": content},
        ],
    }


def measure(size: int, repeat: int, tokenizer: Any) -> dict[str, Any]:
    import compiler
    from graph.model import Workflow

    data = generate(size)
    best: dict[str, Any] = {}
    for _ in range(repeat):
        passes: dict[str, float] = defaultdict(float)
        start = time.perf_counter()
        workflow = Workflow.model_validate(data)
        loaded, cpu_loaded = time.perf_counter(), time.process_time()
        plan = compiler.compile(workflow, tokenizer, trace=_recorder(passes))
        done, cpu_done = time.perf_counter(), time.process_time()
        if not best or cpu_done - cpu_loaded < best["compile_cpu_s"]:
            best = {
                "size": size,
                "load_s": loaded - start,
                "compile_s": done - loaded,
                "compile_cpu_s": cpu_done - cpu_loaded,
                "passes": dict(passes),
                "groups": len(plan.prefix_groups),
                "stages": len(plan.stages),
                "saved": plan.estimate.prefill_saved,
                "naive": plan.estimate.prefill_tokens_naive,
            }
    return best


def _recorder(passes: dict[str, float]):
    def record(compiler_pass: Any, _ctx: Any, seconds: float) -> None:
        passes[compiler_pass.name] = seconds

    return record


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| nodes | load (s) | compile, CPU (s) | compile, wall (s) | slowest passes (wall s) |"
        " prefix groups | stages | prefill naive → saved |",
        "|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in rows:
        slow = sorted(r["passes"].items(), key=lambda kv: -kv[1])[:3]
        passes = ", ".join(f"{name} {seconds:.3f}" for name, seconds in slow)
        lines.append(
            f"| {r['size']:,} | {r['load_s']:.3f} | {r['compile_cpu_s']:.3f} |"
            f" {r['compile_s']:.3f} | {passes} |"
            f" {r['groups']} | {r['stages']} | {r['naive']:,} → {r['saved']:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args()

    from compiler.tokenizer import load_tokenizer

    start = time.perf_counter()
    tokenizer = load_tokenizer()
    tokenizer_s = time.perf_counter() - start
    rows = [measure(int(s), args.repeat, tokenizer) for s in args.sizes.split(",")]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    header = (
        f"compile_bench: best of {args.repeat}, {os.cpu_count()} CPUs "
        f"({platform.machine()}, load average {load} at the end), "
        f"Python {platform.python_version()}; default tokenizer loaded in {tokenizer_s:.2f} s "
        "(not counted)"
    )
    text = f"{header}\n\n{table(rows)}\n"
    print(text)
    if args.markdown:
        command = "python benchmarks/compile_bench.py " + " ".join(
            f"--{k} {v}" for k, v in (("sizes", args.sizes), ("repeat", args.repeat))
        )
        args.markdown.write_text(f"# Compile benchmark\n\nCommand: `{command}`\n\n{text}")


if __name__ == "__main__":
    main()
