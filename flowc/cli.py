"""The `flowc` command. Each subcommand lives in `flowc/commands/<name>.py` as a thin call
into its layer and is found here by name, so adding one never edits this file.

A command module defines `register(app: typer.Typer) -> None`.
Exit codes: 0 success, 1 invalid input or failed run (message on stderr), 2 usage.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from flowc import commands

app = typer.Typer(
    name="flowc",
    help="Compile LLM workflows into execution plans and run them on flowc's engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(app)


_register_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
