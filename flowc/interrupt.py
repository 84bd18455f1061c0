"""Ctrl-C during a run: the first one cancels the run (it ends `cancelled`, naming the node in
flight, with its partial trace); a second one stops the process at once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn


@contextmanager
def interrupt_cancels() -> Iterator[asyncio.Event]:
    """An event that the first SIGINT sets, on the running loop (a plain event where the loop
    cannot take signal handlers, e.g. outside the main thread)."""
    loop = asyncio.get_running_loop()
    cancel = asyncio.Event()

    def first() -> None:
        cancel.set()
        loop.remove_signal_handler(signal.SIGINT)  # back to KeyboardInterrupt

    try:
        loop.add_signal_handler(signal.SIGINT, first)
    except (NotImplementedError, RuntimeError, ValueError):
        yield cancel
        return
    try:
        yield cancel
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def leave(code: int) -> NoReturn:
    """Exit now, without joining worker threads: a cancelled run's synchronous tool may still
    be running in one, and Python would otherwise wait for it to return."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
