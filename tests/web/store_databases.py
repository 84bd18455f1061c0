"""Real databases for the store tests: a SQLite file, and a fresh PostgreSQL database on the
server FLOWC_TEST_POSTGRES_URL names (CI starts one; FLOWC_REQUIRE_POSTGRES=1 makes its
absence a failure instead of a skip)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

KINDS = ("sqlite", "postgresql")


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of an empty database of `kind`, dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'flowc.db'}"
        return
    server = os.environ.get("FLOWC_TEST_POSTGRES_URL")
    if not server:
        if os.environ.get("FLOWC_REQUIRE_POSTGRES"):
            pytest.fail("FLOWC_TEST_POSTGRES_URL is not set (see .ci/postgres)")
        pytest.skip("no PostgreSQL server: set FLOWC_TEST_POSTGRES_URL (see .ci/postgres)")
    name = f"flowc_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as db:
            db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
