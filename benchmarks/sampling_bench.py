"""Sampled against greedy decoding on the GPU, one engine, one run.

    python benchmarks/sampling_bench.py --shape llama-3-8b \
        --out benchmarks/results/sampling_gpu_llama-3-8b.json

Offline: `--requests` prompts (lengths `--min-len`..`--max-len`), already in the prefix cache,
each generating `--new-tokens` tokens with EOS ignored, greedy and sampled (temperature 1,
top-p 1, a seed per request, as vLLM's throughput benchmark samples), in alternating runs;
the median of `--repeats` runs of each. Decode steps: milliseconds per step at batch sizes 1,
16 and 64 for greedy, sampled, sampled with top-p 0.9 (the truncating path), and greedy under
a regular expression and under a JSON schema (grammar masks built each step). A `dummy`
shape takes its tokenizer from `--tokenizer DIR` (`flowc export-tokenizer DIR`), else the
default model's. Writes OUT (JSON) and OUT with the suffix .md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpu_common import env_markdown, environment, table, write_results  # noqa: E402
from gpu_engine_bench import random_prompt, timed, workload  # noqa: E402

from engine import EngineConfig, LLMEngine, SamplingParams  # noqa: E402
from engine.models.shapes import dummy_shape  # noqa: E402

NOTES_SCHEMA = {"type": "object", "required": ["notes"],
                "properties": {"notes": {"type": "string", "minLength": 4000}}}

MODES = {
    "greedy": lambda i, n: SamplingParams(max_tokens=n, ignore_eos=True),
    "sampled": lambda i, n: SamplingParams(max_tokens=n, ignore_eos=True, temperature=1.0,
                                           seed=i),
    "sampled top-p 0.9": lambda i, n: SamplingParams(max_tokens=n, ignore_eos=True,
                                                     temperature=1.0, top_p=0.9, seed=i),
    # constrained outputs that cannot end early, so every request decodes all its steps
    "regex": lambda i, n: SamplingParams(max_tokens=n, ignore_eos=True, regex="[a-z ]{4000}"),
    "json schema": lambda i, n: SamplingParams(max_tokens=n, ignore_eos=True,
                                               json_schema=NOTES_SCHEMA),
}
OFFLINE_MODES = ("greedy", "sampled")


def generate(engine: LLMEngine, prompts: list[list[int]], mode: str, new: int) -> float:
    params = [MODES[mode](i, new) for i in range(len(prompts))]
    return timed(lambda: engine.generate(prompts, params))


def offline(engine: LLMEngine, args, vocab: int) -> dict:
    prompts = [p for p, _ in workload(args.requests, args.min_len, args.max_len, vocab)]
    engine.generate(prompts, [SamplingParams(max_tokens=1)] * len(prompts))  # cache prompts
    runs: dict[str, list[float]] = {mode: [] for mode in OFFLINE_MODES}
    for index in range(args.repeats + 1):
        for mode in runs:
            seconds = generate(engine, prompts, mode, args.new_tokens)
            if index:  # the first round warms up
                runs[mode].append(len(prompts) * args.new_tokens / seconds)
    medians = {mode: statistics.median(values) for mode, values in runs.items()}
    return medians | {"runs": runs, "sampled_over_greedy": medians["sampled"] / medians["greedy"]}


def step_ms(engine: LLMEngine, args, vocab: int) -> dict:
    rng = random.Random(2)
    result: dict[str, dict[str, float]] = {}
    for batch in args.batches:
        prompts = [random_prompt(rng, args.min_len, vocab) for _ in range(batch)]
        engine.generate(prompts, [SamplingParams(max_tokens=1)] * batch)
        for mode in MODES:
            generate(engine, prompts, mode, args.step_tokens + 1)  # warm-up
            full = min(generate(engine, prompts, mode, args.step_tokens + 1) for _ in range(3))
            first = min(generate(engine, prompts, mode, 1) for _ in range(3))
            result.setdefault(mode, {})[f"batch_{batch}"] = (full - first) / args.step_tokens * 1e3
    return result


def markdown(r: dict) -> str:
    a, o, s = r["args"], r["offline"], r["steps"]
    text = f"# Sampled against greedy decoding: {r['shape']} (dummy weights, bf16)\n\n"
    text += env_markdown(r["environment"])
    text += f"- overlapped steps: {r['overlapped_steps']}\n\n"
    text += (f"Offline: {a['requests']} cached prompts of {a['min_len']}-{a['max_len']} tokens, "
             f"{a['new_tokens']} new tokens each, medians of {a['repeats']} alternating runs.\n\n")
    text += table(["mode", "output tok/s"], [["greedy", o["greedy"]], ["sampled", o["sampled"]],
                                             ["sampled / greedy", o["sampled_over_greedy"]]])
    text += f"\nDecode step, ms (beyond a 1-token generate, {a['step_tokens']} steps):\n\n"
    batches = list(s["greedy"])
    rows = [[mode, *(s[mode][b] for b in batches)] for mode in s]
    return text + table(["mode", *batches], rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="llama-3.2-1b")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--min-len", type=int, default=100)
    parser.add_argument("--max-len", type=int, default=1024)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--step-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--tokenizer", default=None, help="a tokenizer folder for the dummy shape")
    args = parser.parse_args()
    shape = dummy_shape(args.shape)
    engine = LLMEngine(EngineConfig(model=f"dummy:{args.shape}", device=args.device,
                                    dtype="bfloat16" if args.device == "cuda" else "float32",
                                    max_num_seqs=256, max_batch_tokens=8192,
                                    tokenizer=args.tokenizer))
    results = {"environment": environment(), "shape": args.shape,
               "args": vars(args) | {"out": str(args.out)}}
    results["offline"] = offline(engine, args, shape.vocab_size)
    print("offline", results["offline"], flush=True)
    results["steps"] = step_ms(engine, args, shape.vocab_size)
    results["overlapped_steps"] = engine.stats().extra.get("overlapped_steps", 0)
    write_results(args.out, results, markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
