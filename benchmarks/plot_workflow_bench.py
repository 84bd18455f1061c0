"""Plot a workflow benchmark report: latency per workload per mode, log scale.

    python benchmarks/plot_workflow_bench.py benchmarks/results/workflow_bench_X.json [OUT.png]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"A": "#1f77b4", "B": "#ff7f0e", "B-df": "#ffbb78", "B-LG": "#2ca02c", "C": "#7f7f7f"}
LABELS = {"A": "A: flowc plan", "B": "B: supersteps + radix cache", "B-df": "B-df: dataflow",
          "B-LG": "B-LG: LangGraph via OpenAI API", "C": "C: transformers generate"}


def plot(report: dict[str, Any], out: Path) -> None:
    rows = report["rows"]
    modes = [m for m in report["modes"] if any(m in row["modes"] for row in rows)]
    width = 0.8 / len(modes)
    fig, ax = plt.subplots(figsize=(11, 4.8))
    for index, mode in enumerate(modes):
        xs = [i + (index - (len(modes) - 1) / 2) * width for i in range(len(rows))]
        ys = [row["modes"].get(mode, {}).get("median_s", 0) for row in rows]
        bars = ax.bar(xs, ys, width, label=LABELS.get(mode, mode), color=COLOURS.get(mode))
        ax.bar_label(bars, labels=[f"{y:.3g}" if y else "" for y in ys], fontsize=7,
                     padding=1)
    ax.set_yscale("log")
    tallest = max(row["modes"][m]["median_s"] for row in rows for m in row["modes"])
    shortest = min(row["modes"][m]["median_s"] for row in rows for m in row["modes"])
    ax.set_ylim(shortest / 1.5, tallest * 1.6)  # room for the labels and the legend
    ax.set_ylabel("seconds per workflow batch (median, log scale)")
    ax.set_xticks(range(len(rows)),
                  [f"{row['workload']}\n({row['instances']} runs)" for row in rows], fontsize=8)
    env = report["environment"]
    ax.set_title(f"{report['model']} on {env['device']}, {env['dtype']}, commit {env['commit']}",
                 fontsize=10)
    ax.legend(fontsize=8, ncols=3, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    plt.close(fig)


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    source = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) == 3 else source.with_suffix(".png")
    plot(json.loads(source.read_text()), out)
    print(out)


if __name__ == "__main__":
    main()
