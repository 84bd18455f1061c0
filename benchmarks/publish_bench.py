"""Publishing decode pages into the prefix cache: from the node where a sequence's last pages
ended (what `KVManager.publish` does) against inserting the sequence's whole key from the
root (what it did before), on the real block pool and radix cache, in one run.

The workload is the shared-prefix decode of the GPU benchmark: `--branches` sequences on one
cached `--prefix`-token prefix, each decoding `--new` tokens and publishing every page as it
completes. Reported: milliseconds per decode step for the branches' publishing, best of
`--repeat`.

    python benchmarks/publish_bench.py [--branches 64] [--prefix 7680] [--new 256]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.api import SamplingParams  # noqa: E402
from engine.kv.block_pool import BlockPool  # noqa: E402
from engine.kv.manager import KVManager  # noqa: E402
from engine.sequence import Sequence  # noqa: E402

PAGE = 16


def decode_steps(branches: int, prefix: int, new: int, from_root: bool) -> float:
    """Seconds spent publishing over `new` decode steps of `branches` sequences."""
    rng = random.Random(0)
    kv = KVManager(BlockPool(prefix // PAGE + branches * (new // PAGE + 2) + 8, PAGE))
    shared = [rng.randrange(1000) for _ in range(prefix)]
    owner = Sequence("prefix", list(shared), SamplingParams(max_tokens=1))
    kv.grow(owner, prefix)
    owner.num_computed_tokens = prefix
    kv.publish(owner)
    seqs = []
    for i in range(branches):
        seq = Sequence(f"b{i}", shared + [rng.randrange(1000)], SamplingParams(max_tokens=new))
        kv.take_cached_prefix(seq)
        kv.grow(seq, 1)
        seq.num_computed_tokens += 1
        seqs.append(seq)
    spent = 0.0
    for _ in range(new):
        for seq in seqs:
            seq.token_ids.append(rng.randrange(1000))
            kv.grow(seq, 1)
            seq.num_computed_tokens += 1
            if seq.num_computed_tokens % PAGE:
                continue
            start = time.perf_counter()
            if from_root:
                full = seq.num_computed_tokens // PAGE
                kv.cache.insert(seq.token_ids[:full * PAGE], seq.block_table[:full])
            else:
                kv.publish(seq)
            spent += time.perf_counter() - start
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--branches", type=int, default=64)
    parser.add_argument("--prefix", type=int, default=7680)
    parser.add_argument("--new", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"# publish_bench: {args.branches} branches on a {args.prefix}-token prefix, "
          f"{args.new} decode steps, pages of {PAGE}; command: python {' '.join(sys.argv)}")
    for name, from_root in (("from the root (before)", True), ("below the last node", False)):
        best = min(decode_steps(args.branches, args.prefix, args.new, from_root)
                   for _ in range(args.repeat))
        print(f"{name}: {1e3 * best / args.new:.4f} ms per decode step")


if __name__ == "__main__":
    main()
