"""A pool of engine replicas as Ray actors, one per GPU (or per CPU slot on a CPU machine).

The pool starts a local Ray when given no address, makes its replicas, counts each one's load
(runs and requests in flight) and routes by key (`cluster.routing`). A replica whose process
dies is replaced in its slot; `call` runs again on another replica whatever the dead one left
unfinished, so each call completes exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cluster.replica import Replica
from cluster.routing import Router
from cluster.spec import ReplicaSpec
from engine.api import EngineStats

log = logging.getLogger("flowc.cluster")
_T = TypeVar("_T")
STATS_EVERY_S = 1.0


class ClusterError(RuntimeError):
    """Ray is missing, or no replica could be started."""


@dataclass
class ReplicaState:
    slot: int
    actor: Any  # a Ray ActorHandle of Replica
    pid: int = 0
    state: str = "starting"  # starting | alive | dead
    load: int = 0  # runs and requests in flight
    restarts: int = 0
    stats: EngineStats = field(default_factory=EngineStats)
    ready: asyncio.Future[None] | None = None

    def public(self) -> dict[str, Any]:
        stats = self.stats
        return {"replica": self.slot, "pid": self.pid, "state": self.state, "load": self.load,
                "restarts": self.restarts, "prompt_tokens": stats.prompt_tokens,
                "cached_tokens": stats.cached_tokens,
                "generated_tokens": stats.generated_tokens}


@dataclass
class Attempt:
    """Where a call ran: the replica's slot and pid, and why it ended there if it failed."""

    slot: int
    pid: int
    error: str | None = None


