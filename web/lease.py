"""The serving process's lease on its runs: a row in the store with an expiry, renewed in the
background every third of its length. While renewing, the server also marks interrupted
the runs of processes whose lease has expired (killed, or cut off from the database), so a
run is never left `running` for good, whichever server, port or host comes next.

Invariant: a process takes its lease before it stores any run, and gives it up only after
its own runs are finished or marked interrupted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from web.store import Store, new_id
from web.store_faults import StoreUnavailable

log = logging.getLogger("flowc.web.lease")


class Lease:
    def __init__(self, store: Store, server: str, length_s: float) -> None:
        self.store, self.server, self.length_s = store, server, length_s
        self.id = new_id("lease")

    def take(self) -> int:
        """Take the lease and interrupt the runs of expired ones; how many were."""
        self._renew()
        return self._sweep()

    async def keep(self, on_tick: Callable[[], Awaitable[None]]) -> None:
        """Renew until cancelled; `on_tick` runs after each renewal (retrying writes that
        failed, for instance)."""
        while True:
            await asyncio.sleep(self.length_s / 3)
            try:
                self._renew()
                if interrupted := self._sweep():
                    log.warning("marked %d runs of a stopped server interrupted", interrupted)
            except StoreUnavailable as exc:
                log.error("could not renew the lease: %s", exc)
            await on_tick()

    def give_up(self) -> None:
        try:
            self.store.drop_lease(self.id)
        except StoreUnavailable as exc:
            log.error("could not give up the lease (it expires by itself): %s", exc)

    def _renew(self) -> None:
        self.store.renew_lease(self.id, self.server, time.time() + self.length_s)

    def _sweep(self) -> int:
        return self.store.interrupt_orphans(time.time())
