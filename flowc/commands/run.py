"""`flowc run FILE`: compile a workflow, run it on the engine and print its outputs as JSON.

`--inputs-jsonl` runs one instance per line concurrently on one engine (their shared prompt
prefixes are prefilled and pinned once) and prints one line of outputs per instance, in order.
`--checkpoint FILE` keeps the run's state after each node in FILE; `--resume FILE` goes on
from there after a crash, a kill or Ctrl-C (see flowc/checkpoint_file.py).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from flowc.errors import INTERRUPTED, WORKFLOW, fail, say, usage

if TYPE_CHECKING:
    from compiler import Plan
    from engine.api import EngineAPI
    from executor import Checkpoint, RunResult, ToolRegistry
    from flowc.checkpoint_file import CheckpointFile
    from graph import Node, Workflow

    Durable = tuple[CheckpointFile, Checkpoint | None]  # where to keep state, where to resume

_T = TypeVar("_T")
SCHEDULES = ("planned", "dataflow", "superstep", "sequential")
MODEL_HELP = "'default' (the embedded model), a model folder or .gguf file, or dummy:SHAPE"


def register(app: typer.Typer) -> None:
    app.command(name="run")(run_command)


def run_command(
    file: Annotated[Path, typer.Argument(help="The workflow JSON file.")],
    input: Annotated[list[str] | None, typer.Option(  # noqa: A002
        "--input", "-i", help="An input as NAME=VALUE, coerced to its declared type.")] = None,
    inputs: Annotated[Path | None, typer.Option(help="A JSON file with an object of inputs.")
                      ] = None,
    inputs_jsonl: Annotated[Path | None, typer.Option(
        help="A JSON Lines file: one object of inputs per run; runs share one engine.")] = None,
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = "default",
    tokenizer: Annotated[Path | None, typer.Option(
        help="A tokenizer folder for a dummy:SHAPE model (see `flowc export-tokenizer`).")
    ] = None,
    tools: Annotated[list[Path] | None, typer.Option(
        help="A Python file whose TOOLS = {name: (callable, json_schema)} (repeatable).")
    ] = None,
    allow_http: Annotated[list[str] | None, typer.Option(
        help="Enable the http_get tool for this host (repeatable).")] = None,
    trace: Annotated[Path | None, typer.Option(help="Write the run's trace as JSON here.")
                     ] = None,
    explain: Annotated[bool, typer.Option(
        help="Print per-node actuals beside the plan's estimates (on stderr).")] = False,
    no_plan_opt: Annotated[bool, typer.Option(
        "--no-plan-opt", help="Run node by node with the prefix cache off (a baseline).")
    ] = False,
    schedule: Annotated[str | None, typer.Option(
        help="planned (the default), or a baseline: dataflow, superstep or sequential, with "
             "the prefix cache on (see docs/executor.md).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for sampled generations.")] = 0,
    checkpoint: Annotated[Path | None, typer.Option(
        help="Keep the run's state after each finished node in this file (removed when the "
             "run succeeds), to go on with --resume after a crash, a kill or Ctrl-C.")] = None,
    resume: Annotated[Path | None, typer.Option(
        help="Resume the run whose --checkpoint file this is, from its last finished node, "
             "with the inputs and seed it was given; it goes on checkpointing there.")] = None,
    replicas: Annotated[int | None, typer.Option(
        min=1, help="Spread the runs over this many engine replicas on Ray (one per GPU, or "
                    "per CPU slot); needs flowc[cluster].")] = None,
    ray_address: Annotated[str | None, typer.Option(
        help="The Ray cluster to join with --replicas [default: start a local Ray].")] = None,
) -> None:
    """Run a workflow and print its outputs as JSON."""
    from graph import GraphError

    if not file.is_file():
        usage(f"no such file: {file}")
    if trace is not None:
        _check_writable(trace, "--trace")
    try:
        base = _read_inputs(input or [], inputs)
        batch = _read_jsonl(inputs_jsonl) if inputs_jsonl is not None else None
        workflow = _load(file)
        registry = _tools(tools or [], allow_http or [])
        _find_missing_tools(workflow, file, registry)
    except GraphError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        raise typer.Exit(1) from exc
    except ValueError as exc:
        fail(str(exc))
    if schedule is not None and (schedule not in SCHEDULES or no_plan_opt):
        usage(f"--schedule {schedule}: one of {', '.join(SCHEDULES)}, without --no-plan-opt")
    chosen = "sequential" if no_plan_opt else schedule or "planned"
    if tokenizer is not None and (not model.startswith("dummy:") or not tokenizer.is_dir()):
        usage(f"--tokenizer {tokenizer}: a tokenizer folder, with a dummy:SHAPE model only")
    if ray_address is not None and replicas is None:
        usage("--ray-address goes with --replicas N")
    instances = [{**base, **line} for line in batch] if batch is not None else [base]
    _check_inputs(workflow, instances)
    if batch is not None and (checkpoint or resume):
        usage("--checkpoint and --resume keep one run: not with --inputs-jsonl")
    if replicas is not None and (checkpoint or resume):
        usage("--checkpoint and --resume keep one run: not with --replicas")
    if replicas is not None:
        results, plan = _run_replicated(workflow, instances, model, tokenizer, tools or [],
                                        allow_http or [], chosen, not no_plan_opt, seed,
                                        replicas, ray_address)
        _report(results, plan, trace, explain)
        return
    durable = _durable(file, checkpoint, resume, base, seed, bool(input or inputs))
    if durable is not None:
        instances, seed = [durable[0].inputs], durable[0].seed
    try:
        engine_options = {"tokenizer": str(tokenizer)} if tokenizer is not None else {}
        results, plan = _run_loop(_run_all(workflow, instances, model, engine_options, registry,
                                             chosen, not no_plan_opt, seed,
                                             live=sys.stderr.isatty() and batch is None,
                                             durable=durable))
    except _ModelError as exc:
        fail(str(exc))
    if durable is not None and results[0].status == "succeeded":
        durable[0].forget()
    _report(results, plan, trace, explain)


def _durable(file: Path, checkpoint: Path | None, resume: Path | None, inputs: dict[str, Any],
             seed: int, inputs_given: bool) -> Durable | None:
    """Where the run keeps its state, and the state it resumes from."""
    from flowc import checkpoint_file

    if checkpoint is None and resume is None:
        return None
    if checkpoint is not None and resume is not None:
        usage("--checkpoint and --resume: give one (a resumed run keeps checkpointing to "
              "the file it resumes from)")
    if resume is None:
        assert checkpoint is not None
        _check_writable(checkpoint, "--checkpoint")
        return checkpoint_file.CheckpointFile(checkpoint, checkpoint_file.digest(file),
                                              inputs, seed), None
    if inputs_given:
        usage(f"--resume {resume}: the run resumes with the inputs it was given; pass no "
              "--input or --inputs")
    try:
        return checkpoint_file.read(resume, file)
    except ValueError as exc:
        fail(str(exc))


async def _run_all(workflow: Workflow, instances: list[dict[str, Any]], model: str,
                   engine_options: dict[str, str], registry: ToolRegistry, schedule: str,
                   prefix_cache: bool, seed: int, live: bool,
                   durable: Durable | None = None) -> tuple[list[RunResult], Plan]:
    import asyncio

    import flowc
    from executor import Schedule, WorkflowRuntime
    from flowc.interrupt import interrupt_cancels
    from flowc.no_model import NoModel, needs_model

    if not needs_model(workflow.nodes):
        engine: EngineAPI = NoModel()
        plan = flowc.compile(workflow)
    else:
        try:
            engine = flowc.make_engine(model, prefix_cache, seed, lazy=True, **engine_options)
        except (ValueError, OSError) as exc:
            raise _ModelError(f"cannot load model {model!r}: {exc}") from exc
        plan = None
    try:
        plan = plan or flowc.compile(workflow, engine.tokenizer)
        runtime = WorkflowRuntime(engine, registry, Schedule(schedule))
        keep = {} if durable is None else {"on_checkpoint": durable[0].write,
                                           "resume": durable[1]}
        if live:
            from flowc.live_view import LiveView

            with LiveView([s.id for s in plan.steps]) as view, interrupt_cancels() as cancel:
                return [await runtime.run(plan, instances[0], seed=seed,
                                          on_event=view.on_event, cancel=cancel, **keep)], plan
        with interrupt_cancels() as cancel:
            runs = [runtime.run(plan, values, seed=seed, cancel=cancel, **keep)
                    for values in instances]
            return list(await asyncio.gather(*runs)), plan
    finally:
        engine.close()


def _run_replicated(workflow: Workflow, instances: list[dict[str, Any]], model: str,
                    tokenizer: Path | None, tool_files: list[Path], hosts: list[str],
                    schedule: str, prefix_cache: bool, seed: int, replicas: int,
                    address: str | None) -> tuple[list[RunResult], Plan]:
    from cluster import ClusterError, ReplicaSpec
    from flowc.replicas import run_on_replicas

    spec = ReplicaSpec(model=model, tokenizer=str(tokenizer) if tokenizer else None, seed=seed,
                       prefix_cache=prefix_cache, schedule=schedule,
                       tool_files=tuple(str(p.resolve()) for p in tool_files),
                       allow_http=tuple(hosts))
    try:
        return _run_loop(run_on_replicas(workflow, instances, spec, replicas, address, seed))
    except ClusterError as exc:
        fail(str(exc))


def _run_loop(main: Coroutine[Any, Any, _T]) -> _T:
    """`asyncio.run` without waiting for worker threads at the end (see `leave`)."""
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()


class _ModelError(RuntimeError):
    pass


def _report(results: list[RunResult], plan: Plan, trace: Path | None, explain: bool) -> None:
    from executor import explain_run

    for result in results:
        print(json.dumps(result.outputs, ensure_ascii=False, default=str), flush=True)
    if trace is not None:
        traces = [r.trace.to_dict() for r in results]
        trace.write_text(json.dumps(traces[0] if len(traces) == 1 else traces, indent=2,
                                    default=str), encoding="utf-8")
    if explain:
        for result in results:
            sys.stderr.write(explain_run(plan, result.trace))
    failed = [(i, r) for i, r in enumerate(results) if r.status != "succeeded"]
    for index, result in failed:
        where = f"run {index + 1}: " if len(results) > 1 else ""
        say(f"{where}{result.status}: {result.error}")
    if any(r.status == "cancelled" for r in results):
        if trace is not None:
            say(f"the partial trace is in {trace}")
        from flowc.interrupt import leave

        leave(INTERRUPTED)
    if failed:
        raise typer.Exit(WORKFLOW)


def _check_inputs(workflow: Workflow, instances: list[dict[str, Any]]) -> None:
    """Fail before loading a model when an instance's inputs are missing or mistyped."""
    from graph import InputError, first_readers, resolve_inputs

    readers = first_readers(workflow.nodes)
    for number, values in enumerate(instances, start=1):
        try:
            resolve_inputs(workflow.inputs, values, readers)
        except InputError as exc:
            where = f"inputs line {number}: " if len(instances) > 1 else ""
            fail(f"{where}{exc}")


