"""`flowc run --explain`: the plan's estimates beside what the run did, EXPLAIN ANALYZE style."""

from __future__ import annotations

from collections.abc import Iterator

from compiler import Plan, Step
from executor.trace import NodeTrace, PrefixTrace, Trace

_COLUMNS = ("step", "type", "runs", "est prompt", "prompt", "cached", "est decode", "generated",
            "ttft s", "time s", "status")


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
    if not records:
        return [name, step.node_type, "0", str(step.prompt_tokens), "-", "-",
                str(step.decode_tokens), "-", "-", "-", "not run"]
    first_tokens = [r.first_token_s for r in records if r.first_token_s is not None]
    ttft = f"{sum(first_tokens) / len(first_tokens):.3f}" if first_tokens else "-"
    statuses = sorted({r.status for r in records})
    calls = step.node_type in ("llm", "select")
    return [
        name,
        step.node_type,
        str(len(records)),
        str(step.prompt_tokens) if calls else "-",
        str(sum(r.prompt_tokens for r in records)) if calls else "-",
        str(sum(r.cached_tokens for r in records)) if calls else "-",
        str(step.decode_tokens) if calls else "-",
        str(sum(r.generated_tokens for r in records)) if calls else "-",
        ttft,
        f"{sum(r.duration_s for r in records):.3f}",
        ",".join(statuses),
    ]


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
