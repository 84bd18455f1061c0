"""`flowc validate FILE`: check a workflow and list every problem."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flowc.errors import usage

if TYPE_CHECKING:
    from graph import Workflow


def register(app: typer.Typer) -> None:
    app.command(name="validate")(validate_command)


def validate_command(
    file: Annotated[Path, typer.Argument(help="The workflow JSON file.")],
) -> None:
    """Validate a workflow: exit 0 when valid (warnings on stderr), 1 with every error."""
    from graph import GraphError, load_with_warnings

    if not file.is_file():
        usage(f"no such file: {file}")
    try:
        workflow, warnings = load_with_warnings(file)
    except GraphError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        raise typer.Exit(1) from exc
    messages = [str(w) for w in warnings] + _choice_warnings(workflow)
    for message in messages:
        print(f"warning: {message}", file=sys.stderr)
    nodes = len(workflow.nodes)
    print(
        f"{file}: valid workflow '{workflow.name}', {nodes} node{'s' if nodes != 1 else ''}, "
        f"{len(messages)} warning{'s' if len(messages) != 1 else ''}"
    )


def _choice_warnings(workflow: Workflow) -> list[str]:
    """The compiler's word on llm nodes whose max_tokens cannot hold a choice (it needs the
    tokenizer, so only workflows with such a bound are compiled)."""
    from compiler import compile as compile_workflow

    bounded = any(n.type == "llm" and n.choices and (n.max_tokens or workflow.defaults.max_tokens)
                  for n in workflow.nodes)
    if not bounded:
        return []
    plan = compile_workflow(workflow)
    return [d.message for d in plan.diagnostics if d.code == "choice-too-long"]
