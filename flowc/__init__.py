"""flowc: compile LLM workflows into execution plans and run them on a paged-KV engine.

    import flowc
    workflow = flowc.load("examples/graphs/soar_triage.json")
    plan = flowc.compile(workflow)
    result = flowc.run(workflow, {"alert": "..."})   # RunResult: status, outputs, trace
    flowc.serve(port=8000)                           # the HTTP service
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from compiler import Plan
    from engine.api import EngineAPI
    from executor import RunEvent, RunResult, ToolRegistry
    from graph import Workflow

__all__ = ["arun", "compile", "load", "make_engine", "make_tools", "run", "serve"]


def load(source: str | bytes | Path | dict[str, Any]) -> Workflow:
    """A validated Workflow from a file path (str or Path), JSON text or a dict (GraphError if
    not); a one-line string that does not start with `{` is a path."""
    from graph import load as load_workflow

    return load_workflow(_as_path(source))


def compile(workflow: Workflow | str | bytes | Path | dict[str, Any],  # noqa: A001
            tokenizer: Any = None) -> Plan:
    """The Plan of a Workflow (or of anything `load` accepts)."""
    from compiler import compile as compile_workflow

    return compile_workflow(_workflow(workflow), tokenizer)


def make_engine(model: str = "default", optimize: bool = True, seed: int = 0,
                lazy: bool = False, **config: Any) -> EngineAPI:
    """An engine for `model` ("default", a model folder or .gguf file, "dummy:SHAPE");
    `optimize=False` turns its prefix cache off (the plain orchestrator baseline).
    `lazy=True` loads the model when a request first needs it (see `flowc.lazy_engine`), for
    "default" and model folders, whose tokenizer loads without the model."""
    def open_engine() -> EngineAPI:
        from engine import AsyncEngine, EngineConfig

        settings = {"enable_prefix_cache": optimize, **config}
        return AsyncEngine.from_config(EngineConfig(model=model, seed=seed, **settings))

    if lazy and (model == "default" or Path(model).is_dir()):
        from flowc.lazy_engine import lazy_engine

        return lazy_engine(model, open_engine, config.get("page_size"))
    return open_engine()


async def arun(
    workflow: Workflow | str | bytes | Path | dict[str, Any],
    inputs: dict[str, Any] | None = None,
    *,
    engine: EngineAPI | None = None,
    model: str = "default",
    tools: ToolRegistry | None = None,
    tool_files: Iterable[str | Path] = (),
    allow_http: Iterable[str] = (),
    optimize: bool = True,
    seed: int = 0,
    on_event: Callable[[RunEvent], None] | None = None,
    cancel: asyncio.Event | None = None,
) -> RunResult:
    """Compile and run a workflow; returns the executor's RunResult. Without `engine`, one is
    made for `model`, loads the model only if the run reaches an `llm` or `select` node, and
    is closed afterwards."""
    from executor import Schedule, WorkflowRuntime

    own = engine is None
    engine = engine if engine is not None else make_engine(model, optimize, seed, lazy=True)
    try:
        plan = compile(workflow, engine.tokenizer)
        registry = tools if tools is not None else make_tools(tool_files, allow_http)
        runtime = WorkflowRuntime(engine, registry,
                                  Schedule.PLANNED if optimize else Schedule.SEQUENTIAL)
        return await runtime.run(plan, inputs or {}, seed=seed, on_event=on_event,
                                 cancel=cancel)
    finally:
        if own:
            engine.close()


def run(workflow: Workflow | str | bytes | Path | dict[str, Any],
        inputs: dict[str, Any] | None = None, **options: Any) -> RunResult:
    """`arun` for synchronous callers."""
    import asyncio

    return asyncio.run(arun(workflow, inputs, **options))


def make_tools(tool_files: Iterable[str | Path] = (), allow_http: Iterable[str] = ()
               ) -> ToolRegistry:
    """The built-in tools, those installed packages publish, and those of `tool_files`."""
    from executor import load_tools

    return load_tools(tool_files, allow_http)


def serve(host: str = "127.0.0.1", port: int = 8000, **settings: Any) -> None:
    """Serve the HTTP API (blocks until stopped)."""
    from flowc.commands.serve import serve as serve_command

    serve_command(host=host, port=port, **settings)


def _as_path(source: str | bytes | Path | dict[str, Any]) -> bytes | Path | dict[str, Any] | str:
    """A one-line string that cannot be JSON text names a file. Only this façade reads it so:
    `graph.load` takes a str as JSON text always, as the server passes uploaded text to it."""
    if isinstance(source, str):
        stripped = source.strip()
        if stripped and "\n" not in stripped and not stripped.startswith(("{", "[")):
            return Path(stripped)
    return source


def _workflow(workflow: Workflow | str | bytes | Path | dict[str, Any]) -> Workflow:
    from graph import Workflow

    return workflow if isinstance(workflow, Workflow) else load(workflow)
