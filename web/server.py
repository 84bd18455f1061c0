"""Serving the app with uvicorn, hardened: request headers must arrive within the read
timeout (uvicorn's h11 protocol waits for them forever), and a shutdown drains (web/drain.py)
before uvicorn cancels what is left."""

from __future__ import annotations

import asyncio
import socket

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from web.app import create_app
from web.drain import Drain
from web.settings import Settings

FINAL_EVENTS_S = 5.0  # after the grace: time for streams to send their final events
REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
                   b"content-length: 41\r\nconnection: close\r\n\r\n"
                   b"the request headers did not arrive in time")


class HeaderDeadline(H11Protocol):
    """h11 with a deadline on the request headers: `header_timeout_s` from the connection or
    from the previous response, then the connection is closed (with a 408 when part of a
    request had come)."""

    header_timeout_s = 30.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expire)

    def _expire(self) -> None:
        waiting = self.conn.their_state is h11.IDLE  # no complete request line and headers
        if not waiting or self.transport.is_closing():
            return
        partial, _ = self.conn.trailing_data
        if partial:  # an idle connection is closed quietly: a 408 could meet the next request
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


class DrainingServer(uvicorn.Server):
    """uvicorn's shutdown (stop accepting, wait for connections, then cancel them), with the
    drain's grace begun first."""

    def __init__(self, config: uvicorn.Config, drain: Drain, grace_s: float) -> None:
        super().__init__(config)
        self.drain, self.grace_s = drain, grace_s

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.drain.begin(self.grace_s)
        await super().shutdown(sockets)


def serve(settings: Settings, log_level: str = "info",
          listening: socket.socket | None = None) -> None:
    """Run the service on `listening` (a bound socket; settings.host:settings.port if None)
    until SIGINT or SIGTERM."""
    app = create_app(settings)
    protocol = type("HeaderDeadlineH11", (HeaderDeadline,),
                    {"header_timeout_s": settings.read_timeout_s})
    grace = settings.shutdown_grace_s
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=log_level,
                            http=protocol, timeout_graceful_shutdown=int(grace + FINAL_EVENTS_S))
    DrainingServer(config, app.state.drain, grace).run(
        sockets=[listening] if listening is not None else None)
