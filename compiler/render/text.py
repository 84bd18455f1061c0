"""The text form of a plan: reads like SQL's EXPLAIN and is stable across runs (no times,
no machine paths), so it serves golden-file tests."""

from __future__ import annotations

from compiler.plan import Plan
from compiler.render.summary import (
    group_readiness,
    prefix_of,
    preview,
    route_note,
    saved_percent,
    stage_note,
    walk,
)


def render_text(plan: Plan) -> str:
    sections = [
        _header(plan),
        _steps(plan),
        _stages(plan),
        _routes(plan),
        _prefix_groups(plan),
        _threads_and_loops(plan),
        _estimate(plan),
        _diagnostics(plan),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _header(plan: Plan) -> str:
    return f"PLAN {plan.workflow}  (plan v{plan.version}, tokenizer {plan.tokenizer})"


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in
                 enumerate(zip(row, widths, strict=True))]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _steps(plan: Plan) -> str:
    prefixes = prefix_of(plan)
    rows = [["step", "type", "stage", "deps", "priority", "prompt", "decode", "prefix", "loop"]]
    for step, depth in walk(plan.steps):
        rows.append([
            "  " * depth + ("└ " if depth else "") + step.id,
            step.node_type,
            str(step.stage),
            ", ".join(step.deps) or "-",
            f"{step.priority:.3f}",
            str(step.prompt_tokens) if step.call else "-",
            str(step.decode_tokens) if step.node_type == "llm" else "-",
            prefixes.get(step.id, "-"),
            "-" if step.loop is None else f"L{step.loop + 1}",
        ])
    title = "STEPS  (topological order; priority = expected seconds from the step to the end)"
    return "\n".join([title, *_table(rows, {2, 4, 5, 6})])


def _stages(plan: Plan) -> str:
    lines = ["STAGES  (parallel waves of the static DAG)"]
    for number, wave in enumerate(plan.stages):
        lines.append(f"  stage {number}: {' | '.join(wave)}{stage_note(plan, number)}")
    return "\n".join(lines)


def _routes(plan: Plan) -> str:
    if not plan.routes:
        return ""
    lines = ["ROUTES"]
    for route in plan.routes:
        condition = "else" if route.is_else else (f"when {route.when}" if route.when else "")
        note = route_note(route)
        line = f"  {route.source} -> {route.target}  {condition}".rstrip()
        lines.append(f"{line}  ({note})" if note else line)
    return "\n".join(lines)


def _prefix_groups(plan: Plan) -> str:
    lines = ["PREFIX GROUPS  (prefilled once, pinned while consumers remain)"]
    if not plan.prefix_groups:
        lines.append("  none")
    for group in plan.prefix_groups:
        extends = f", extends {group.parent}" if group.parent else ""
        saving = "speculative" if group.speculative else f"saves {group.saved_tokens} tokens"
        lines.append(
            f"  {group.id}  {group.tokens} tokens{extends}  {_calls(group.runs)}  {saving}"
        )
        lines.append(f"      consumers: {', '.join(group.consumers)}")
        lines.append(
            f"      ready: {group_readiness(group)};"
            f" release after: {', '.join(group.release_after) or '-'}"
        )
        lines.append(f"      text: {preview(group)}")
    return "\n".join(lines)


def _threads_and_loops(plan: Plan) -> str:
    lines = []
    if plan.threads:
        lines.append("THREADS")
        lines += [f"  {t.name}: {' -> '.join(t.steps)}" for t in plan.threads]
    if plan.loops:
        lines.append("LOOPS")
        lines += [
            f"  L{i + 1}: {' -> '.join(loop.nodes)}  (at most {loop.max_visits} visits per node)"
            for i, loop in enumerate(plan.loops)
        ]
    return "\n".join(lines)


def _estimate(plan: Plan) -> str:
    e = plan.estimate
    speculative = (
        [f"  speculative     {e.speculative_prefill} tokens prefilled while routers run, "
         f"{e.speculative_wasted} of them for branches not taken (a cost)"]
        if e.speculative_prefill else []
    )
    return "\n".join([
        "ESTIMATE",
        f"  prefill tokens  naive {e.prefill_tokens_naive}  planned {e.prefill_tokens_planned}"
        f"  saved {e.prefill_saved} ({saved_percent(plan):.1f}%)  (every call once)",
        f"  per run         expected naive {e.expected_prefill_naive}  planned "
        f"{e.expected_prefill_planned}; worst case naive {e.worst_prefill_naive}  planned "
        f"{e.worst_prefill_planned}  (branches equally likely; worst: loops at their bound)",
        *speculative,
        f"  decode tokens   {e.decode_tokens} (upper bound)",
        f"  critical path   {' -> '.join(e.critical_path) or '-'}"
        f"  ({e.critical_path_cost:.3f} s expected)",
    ])


def _diagnostics(plan: Plan) -> str:
    lines = ["DIAGNOSTICS"]
    if not plan.diagnostics:
        lines.append("  none")
    for d in plan.diagnostics:
        where = f" at {d.path}" if d.path else ""
        lines.append(f"  {d.severity:<7} {d.code}{where}: {d.message}")
    return "\n".join(lines)


def _calls(runs: int) -> str:
    return "1 call" if runs == 1 else f"{runs} calls"
