"""`flowc run --explain`: the plan's estimates beside what the run did, EXPLAIN ANALYZE style."""

from __future__ import annotations

from collections.abc import Iterator

from compiler import Plan, Step
from executor.trace import NodeTrace, PrefixTrace, Trace

# per call: the plan's estimate beside the mean actual; total: summed over the runs; wall: from
# the first run's start to the last one's end (map items overlap, so this is not their sum)
_COLUMNS = ("step", "type", "runs", "est prompt/call", "prompt/call", "est decode/call",
            "generated/call", "prompt total", "cached total", "generated total", "ttft s",
            "wall s", "status")


def explain_run(plan: Plan, trace: Trace) -> str:
    rows = [_row(step, depth, trace.node(step.id)) for step, depth in _steps(plan.steps, 0)]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]
    lines = [
        f"EXPLAIN ANALYZE {trace.workflow}: {trace.status} in {trace.duration_s:.2f} s, "
        f"{trace.engine_steps} engine steps, schedule {trace.schedule}"
        + ("" if trace.optimized else " (plan optimisations off)"),
        "  ".join(c.ljust(w) for c, w in zip(_COLUMNS, widths, strict=True)).rstrip(),
    ]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if trace.prefixes:
        lines.append("prefix groups:")
        lines += [_prefix_line(p) for p in trace.prefixes]
    lines.append(
        f"prefill tokens: predicted naive {trace.predicted_prefill_naive}, planned "
        f"{trace.predicted_prefill_planned}, saving {trace.predicted_saving}"
        + ("" if trace.optimized else " (plan optimisations off: none expected)")
    )
    lines.append(
        f"prefill tokens: actual prompts {trace.prompt_tokens}, computed "
        f"{trace.prefill_computed}, saving {trace.actual_saving}, served from cache "
        f"{trace.cached_tokens}; generated {trace.generated_tokens}"
    )
    return "\n".join(lines) + "\n"


def _steps(steps: tuple[Step, ...], depth: int) -> Iterator[tuple[Step, int]]:
    for step in steps:
        yield step, depth
        yield from _steps(step.body, depth + 1)


def _row(step: Step, depth: int, records: list[NodeTrace]) -> list[str]:
    name = "  " * depth + step.id.rpartition(".")[2]
    calls = step.node_type in ("llm", "select")
    estimates = [str(step.prompt_tokens), str(step.decode_tokens)] if calls else ["-", "-"]
    if not records:
        return [name, step.node_type, "0", estimates[0], "-", estimates[1],
                "-", "-", "-", "-", "-", "-", "not run"]
    first_tokens = [r.first_token_s for r in records if r.first_token_s is not None]
    ttft = f"{sum(first_tokens) / len(first_tokens):.3f}" if first_tokens else "-"
    prompt = sum(r.prompt_tokens for r in records)
    generated = sum(r.generated_tokens for r in records)
    cached = sum(r.cached_tokens for r in records)
    per_call = [_mean(prompt, records), _mean(generated, records)] if calls else ["-", "-"]
    totals = [str(prompt), str(cached), str(generated)] if calls else ["-", "-", "-"]
    return [name, step.node_type, str(len(records)), estimates[0], per_call[0], estimates[1],
            per_call[1], *totals, ttft, f"{_wall(records):.3f}",
            ",".join(sorted({r.status for r in records}))]


def _mean(total: int, records: list[NodeTrace]) -> str:
    mean = total / len(records)
    return str(round(mean)) if mean == round(mean) else f"{mean:.1f}"


def _wall(records: list[NodeTrace]) -> float:
    """Seconds from the first run's start to the last run's end."""
    ends = [r.end if r.end is not None else r.start for r in records]
    return max(ends) - min(r.start for r in records)


def _prefix_line(prefix: PrefixTrace) -> str:
    when = (
        f"pinned {prefix.start:.3f}-{prefix.ready:.3f} s" if prefix.ready is not None
        else f"not pinned ({prefix.error or 'pending'})"
    )
    released = f", released {prefix.released:.3f} s" if prefix.released is not None else ""
    kind = " speculative" if prefix.speculative else ""
    return (
        f"  {prefix.group_id}{kind}: {prefix.tokens} tokens for {', '.join(prefix.consumers)}; "
        f"{when} ({prefix.cached_tokens} already cached){released}"
    )
