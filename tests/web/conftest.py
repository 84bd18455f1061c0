"""Fixtures of the web tests: two live servers per test run, started side by side."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_server import API_KEY, CORS_ORIGIN, RUN_TOKEN_LIMIT, LiveServer
from store_databases import KINDS, fresh_database


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two servers started side by side (each loads the model once): `open` without auth,
    with 64 slots and the tools of tools_sample.py; `locked` with an API key, one slot, one
    CORS origin and a run token limit."""
    open_server = LiveServer(tmp_path_factory.mktemp("serve"), "--max-concurrent-runs", "64",
                             "--tools", str(Path(__file__).with_name("tools_sample.py")),
                             env={"FLOWC_LEASE_S": "3"})
    locked = LiveServer(tmp_path_factory.mktemp("locked"), "--max-concurrent-runs", "1",
                        "--cors-origin", CORS_ORIGIN, api_key=API_KEY,
                        env={"FLOWC_MAX_RUN_TOKENS": str(RUN_TOKEN_LIMIT)})
    started = [open_server.start(wait=False), locked.start(wait=False)]
    try:
        for live in started:
            live.wait_healthy()
        yield open_server, locked
    finally:
        for live in started:
            live.stop()


@pytest.fixture(scope="session")
def server(servers: tuple[LiveServer, LiveServer]) -> LiveServer:
    return servers[0]


@pytest.fixture(scope="session")
def locked(servers: tuple[LiveServer, LiveServer]) -> LiveServer:
    return servers[1]


@pytest.fixture(scope="session")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http



@pytest.fixture(params=KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL."""
    with fresh_database(request.param, tmp_path) as url:
        yield url