class ReplicaPool:
    def __init__(self, spec: ReplicaSpec, replicas: int, address: str | None = None,
                 router: Router | None = None, num_cpus: int | None = None) -> None:
        if replicas < 1:
            raise ClusterError(f"replicas must be at least 1, got {replicas}")
        self.spec, self.size, self.address, self.num_cpus = spec, replicas, address, num_cpus
        self.router = router or Router()
        self.replicas: list[ReplicaState] = []
        self.describe: dict[str, Any] = {}
        self._ray: Any = None
        self._watch: asyncio.Task[None] | None = None
        self._gpu_each = False

    async def start(self) -> None:
        """Connect to (or start) Ray and wait until every replica has loaded its model."""
        self._ray = _import_ray()
        if not self._ray.is_initialized():
            self._init_ray()
        self._gpu_each = self._wants_gpus()
        self.replicas = [self._spawn(slot) for slot in range(self.size)]
        try:
            await asyncio.gather(*(r.ready for r in self.replicas if r.ready))
        except Exception as exc:
            self.stop()
            raise ClusterError(f"a replica failed to start: {_reason(exc)}") from exc
        self.describe = await self.replicas[0].actor.describe.remote()
        self._watch = asyncio.create_task(self._poll_stats())

    def _wants_gpus(self) -> bool:
        """One GPU a replica for device cuda, and for auto on a cluster with GPUs (Ray hides
        the GPUs from an actor that asks for none)."""
        device = self.spec.device
        if device == "auto":
            return self._ray.cluster_resources().get("GPU", 0) > 0
        return device.startswith("cuda")

    def _init_ray(self) -> None:
        """Ray's driver installs fatal-signal handlers of its own: the process's handlers
        (a server's graceful stop on SIGTERM) are put back."""
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                   "configure_logging": False}
        if self.address is None:
            options["num_cpus"] = self.num_cpus or self.size
        kept = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        self._ray.init(address=self.address, **options)
        if threading.current_thread() is threading.main_thread():
            for sig, handler in kept.items():
                if handler is not None:
                    signal.signal(sig, handler)

    async def shutdown(self) -> None:
        """`stop`, from inside the pool's event loop (its stats poller ends there too)."""
        watch = self._watch
        self.stop()
        if watch is not None:
            await asyncio.gather(watch, return_exceptions=True)

    def stop(self) -> None:
        """Kill the replicas (Ray itself keeps running: see `cluster.shutdown_ray`)."""
        if self._watch is not None:
            self._watch.cancel()
        for replica in self.replicas:
            with contextlib.suppress(Exception):
                self._ray.kill(replica.actor)
        self.replicas = []

    def loads(self) -> dict[int, int]:
        return {r.slot: r.load for r in self.replicas if r.state == "alive"}

    def stats(self) -> EngineStats:
        """The replicas' engine counters summed (as last polled)."""
        total = EngineStats()
        for replica in self.replicas:
            s = replica.stats
            total.pages_total += s.pages_total
            total.pages_in_use += s.pages_in_use
            total.running += s.running
            total.waiting += s.waiting
            total.prompt_tokens += s.prompt_tokens
            total.cached_tokens += s.cached_tokens
            total.generated_tokens += s.generated_tokens
            total.steps += s.steps
        return total

    async def refresh_stats(self) -> None:
        for replica in [r for r in self.replicas if r.state == "alive"]:
            try:
                replica.stats = await replica.actor.stats.remote()
            except Exception as exc:
                if self._is_death(exc):
                    self._replace(replica, exc)

    async def call(self, key: str, work: Callable[[ReplicaState], Awaitable[_T]],
                   attempts: list[Attempt] | None = None) -> _T:
        """`work` on the replica `key` routes to; again on another while replicas die."""
        attempts = attempts if attempts is not None else []
        while True:
            replica = await self._pick(key)
            attempts.append(Attempt(replica.slot, replica.pid))
            replica.load += 1
            try:
                return await work(replica)
            except Exception as exc:
                if not self._is_death(exc):
                    raise _cause(exc) from None
                attempts[-1].error = _reason(exc)
                self._replace(replica, exc)
            finally:
                replica.load -= 1

    def ask(self, key: str, method: str, *args: Any, timeout_s: float = 30.0) -> Any:
        """A short synchronous call on the replica `key` routes to (blocks the caller)."""
        loads = self.loads()
        if not loads:
            raise ClusterError("no replica is alive")
        replica = self.replicas[self.router.pick(key, loads)]
        try:
            return self._ray.get(getattr(replica.actor, method).remote(*args), timeout=timeout_s)
        except Exception as exc:
            raise _cause(exc) from None

    async def stream(self, key: str, work: Callable[[ReplicaState], AsyncIterator[_T]]
                     ) -> AsyncIterator[_T]:
        """Items of `work` on one replica; a stream cut by a dead replica is not resumed."""
        replica = await self._pick(key)
        replica.load += 1
        try:
            async for item in work(replica):
                yield item
        except Exception as exc:
            if self._is_death(exc):
                self._replace(replica, exc)
            raise _cause(exc) from None
        finally:
            replica.load -= 1

    async def _pick(self, key: str) -> ReplicaState:
        while True:
            loads = self.loads()
            if loads:
                return self.replicas[self.router.pick(key, loads)]
            starting = [r.ready for r in self.replicas if r.ready is not None]
            if not starting:
                raise ClusterError("no replica is alive")
            await asyncio.wait(starting, return_when=asyncio.FIRST_COMPLETED)

    def _spawn(self, slot: int, restarts: int = 0) -> ReplicaState:
        options: dict[str, Any] = {"num_cpus": 1, "max_restarts": 0, "max_concurrency": 1000,
                                   "num_gpus": 1 if self._gpu_each else 0}
        actor = self._ray.remote(**options)(Replica).remote(self.spec)
        replica = ReplicaState(slot, actor, restarts=restarts)
        replica.ready = asyncio.ensure_future(self._until_ready(replica))
        return replica

    async def _until_ready(self, replica: ReplicaState) -> None:
        try:
            described = await replica.actor.describe.remote()
        except Exception:
            replica.state = "dead"
            raise
        finally:
            replica.ready = None
        replica.pid, replica.state = described["pid"], "alive"
        log.info("replica %d is up (pid %d)", replica.slot, replica.pid)

    def _replace(self, replica: ReplicaState, cause: BaseException) -> None:
        """Start a new replica in a dead one's slot (once, however many calls saw it die)."""
        if self.replicas[replica.slot] is not replica or replica.state == "dead":
            return
        replica.state = "dead"
        log.warning("replica %d (pid %d) died: %s; starting another", replica.slot,
                    replica.pid, _reason(cause))
        with contextlib.suppress(Exception):
            self._ray.kill(replica.actor)
        fresh = self._spawn(replica.slot, replica.restarts + 1)
        self.replicas[replica.slot] = fresh
        if fresh.ready is not None:
            fresh.ready.add_done_callback(_log_failure)

    def _is_death(self, exc: BaseException) -> bool:
        errors = self._ray.exceptions
        return isinstance(exc, errors.RayActorError | errors.ActorUnavailableError)

    async def _poll_stats(self) -> None:
        while True:
            await self.refresh_stats()
            await asyncio.sleep(STATS_EVERY_S)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ClusterError("replicas need Ray: pip install 'flowc[cluster]'") from exc
    return ray


def _cause(exc: BaseException) -> BaseException:
    """The error the replica raised, not Ray's wrapper of it."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def _log_failure(ready: asyncio.Future[None]) -> None:
    if not ready.cancelled() and ready.exception() is not None:
        log.error("a replacement replica failed to start: %s", _reason(ready.exception()))
