"""One workflow run several times in one process on one engine: the first run against the
later ones (one-time work inside the serving path shows as the difference), and each run's
EXPLAIN ANALYZE with its mean decode step per llm node.

    python benchmarks/workflow_repeat.py examples/graphs/tree_of_thoughts.json \\
        --model dummy:llama-3-8b --tokenizer TOKENIZER_DIR --runs 3 --out OUT.md
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import flowc  # noqa: E402
from executor import RunResult, WorkflowRuntime, explain_run  # noqa: E402
from graph import load  # noqa: E402


def decode_steps_ms(result: RunResult) -> dict[str, float]:
    """Per llm call that generated more than one token: decode seconds per token after the
    first, in ms."""
    return {n.node_id: n.decode_s / (n.generated_tokens - 1) * 1e3
            for n in result.trace.nodes if n.generated_tokens > 1 and n.decode_s}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workflow", type=Path)
    parser.add_argument("--model", default="default")
    parser.add_argument("--tokenizer", default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    options = {"tokenizer": args.tokenizer} if args.tokenizer else {}
    started = time.perf_counter()
    engine = flowc.make_engine(args.model, **options)
    lines = [f"# {args.workflow.name} run {args.runs} times on {args.model}", "",
             f"- command: `python {' '.join(sys.argv)}`",
             f"- engine start: {time.perf_counter() - started:.1f} s", ""]
    try:
        plan = flowc.compile(load(args.workflow), engine.tokenizer)
        runtime = WorkflowRuntime(engine, flowc.make_tools([ROOT / "examples" / "tools.py"]))
        for index in range(args.runs):
            began = time.perf_counter()
            result = asyncio.run(runtime.run(plan, {}))
            steps = decode_steps_ms(result)
            mean = sum(steps.values()) / len(steps) if steps else 0.0
            lines += [f"## run {index + 1}: {result.status} in "
                      f"{time.perf_counter() - began:.2f} s; mean decode step {mean:.2f} ms", "",
                      "```", explain_run(plan, result.trace).rstrip(), "```", ""]
    finally:
        engine.close()
    text = "\n".join(lines) + "\n"
    if args.out is not None:
        args.out.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