def _load(file: Path) -> Workflow:
    from graph import load

    return load(file)


def _tools(files: list[Path], hosts: list[str]) -> ToolRegistry:
    import flowc
    from executor import ToolError

    try:
        return flowc.make_tools(files, hosts)
    except ToolError as exc:
        raise ValueError(str(exc)) from exc


def _find_missing_tools(workflow: Workflow, file: Path, registry: ToolRegistry) -> None:
    """Fail naming the tools the workflow calls that nobody registered. A `tools.py` beside the
    workflow (or one folder up) is only suggested: code runs only when named."""
    missing = sorted(_tool_names(workflow.nodes) - set(registry.names()))
    if not missing:
        return
    found = [folder / "tools.py" for folder in (file.parent, file.parent.parent)
             if (folder / "tools.py").is_file()]
    fix = f"pass --tools {found[0]} if you trust it" if found else "pass --tools FILE.py"
    raise ValueError(f"unknown tool(s) {', '.join(missing)}: {fix}")


def _tool_names(nodes: Sequence[Node]) -> set[str]:
    from graph import MapNode, ToolNode

    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ToolNode):
            names.add(node.tool)
        elif isinstance(node, MapNode):
            names |= _tool_names(node.body.nodes)
    return names


def _read_inputs(pairs: list[str], path: Path | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if path is not None:
        data = _json_file(path)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the inputs file must hold a JSON object")
        values.update(data)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--input {pair!r}: expected NAME=VALUE")
        values[name.strip()] = value
    return values


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    lines: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}:{number}: each line must be a JSON object")
        lines.append(data)
    if not lines:
        raise ValueError(f"{path}: no inputs")
    return lines


def _json_file(path: Path) -> Any:
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON: {exc.msg} (line {exc.lineno})") from None


def _check_writable(path: Path, option: str) -> None:
    """Fail before the run when a file it writes could not be written."""
    if path.is_dir():
        usage(f"{option} {path}: is a folder: name a file, e.g. {path / 'run.json'}")
    folder = path.parent
    if not folder.is_dir():
        usage(f"{option} {path}: no folder {folder}: create it or choose another path")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        usage(f"{option} {path}: not writable: choose another path")
