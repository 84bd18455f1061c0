"""`flowc schema`: print the JSON Schema of the workflow format."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    app.command(name="schema")(schema_command)


def schema_command() -> None:
    """Print the JSON Schema of the workflow format (for editors and validators)."""
    from graph import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))
