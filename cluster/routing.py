"""Which replica serves a request: affinity by key with load balance.

Runs of one plan share a key (the hash of its pinned prefix groups) and OpenAI requests share
one when their prompts start alike, so the replica that already holds those prefixes' KV gets
them, unless its load is well above the least loaded replica's: then the least loaded one does.
Rendezvous hashing ranks the replicas for a key, so losing or adding a replica moves only the
keys it was first for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from compiler import Plan

PROMPT_KEY_TOKENS = 256  # the prompt's head that names its prefix for routing


def plan_key(plan: Plan) -> str:
    """The same for every compile of a graph: its pinned prefix groups' static token ids, or
    the workflow and its steps when it has none."""
    digest = hashlib.blake2b(digest_size=12)
    groups = sorted(g.token_ids for g in plan.prefix_groups if g.token_ids)
    if groups:
        for ids in groups:
            digest.update(_ids_bytes(ids) + b"|")
    else:
        digest.update(plan.workflow.encode())
        for step in plan.walk():
            digest.update(b"|" + step.id.encode())
    return digest.hexdigest()


def prompt_key(token_ids: Sequence[int], page_size: int = 16) -> str:
    """The prompt's first whole pages (up to PROMPT_KEY_TOKENS tokens)."""
    head = min(len(token_ids), PROMPT_KEY_TOKENS)
    head = max(head - head % page_size, min(len(token_ids), page_size))
    return hashlib.blake2b(_ids_bytes(token_ids[:head]), digest_size=12).hexdigest()


class Router:
    """`pick(key, loads)` -> a replica id. `slack` is how far (in runs or requests) the
    preferred replica's load may exceed the least loaded one's before load wins; `ratio` is
    the same as a multiple, for large loads."""

    def __init__(self, slack: int = 4, ratio: float = 1.5, affinity: bool = True) -> None:
        self.slack, self.ratio, self.affinity = slack, ratio, affinity
        self._turn = 0
        self.routed = 0
        self.affine = 0  # picks that went to the key's preferred replica

    def pick(self, key: str, loads: Mapping[int, int]) -> int:
        if not loads:
            raise LookupError("no replica is alive")
        least = min(loads, key=lambda r: (loads[r], r))
        if not self.affinity:
            self._turn += 1
            ids = sorted(loads)
            return ids[self._turn % len(ids)]
        preferred = max(loads, key=lambda r: _weight(key, r))
        self.routed += 1
        limit = max(loads[least] + self.slack, loads[least] * self.ratio)
        if loads[preferred] <= limit:
            self.affine += 1
            return preferred
        return least


def _weight(key: str, replica: int) -> int:
    data = f"{key}/{replica}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def _ids_bytes(ids: Sequence[int]) -> bytes:
    return b"".join(int(t).to_bytes(4, "little", signed=False) for t in ids)
