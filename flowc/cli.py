"""The `flowc` command. Each subcommand lives in `flowc/commands/<name>.py` as a thin call
into its layer and is found here by name, so adding one never edits this file.

A command module defines `register(app: typer.Typer) -> None`.
No traceback reaches a user: every failure is one line on stderr with the exit codes of
`flowc/errors.py` (0 success, 1 the workflow's fault, 2 usage, 3 a bug, 130 Ctrl-C).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from typing import Annotated

import typer
from typer._click import exceptions as click_errors  # typer vendors click: its usage errors

from flowc import commands, errors

app = typer.Typer(
    name="flowc",
    help="Compile LLM workflows into execution plans and run them on flowc's engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if not value:
        return  # called on every command: importing importlib.metadata costs 20 ms
    from importlib.metadata import PackageNotFoundError, version

    try:
        print(f"flowc {version('flowc')}")
    except PackageNotFoundError:
        print("flowc (not installed)")
    raise typer.Exit(0)


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version, help="Print the version and exit.")
    ] = False,
) -> None:
    """Compile LLM workflows into execution plans and run them on flowc's engine."""


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    sys.exit(_main(argv))


def _main(argv: list[str] | None) -> int:
    try:
        code = app(args=argv, standalone_mode=False)
    except click_errors.NoArgsIsHelpError:
        return errors.USAGE  # typer has printed the help
    except click_errors.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "flowc"
        errors.say(f"{exc.format_message()} (see {command} --help)")
        return errors.USAGE
    except typer.Exit as exc:
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        errors.say("interrupted")
        return errors.INTERRUPTED
    except Exception as exc:
        if os.environ.get("FLOWC_DEBUG"):
            raise
        errors.say(f"internal error: {type(exc).__name__}: {exc} (a bug in flowc: rerun with "
                   "FLOWC_DEBUG=1 for its traceback)")
        return errors.BUG
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    main()
