"""flowc's engine on the GPU against transformers `generate`, side by side in one run, on a
`dummy` shape in bf16 (random weights; EOS ignored, so every request decodes its full length).

    python benchmarks/gpu_engine_bench.py --shape llama-3.2-1b --out benchmarks/results/x.json

1. batch-1 decode tokens/s against the bandwidth floor: (weights + KV bytes per step) over the
   device-to-device copy bandwidth measured in the same run;
2. offline throughput: requests with prompt and output lengths uniform in 100-1024;
3. shared-prefix decode: branches on one long shared prefix, cascade on and off;
4. concurrent 2K-token sequences that fit: flowc's KV pool against the largest batch of
   2K-token sequences transformers runs without running out of memory.
transformers runs after flowc has released the GPU, with random weights of the same shape.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_common import copy_bandwidth_gbs, env_markdown, environment, table, write_results  # noqa: E402

from engine.api import SamplingParams  # noqa: E402
from engine.config import EngineConfig  # noqa: E402
from engine.engine import LLMEngine  # noqa: E402
from engine.models.shapes import dummy_shape  # noqa: E402

WARM_UP_REQUESTS, WARM_UP_TOKENS = 64, 16  # before the timed offline run


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn) -> float:
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def random_prompt(rng: random.Random, length: int, vocab: int) -> list[int]:
    return [rng.randrange(10, vocab - 10) for _ in range(length)]


def workload(count: int, low: int, high: int, vocab: int, seed: int = 0):
    rng = random.Random(seed)
    lengths = [(rng.randint(low, high), rng.randint(low, high)) for _ in range(count)]
    return [(random_prompt(rng, p, vocab), o) for p, o in lengths]


# -- flowc ------------------------------------------------------------------------------------
def flowc_generate(engine: LLMEngine, prompts: list[list[int]], outputs: list[int]) -> float:
    params = [SamplingParams(max_tokens=o, ignore_eos=True) for o in outputs]
    seconds = timed(lambda: engine.generate(prompts, params))
    return seconds


def flowc_batch1(engine, prompt: list[int], new: int) -> float:
    """Decode tokens/s: (new - 1) tokens over the time beyond a 1-token generate."""
    flowc_generate(engine, [prompt], [new])  # warm-up: graphs captured, kernels compiled
    full = min(flowc_generate(engine, [prompt], [new]) for _ in range(3))
    first = min(flowc_generate(engine, [prompt], [1]) for _ in range(3))
    return (new - 1) / (full - first)


def flowc_shared_prefix(engine, branches: int, prefix_len: int, suffix: int, vocab: int,
                        repeats: int = 3):
    """Tokens/s of cascade and plain decode on the same prefilled prefix: a warm-up run of
    each (kernel compiles, graph captures), then `repeats` alternating runs of each; the
    median run of each arm, and every run."""
    rng = random.Random(1)
    prefix = random_prompt(rng, prefix_len, vocab)
    handle = engine.prefill(prefix)
    prompts = [prefix + [rng.randrange(10, vocab - 10)] for _ in range(branches)]
    backend = engine.runner.attention_backend
    runs: dict[str, list[float]] = {}
    for index, cascade in enumerate([True, False] * (repeats + 1)):
        name = "cascade" if cascade else "plain"
        backend.use_cascade = cascade  # decode graphs follow: the backend names their variant
        seconds = flowc_generate(engine, prompts, [suffix] * branches)
        first = flowc_generate(engine, prompts, [1] * branches)
        if index < 2:
            continue  # warm-up
        runs.setdefault(name, []).append(branches * suffix / seconds)
        # decode alone: the time beyond admitting the branches and their first token
        runs.setdefault(f"{name}_decode", []).append(branches * (suffix - 1) / (seconds - first))
    pages = engine.kv.cache.match(prefix).pages
    consecutive = bool(pages) and pages == list(range(pages[0], pages[0] + len(pages)))
    engine.release(handle)
    backend.use_cascade = True
    return {name: statistics.median(values) for name, values in runs.items()} | {
        "runs": runs, "prefix_pages_consecutive": consecutive}


def model_step_ms(runner, shape, context: int = 1024, sizes=(1, 64, 256)) -> dict:
    """The model alone on decode batches (CUDA-graph replay when enabled), no scheduler:
    milliseconds per step by batch size, over pages whose contents do not matter."""
    from engine.forward import ForwardBatch

    page = runner.page_size
    pages = -(-(context + 1) // page)
    result = {}
    for size in sizes:
        if size * pages + 1 > runner.num_pages or size > runner.config.max_num_seqs:
            continue
        tables = torch.arange(1, size * pages + 1, dtype=torch.int32).view(size, pages)
        slots = tables[:, context // page].long() * page + context % page
        batch = ForwardBatch(
            input_ids=torch.randint(10, shape.vocab_size - 10, (size,)),
            positions=torch.full((size,), context),
            seq_lens=torch.full((size,), context + 1, dtype=torch.int32),
            query_lens=torch.ones(size, dtype=torch.int32),
            query_start=torch.arange(size + 1, dtype=torch.int32),
            block_tables=tables,
            slot_mapping=slots,
            logits_indices=torch.arange(size),
            page_size=page,
            max_query_len=1,
            max_seq_len=context + 1,
            is_decode=True,
        )
        runner.forward(batch)
        result[f"batch_{size}"] = (
            timed(lambda b=batch: [runner.forward(b) for _ in range(20)]) / 20 * 1e3
        )
    return result


def run_batch1(args, shape, copy_gbs: float) -> dict:
    """`--only batch1`: batch-1 decode with the fused CUDA ops off (FLOWC_FUSED_OPS=0) and on,
    each in a fresh engine (CUDA graphs are captured with the setting of their engine)."""
    out = {}
    for name, flag in (("unfused", "0"), ("fused", "1")):
        os.environ["FLOWC_FUSED_OPS"] = flag
        engine = LLMEngine(flowc_config(args))
        runner = engine.runner
        weight_bytes = sum(p.numel() * p.element_size() for p in runner.model.parameters())
        kv_token_bytes = runner.bytes_per_page // runner.page_size
        rng = random.Random(2)
        prompt = random_prompt(rng, args.prompt_len, shape.vocab_size)
        tok_s = flowc_batch1(engine, prompt, args.new_tokens)
        step_bytes = weight_bytes + kv_token_bytes * (args.prompt_len + args.new_tokens // 2)
        floor = copy_gbs * 1e9 / step_bytes
        step = model_step_ms(runner, shape, sizes=(1,))["batch_1"]
        out[name] = {
            "batch1_tok_s": tok_s,
            "batch1_floor_tok_s": floor,
            "batch1_share_of_floor": tok_s / floor,
            "model_step_ms_batch_1": step,
            "model_step_floor_ms": 1e3 * (weight_bytes + kv_token_bytes * 1024) / (copy_gbs * 1e9),
            "cuda_graphs": runner.decode_graphs is not None,
        }
        print("flowc batch-1", name, out[name], flush=True)
        del engine, runner
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    os.environ.pop("FLOWC_FUSED_OPS", None)
    return out


def batch1_markdown(r: dict) -> str:
    b, a = r["batch1"], r["args"]
    text = f"# Engine on the GPU, batch-1 decode: {r['shape']} (dummy weights, bf16)\n\n"
    text += env_markdown(r["environment"])
    text += f"- copy bandwidth (read + write): {r['copy_bandwidth_gb_s']:.0f} GB/s\n"
    text += f"- CUDA graphs: {b['fused']['cuda_graphs']}\n\n"
    rows = [
        [
            f"batch-1 decode tok/s ({a['prompt_len']}-token prompt, {a['new_tokens']} new)",
            b["unfused"]["batch1_tok_s"],
            b["fused"]["batch1_tok_s"],
            b["fused"]["batch1_floor_tok_s"],
        ],
        [
            "share of bandwidth floor",
            b["unfused"]["batch1_share_of_floor"],
            b["fused"]["batch1_share_of_floor"],
            1.0,
        ],
        [
            "model alone, ms per step (1024-token context)",
            b["unfused"]["model_step_ms_batch_1"],
            b["fused"]["model_step_ms_batch_1"],
            b["fused"]["model_step_floor_ms"],
        ],
    ]
    return text + table(["measure", "unfused (FLOWC_FUSED_OPS=0)", "fused", "floor"], rows)


def run_shared(args, shape) -> dict:
    """`--only shared`: shared-prefix decode, cascade against plain, in one engine."""
    engine = LLMEngine(flowc_config(args))
    tok_s = flowc_shared_prefix(
        engine, args.branches, args.shared_prefix, args.suffix, shape.vocab_size,
        args.shared_repeats,
    )
    print("flowc shared prefix", tok_s, flush=True)
    return tok_s | {"cuda_graphs": engine.runner.decode_graphs is not None}


def shared_markdown(r: dict) -> str:
    s, a = r["shared"], r["args"]
    text = f"# Engine on the GPU, shared-prefix decode: {r['shape']} (dummy weights, bf16)\n\n"
    text += env_markdown(r["environment"])
    text += f"- CUDA graphs: {s['cuda_graphs']}\n\n"
    rows = [
        [
            f"end to end tok/s ({a['branches']} x {a['shared_prefix']} + {a['suffix']})",
            s["cascade"],
            s["plain"],
            s["cascade"] / s["plain"],
        ],
        [
            "decode steps alone tok/s (beyond admission and first token)",
            s["cascade_decode"],
            s["plain_decode"],
            s["cascade_decode"] / s["plain_decode"],
        ],
    ]
    text += table(["measure", "cascade", "plain", "ratio"], rows)
    runs = s.get("runs", {})
    if runs:
        text += f"\nMedians of {len(runs['cascade'])} alternating runs per arm; every run, tok/s:\n"
        text += "".join(f"- {name}: {', '.join(f'{v:.0f}' for v in values)}\n"
                        for name, values in runs.items())
    if "prefix_pages_consecutive" in s:
        text += (f"\nThe prefix's pages were {'' if s['prefix_pages_consecutive'] else 'not '}"
                 "consecutive (the cascade reads a consecutive prefix as whole key tiles).\n")
    return text


def flowc_config(args) -> EngineConfig:
    return EngineConfig(
        model=f"dummy:{args.shape}",
        device=args.device,
        dtype="bfloat16",
        max_num_seqs=args.max_num_seqs,
        max_batch_tokens=args.max_batch_tokens,
    )


def run_flowc(args, shape, copy_gbs: float) -> dict:
    config = EngineConfig(
        model=f"dummy:{args.shape}",
        device=args.device,
        dtype="bfloat16",
        max_num_seqs=args.max_num_seqs,
        max_batch_tokens=args.max_batch_tokens,
    )
    started = time.perf_counter()
    engine = LLMEngine(config)
    runner = engine.runner
    start_s = time.perf_counter() - started
    weight_bytes = sum(p.numel() * p.element_size() for p in runner.model.parameters())
    kv_token_bytes = runner.bytes_per_page // runner.page_size
    out: dict = {
        "kv_pages": runner.num_pages,
        "page_size": runner.page_size,
        "weight_bytes": weight_bytes,
        "kv_bytes_per_token": kv_token_bytes,
        "attention": runner.attention_backend.name,
        "cuda_graphs": runner.decode_graphs is not None,
        "engine_start_s": start_s,
    }
    rng = random.Random(2)
    prompt = random_prompt(rng, args.prompt_len, shape.vocab_size)
    out["batch1_tok_s"] = flowc_batch1(engine, prompt, args.new_tokens)
    step_bytes = weight_bytes + kv_token_bytes * (args.prompt_len + args.new_tokens // 2)
    out["batch1_floor_tok_s"] = copy_gbs * 1e9 / step_bytes
    out["batch1_share_of_floor"] = out["batch1_tok_s"] / out["batch1_floor_tok_s"]
    print("flowc batch-1", out, flush=True)
    out["model_step_ms"] = model_step_ms(runner, shape)
    print("model step", out["model_step_ms"], flush=True)
    requests = workload(args.requests, args.min_len, args.max_len, shape.vocab_size)
    # warm-up on the workload's first prompts: compiles the prefill kernels' variants (Triton
    # specializes on argument alignment), which are one-time costs, not throughput
    warm = [p for p, _ in requests[:WARM_UP_REQUESTS]]
    flowc_generate(engine, warm, [WARM_UP_TOKENS] * len(warm))
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    seconds = flowc_generate(engine, [p for p, _ in requests], [o for _, o in requests])
    if profiler:
        profiler.disable()
        with open(args.out.with_suffix(".profile.txt"), "w") as stream:
            pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(45)
    out["offline_steps"] = engine.stats().steps
    out["offline_seconds"] = seconds
    out["offline_output_tok_s"] = sum(o for _, o in requests) / seconds
    print("flowc offline", seconds, flush=True)
    out["shared_prefix_tok_s"] = flowc_shared_prefix(
        engine, args.branches, args.shared_prefix, args.suffix, shape.vocab_size
    )
    print("flowc shared prefix", out["shared_prefix_tok_s"], flush=True)
    out["max_2k_sequences"] = runner.num_pages // -(-2048 // runner.page_size)
    del engine, runner
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return out


# -- transformers -----------------------------------------------------------------------------
def hf_model(shape, device: str):
    from transformers import AutoModelForCausalLM
    from transformers_engine import hf_config

    with torch.device(device):
        model = AutoModelForCausalLM.from_config(
            hf_config(shape), dtype=torch.bfloat16, attn_implementation="sdpa"
        )
    return model.eval()


def hf_generate(model, prompts: list[list[int]], new: int) -> float:
    width = max(len(p) for p in prompts)
    device = next(model.parameters()).device
    ids = torch.zeros((len(prompts), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):
        ids[i, width - len(p) :] = torch.tensor(p)
        mask[i, width - len(p) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    with torch.inference_mode():
        return timed(
            lambda: model.generate(
                ids,
                attention_mask=mask,
                do_sample=False,
                max_new_tokens=new,
                min_new_tokens=new,
                pad_token_id=0,
                eos_token_id=None,
            )
        )


def hf_max_batch(model, length: int, vocab: int, limit: int) -> int:
    """Largest batch of `length`-token sequences (prompt length - 1, one new token) that
    generate runs without running out of memory: doubling, then bisection."""
    rng = random.Random(3)

    def fits(batch: int) -> bool:
        try:
            hf_generate(model, [random_prompt(rng, length - 1, vocab)] * batch, 1)
            return True
        except torch.OutOfMemoryError:
            return False
        finally:
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    low, high = 0, 16
    while high <= limit and fits(high):
        low, high = high, high * 2
    for _ in range(4):
        middle = (low + high) // 2
        if middle in (low, high):
            break
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def run_hf(args, shape) -> dict:
    model = hf_model(shape, args.device)
    rng = random.Random(2)
    prompt = random_prompt(rng, args.prompt_len, shape.vocab_size)
    new = args.hf_new_tokens
    hf_generate(model, [prompt], 2)
    full = min(hf_generate(model, [prompt], new) for _ in range(2))
    first = min(hf_generate(model, [prompt], 1) for _ in range(2))
    out = {"batch1_tok_s": (new - 1) / (full - first)}
    print("hf batch-1", out, flush=True)
    requests = workload(args.requests, args.min_len, args.max_len, shape.vocab_size)
    requests = requests[: args.hf_requests]
    seconds = 0.0
    for start in range(0, len(requests), args.hf_batch):
        part = requests[start : start + args.hf_batch]
        seconds += hf_generate(model, [p for p, _ in part], max(o for _, o in part))
    out["offline_requests"] = len(requests)
    out["offline_seconds"] = seconds
    out["offline_output_tok_s"] = sum(o for _, o in requests) / seconds
    print("hf offline", out, flush=True)
    out["max_2k_sequences"] = hf_max_batch(model, 2048, shape.vocab_size, args.hf_batch_limit)
    print("hf capacity", out["max_2k_sequences"], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="llama-3.2-1b")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--prompt-len", type=int, default=512)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--hf-new-tokens", type=int, default=32)
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--min-len", type=int, default=100)
    parser.add_argument("--max-len", type=int, default=1024)
    parser.add_argument("--hf-requests", type=int, default=256)
    parser.add_argument("--hf-batch", type=int, default=64)
    parser.add_argument("--hf-batch-limit", type=int, default=4096)
    parser.add_argument("--branches", type=int, default=64)
    parser.add_argument("--shared-prefix", type=int, default=8192)
    parser.add_argument("--suffix", type=int, default=256)
    parser.add_argument("--shared-repeats", type=int, default=3,
                        help="alternating cascade/plain runs; medians are reported")
    parser.add_argument("--max-num-seqs", type=int, default=256)
    parser.add_argument("--max-batch-tokens", type=int, default=8192)
    parser.add_argument("--skip-hf", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the offline run")
    parser.add_argument(
        "--only",
        choices=["batch1", "shared"],
        help="batch1: batch-1 decode, fused ops off and on; shared: shared-prefix decode alone",
    )
    args = parser.parse_args()
    shape = dummy_shape(args.shape)
    results = {
        "environment": environment(),
        "shape": args.shape,
        "dtype": "bfloat16",
        "args": vars(args) | {"out": str(args.out)},
    }
    copy_gbs = copy_bandwidth_gbs() if args.device == "cuda" else 1.0  # cpu: smoke runs only
    results["copy_bandwidth_gb_s"] = copy_gbs
    if args.only == "batch1":
        results["batch1"] = run_batch1(args, shape, copy_gbs)
        write_results(args.out, results, batch1_markdown(results))
        print(batch1_markdown(results))
        return
    if args.only == "shared":
        results["shared"] = run_shared(args, shape)
        write_results(args.out, results, shared_markdown(results))
        print(shared_markdown(results))
        return
    results["flowc"] = run_flowc(args, shape, copy_gbs)
    write_results(args.out, results, markdown(results))
    if not args.skip_hf:
        results["transformers"] = run_hf(args, shape)
        write_results(args.out, results, markdown(results))
    print(markdown(results))


def markdown(r: dict) -> str:
    f, h = r["flowc"], r.get("transformers", {})
    a = r["args"]
    text = f"# Engine on the GPU: {r['shape']} (dummy weights, bf16)\n\n"
    text += env_markdown(r["environment"])
    text += f"- copy bandwidth (read + write): {r['copy_bandwidth_gb_s']:.0f} GB/s\n"
    text += (
        f"- flowc: attention {f['attention']}, CUDA graphs {f['cuda_graphs']}, "
        f"{f['kv_pages']} KV pages of {f['page_size']} tokens; engine start "
        f"{f.get('engine_start_s', 0):.1f} s (weights, KV cache, every decode graph)\n\n"
    )

    def ratio(x, y):
        return x / y if x and y else "not measured"

    shared = f["shared_prefix_tok_s"]
    rows = [
        [
            f"batch-1 decode tok/s ({a['prompt_len']}-token prompt)",
            f["batch1_tok_s"],
            h.get("batch1_tok_s", "not measured"),
            ratio(f["batch1_tok_s"], h.get("batch1_tok_s")),
        ],
        ["batch-1 share of bandwidth floor", f["batch1_share_of_floor"], "", ""],
        [
            f"offline output tok/s ({a['requests']} requests, lengths {a['min_len']}-"
            f"{a['max_len']}, after {WARM_UP_REQUESTS} x {WARM_UP_TOKENS} warm-up; transformers: "
            f"{h.get('offline_requests', 0)} requests in batches of {a['hf_batch']})",
            f["offline_output_tok_s"],
            h.get("offline_output_tok_s", "not measured"),
            ratio(f["offline_output_tok_s"], h.get("offline_output_tok_s")),
        ],
        [
            f"shared-prefix decode tok/s ({a['branches']} x {a['shared_prefix']} + "
            f"{a['suffix']}), cascade / plain",
            shared["cascade"],
            shared["plain"],
            shared["cascade"] / shared["plain"],
        ],
        [
            "shared-prefix decode steps alone tok/s (beyond admission and first token), "
            "cascade / plain",
            shared.get("cascade_decode", "not measured"),
            shared.get("plain_decode", "not measured"),
            ratio(shared.get("cascade_decode"), shared.get("plain_decode")),
        ],
        [
            "concurrent 2K-token sequences",
            f["max_2k_sequences"],
            h.get("max_2k_sequences", "not measured"),
            ratio(f["max_2k_sequences"], h.get("max_2k_sequences")),
        ],
    ]
    text += table(["measure", "flowc", "transformers (or plain)", "ratio"], rows)
    text += (
        f"\nBandwidth floor, batch 1: {f['batch1_floor_tok_s']:.0f} tok/s "
        f"(weights {f['weight_bytes'] / 1e9:.2f} GB + KV {f['kv_bytes_per_token']} B/token).\n"
    )
    if "prefix_pages_consecutive" in shared:
        text += (f"The shared prefix's pages were "
                 f"{'' if shared['prefix_pages_consecutive'] else 'not '}consecutive.\n")
    return text


if __name__ == "__main__":
    main()
