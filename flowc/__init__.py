"""flowc: compile LLM workflows into execution plans and run them on a paged-KV engine.

    import flowc
    workflow = flowc.load("examples/graphs/soar_triage.json")
    plan = flowc.compile(workflow)
    result = flowc.run(workflow, {"alert": "..."})   # RunResult: status, outputs, trace
    flowc.serve(port=8000)                           # the HTTP service
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["arun", "compile", "load", "make_engine", "run", "serve"]


def load(source: str | bytes | Path | dict[str, Any]) -> Any:
    """A validated Workflow from a JSON file path, JSON text or a dict (GraphError if not)."""
    from compiler.graphapi import load as load_workflow

    return load_workflow(source)


def compile(workflow: Any, tokenizer: Any = None) -> Any:  # noqa: A001 - the public name
    """The Plan of a Workflow (or of anything `load` accepts)."""
    from compiler import compile as compile_workflow

    return compile_workflow(_workflow(workflow), tokenizer)


def make_engine(model: str = "default", optimize: bool = True, seed: int = 0,
                **config: Any) -> Any:
    """An AsyncEngine for `model` ("default", a model folder or .gguf file, "dummy:SHAPE");
    `optimize=False` turns its prefix cache off (the plain orchestrator baseline)."""
    from engine.config import EngineConfig
    from engine.engine import AsyncEngine

    settings = {"enable_prefix_cache": optimize, **config}
    return AsyncEngine.from_config(EngineConfig(model=model, seed=seed, **settings))


async def arun(
    workflow: Any,
    inputs: dict[str, Any] | None = None,
    *,
    engine: Any = None,
    model: str = "default",
    tools: Any = None,
    tool_files: Iterable[str | Path] = (),
    allow_http: Iterable[str] = (),
    optimize: bool = True,
    seed: int = 0,
    on_event: Callable[[Any], None] | None = None,
    cancel: asyncio.Event | None = None,
) -> Any:
    """Compile and run a workflow; returns the executor's RunResult. Without `engine`, one is
    made for `model` and closed afterwards."""
    from engine.executor import Executor

    own_engine = engine is None
    engine = engine if engine is not None else make_engine(model, optimize, seed)
    try:
        plan = compile(workflow, engine.tokenizer)
        registry = tools if tools is not None else make_tools(tool_files, allow_http)
        executor = Executor(plan, engine, engine.tokenizer, registry, optimize, seed)
        return await executor.run(inputs or {}, on_event=on_event, cancel=cancel)
    finally:
        if own_engine:
            engine.close()


def run(workflow: Any, inputs: dict[str, Any] | None = None, **options: Any) -> Any:
    """`arun` for synchronous callers."""
    return asyncio.run(arun(workflow, inputs, **options))


def make_tools(tool_files: Iterable[str | Path] = (), allow_http: Iterable[str] = ()) -> Any:
    """The built-in tools, those installed packages publish, and those of `tool_files`."""
    from engine.tools import ToolRegistry

    hosts = list(allow_http)
    registry = ToolRegistry.with_builtins(allow_http=bool(hosts), hosts=hosts)
    registry.load_entry_points()
    for path in tool_files:
        registry.load_module(path)
    return registry


def serve(host: str = "127.0.0.1", port: int = 8000, **settings: Any) -> None:
    """Serve the HTTP API (blocks until stopped)."""
    from flowc.commands.serve import serve as serve_command

    serve_command(host=host, port=port, **settings)


def _workflow(workflow: Any) -> Any:
    from graph.model import Workflow

    return workflow if isinstance(workflow, Workflow) else load(workflow)
