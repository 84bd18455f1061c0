"""The compiler driver: a Workflow through the pass pipeline to its Plan."""

from __future__ import annotations

import os
from typing import Any

from compiler.assemble import assemble
from compiler.context import CompileContext
from compiler.pipeline import PassHook, Pipeline, default_pipeline
from compiler.plan import Plan
from compiler.tokenizer import load_compile_tokenizer


def compile(  # noqa: A001 - the contract's name
    workflow: Any,
    tokenizer: Any = None,
    trace: PassHook | None = None,
    pipeline: Pipeline | None = None,
) -> Plan:
    """Compile a Workflow to a Plan. `tokenizer`: a Hugging Face tokenizer, a tokenizer folder
    path, or None for the embedded default model's (read by `load_compile_tokenizer`).
    `trace(pass, ctx, seconds)` is called after each pass. Raises graph.GraphError when the
    workflow is invalid."""
    if tokenizer is None or isinstance(tokenizer, str | os.PathLike):
        tokenizer = load_compile_tokenizer(tokenizer)
    ctx = CompileContext(workflow=workflow, tokenizer=tokenizer)
    ctx = (pipeline or default_pipeline()).run(ctx, trace)
    return assemble(ctx)
