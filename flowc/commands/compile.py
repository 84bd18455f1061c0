"""`flowc compile FILE`: compile a workflow and print its plan."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from flowc.errors import usage

FORMAT_HELP = "text (EXPLAIN-like), json (the Plan), dot (Graphviz) or html (one page)"
TOKENIZER_HELP = "A Hugging Face tokenizer folder (default: the embedded model's)."


def register(app: typer.Typer) -> None:
    app.command(name="compile")(compile_command)


def compile_command(
    file: Annotated[Path, typer.Argument(help="The workflow JSON file.")],
    format: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "text",  # noqa: A002
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    tokenizer: Annotated[str | None, typer.Option(help=TOKENIZER_HELP)] = None,
    trace_passes: Annotated[
        bool, typer.Option("--trace-passes", help="Print each pass, its time and what it added.")
    ] = False,
) -> None:
    """Compile a workflow into an execution plan and print it."""
    from compiler import TokenizerLoadError, load_compile_tokenizer

    if not file.is_file():
        usage(f"no such file: {file}")
    loaded = _tokenizer(load_compile_tokenizer, tokenizer)  # read while the rest is imported
    from compiler import compile as compile_workflow
    from compiler.graphapi import GraphError, parse
    from compiler.render import FORMATS, render

    if format not in FORMATS:
        usage(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
    try:
        workflow = parse(file)  # compile() validates it
        plan = compile_workflow(workflow, loaded, trace=_trace if trace_passes else None)
    except TokenizerLoadError as exc:
        usage(f"--tokenizer {tokenizer}: {exc}: give a Hugging Face tokenizer folder")
    except GraphError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        raise typer.Exit(1) from exc
    text = render(plan, format)  # type: ignore[arg-type]
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            usage(f"cannot write {output}: {exc.strerror}: choose a writable path")


def _tokenizer(load: Callable[[str | None], Any], folder: str | None) -> Any:
    if folder is not None and not Path(folder).is_dir():
        usage(f"--tokenizer {folder}: no such folder: give a Hugging Face tokenizer folder")
    try:
        return load(folder)
    except (OSError, ValueError):
        usage(f"--tokenizer {folder}: no tokenizer in that folder (tokenizer.json or "
              "tokenizer_config.json): give a Hugging Face tokenizer folder, e.g. one written "
              "by `flowc export-tokenizer`")


def _trace(compiler_pass, ctx, seconds: float) -> None:
    print(
        f"pass {compiler_pass.name:<12} {seconds * 1000:8.2f} ms  {compiler_pass.summary(ctx)}",
        file=sys.stderr,
    )

