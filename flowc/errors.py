"""How the CLI fails: one line on stderr, `error: <the problem>: <the fix>`, and an exit code
that says whose fault it is.

    0  success
    1  the workflow's fault: an invalid graph, bad inputs, a failed or cancelled run
    2  usage: an unknown option, a missing file or folder, an unwritable --trace path
    3  a bug in flowc (FLOWC_DEBUG=1 shows its traceback)
  130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

WORKFLOW = 1
USAGE = 2
BUG = 3
INTERRUPTED = 130
PREFIX = "error: "


def say(message: str) -> None:
    """One line on stderr with the CLI's error prefix."""
    line = " ".join(message.split())
    print(PREFIX + line, file=sys.stderr, flush=True)


def fail(message: str, code: int = WORKFLOW) -> NoReturn:
    say(message)
    raise typer.Exit(code)


def usage(message: str) -> NoReturn:
    fail(message, USAGE)
