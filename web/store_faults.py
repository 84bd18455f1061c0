"""Storage faults: the database's outages (a full disk, a deleted or unreachable database)
told apart from programming errors, and a SQLite file watched so that writes never go to a
file someone deleted while the server had it open."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError


class StoreUnavailable(Exception):
    """The database cannot be used now; nothing was written and the request may be retried
    (answered 503 with Retry-After)."""


def is_outage(exc: BaseException) -> bool:
    """Whether a database error comes from the database's state (full, gone, locked,
    unreachable) rather than from what was asked of it."""
    return isinstance(exc, DBAPIError) and not isinstance(
        exc, IntegrityError | ProgrammingError | DataError)


def describe(exc: BaseException) -> str:
    """A one-line account of an outage for clients and /health."""
    detail = str(exc.orig if isinstance(exc, DBAPIError) else exc).strip().splitlines()
    first = detail[0] if detail else type(exc).__name__
    if "full" in first.lower() or "no space" in first.lower():
        return f"the database's disk is full ({first})"
    return f"the database is unavailable ({first})"


@dataclass
class DatabaseFile:
    """A SQLite database file and the identity (device, inode) it had when opened."""

    path: Path
    identity: tuple[int, int] | None = None

    def check(self) -> bool:
        """Raises StoreUnavailable when the file is gone; True when another file now stands
        at its path (the open connections still point at the old one)."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise StoreUnavailable(f"the database file {self.path} was deleted") from None
        identity = (stat.st_dev, stat.st_ino)
        replaced = self.identity is not None and identity != self.identity
        self.identity = identity
        return replaced


def sqlite_file(url: str) -> DatabaseFile | None:
    """The file of a sqlite:/// URL; None for other databases and in-memory SQLite."""
    if not url.startswith("sqlite:///") or url in ("sqlite:///:memory:", "sqlite://"):
        return None
    return DatabaseFile(Path(url.removeprefix("sqlite:///")).expanduser())
