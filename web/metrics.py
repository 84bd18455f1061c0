"""Prometheus text exposition of the service's counters and the engine's stats.

Request counts are kept here (by method, route template and status); everything about the
engine comes from `EngineAPI.stats()` at scrape time. Tokens per second is the rate of
generated tokens over the last `window_s` seconds, sampled at each scrape and by `sample()`.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence

from engine.api import EngineStats


class Metrics:
    def __init__(self, window_s: float = 10.0) -> None:
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()

    def count_request(self, method: str, route: str, status: int) -> None:
        self.requests[(method, route, status)] += 1

    def sample(self, stats: EngineStats) -> None:
        now = time.monotonic()
        self._samples.append((now, stats.generated_tokens))
        while len(self._samples) > 2 and now - self._samples[1][0] > self.window_s:
            self._samples.popleft()

    def tokens_per_second(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def render(self, stats: EngineStats, runs_in_flight: int, slots_in_use: int,
               replicas: Sequence[Mapping[str, object]] = ()) -> str:
        """`replicas`: each replica's public record (`cluster.ReplicaState.public`)."""
        self.sample(stats)
        hit_rate = stats.cached_tokens / stats.prompt_tokens if stats.prompt_tokens else 0.0
        lines: list[str] = []
        _family(lines, "flowc_http_requests_total", "counter", "HTTP requests answered")
        for (method, route, code), n in sorted(self.requests.items()):
            lines.append(f'flowc_http_requests_total{{method="{method}",route="{_esc(route)}",'
                         f'status="{code}"}} {n}')
        gauges = [
            ("flowc_tokens_per_second", "generated tokens per second, recent window",
             self.tokens_per_second()),
            ("flowc_kv_pages_in_use", "KV cache pages in use", stats.pages_in_use),
            ("flowc_kv_pages_total", "KV cache pages in all", stats.pages_total),
            ("flowc_prefix_cache_hit_rate", "prompt tokens served from the prefix cache",
             hit_rate),
            ("flowc_queue_depth", "requests waiting for the engine", stats.waiting),
            ("flowc_running_requests", "requests the engine is running", stats.running),
            ("flowc_runs_in_flight", "graph runs queued or running", runs_in_flight),
            ("flowc_slots_in_use", "generation slots taken (runs and completions)",
             slots_in_use),
        ]
        for name, help_text, value in gauges:
            _family(lines, name, "gauge", help_text)
            lines.append(f"{name} {_num(value)}")
        counters = [
            ("flowc_prompt_tokens_total", "prompt tokens submitted", stats.prompt_tokens),
            ("flowc_cached_tokens_total", "prompt tokens found cached", stats.cached_tokens),
            ("flowc_generated_tokens_total", "tokens generated", stats.generated_tokens),
            ("flowc_engine_steps_total", "engine steps", stats.steps),
        ]
        for name, help_text, value in counters:
            _family(lines, name, "counter", help_text)
            lines.append(f"{name} {_num(value)}")
        for key, value in sorted(stats.extra.items()):
            name = "flowc_engine_" + "".join(c if c.isalnum() else "_" for c in key)
            _family(lines, name, "gauge", f"engine stat {key}")
            lines.append(f"{name} {_num(value)}")
        _replica_lines(lines, replicas)
        return "\n".join(lines) + "\n"


REPLICA_FAMILIES = (
    ("flowc_replica_up", "gauge", "1 when the replica is alive", "state"),
    ("flowc_replica_load", "gauge", "runs and requests in flight on the replica", "load"),
    ("flowc_replica_restarts_total", "counter", "times the replica's slot was refilled",
     "restarts"),
    ("flowc_replica_prompt_tokens_total", "counter", "prompt tokens the replica took",
     "prompt_tokens"),
    ("flowc_replica_cached_tokens_total", "counter",
     "prompt tokens the replica served from its prefix cache", "cached_tokens"),
)


def _replica_lines(lines: list[str], replicas: Sequence[Mapping[str, object]]) -> None:
    if not replicas:
        return
    for name, kind, help_text, key in REPLICA_FAMILIES:
        _family(lines, name, kind, help_text)
        for replica in replicas:
            value = replica[key]
            number = int(value == "alive") if key == "state" else int(str(value))
            lines.append(f'{name}{{replica="{replica["replica"]}"}} {number}')


def _family(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")


def _num(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
