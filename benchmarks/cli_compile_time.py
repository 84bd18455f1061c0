"""Wall time of `flowc compile FILE` in a fresh process, as a user runs it.

Usage: python benchmarks/cli_compile_time.py [FILE] [--repeat 10] [--limit 0.5]

Runs the installed `flowc` command `--repeat` times (after one warm-up run that fills the
tokenizer cache and the OS file cache) and prints the best, median and worst wall time, the
machine's core count and load, and whether the best run met `--limit` seconds (exit 1 if not).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOWC = Path(sys.executable).parent / "flowc"


def one_run(graph: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(FLOWC), "compile", str(graph)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path,
                        default=ROOT / "examples" / "graphs" / "soar_triage.json")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--limit", type=float, default=0.5)
    args = parser.parse_args()
    one_run(args.file)
    times = sorted(one_run(args.file) for _ in range(args.repeat))
    load = os.getloadavg()[0]
    print(f"flowc compile {args.file.name}: best {times[0]:.3f} s, median "
          f"{statistics.median(times):.3f} s, worst {times[-1]:.3f} s over {args.repeat} fresh "
          f"processes ({os.cpu_count()} cores, load {load:.1f})")
    met = times[0] < args.limit
    print(f"under {args.limit} s: {'yes' if met else 'no'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
