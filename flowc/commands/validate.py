"""`flowc validate FILE`: check a workflow and list every problem."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from flowc.errors import usage


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
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    nodes = len(workflow.nodes)
    print(
        f"{file}: valid workflow '{workflow.name}', {nodes} node{'s' if nodes != 1 else ''}, "
        f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}"
    )
