"""A request as the scheduler and the KV manager see it: its tokens and its block table.

Invariants:
- `token_ids` is the prompt followed by the generated tokens.
- The first `num_computed_tokens` tokens have their K/V in the pages of `block_table`
  (`len(block_table) == ceil(num_computed_tokens / page_size)` between steps).
- A generating sequence samples a token each time its computed tokens catch up with its
  tokens; a decode step therefore computes exactly one token (the last one sampled).
- Preemption by recompute drops every page and sets `num_computed_tokens` to 0; the tokens
  (generated ones included) are computed again when it is scheduled back.
"""

from __future__ import annotations

import enum
import itertools
import time

from engine.api import SamplingParams

_arrivals = itertools.count()


class SequenceStatus(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


class SequenceKind(enum.Enum):
    GENERATE = "generate"  # sample tokens after the prompt
    PREFILL = "prefill"  # compute the prompt's KV and keep it (a prefix handle)
    SCORE = "score"  # log-probabilities of the tokens after `score_from`


class Sequence:
    def __init__(
        self,
        request_id: str,
        token_ids: list[int],
        sampling: SamplingParams,
        priority: int = 0,
        kind: SequenceKind = SequenceKind.GENERATE,
        score_from: int = 0,
    ) -> None:
        self.request_id = request_id
        self.token_ids = list(token_ids)
        self.num_prompt_tokens = len(token_ids)
        self.sampling = sampling
        self.priority = priority
        self.kind = kind
        self.score_from = score_from
        self.arrival = next(_arrivals)
        self.submit_time = time.perf_counter()
        self.first_token_time: float | None = None
        self.status = SequenceStatus.WAITING
        self.block_table: list[int] = []
        self.num_computed_tokens = 0
        self.num_cached_tokens = 0  # prompt tokens found in the prefix cache on first admission
        self.num_preemptions = 0
        self.logprobs: list[float] = []
        self.kept_logprobs = 0  # leading logprobs that survive a preemption (given, not computed)
        # a scoring root: the first token of each continuation scored on its shared KV
        self.branch_targets: tuple[int, ...] = ()
        self.branch_logprobs: list[float] = []
        self.top_logprobs: list[list[tuple[int, float]]] = []  # with sampling.top_logprobs
        self.finish_reason: str | None = None

    def __repr__(self) -> str:
        return (f"Sequence({self.request_id!r}, {self.status.value}, tokens={self.num_tokens}, "
                f"computed={self.num_computed_tokens}, pages={len(self.block_table)})")

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def output_ids(self) -> list[int]:
        return self.token_ids[self.num_prompt_tokens:]

    @property
    def num_output_tokens(self) -> int:
        return self.num_tokens - self.num_prompt_tokens

    @property
    def num_uncomputed(self) -> int:
        return self.num_tokens - self.num_computed_tokens

    @property
    def is_decoding(self) -> bool:
        return self.kind is SequenceKind.GENERATE and self.num_uncomputed == 1

    @property
    def samples(self) -> bool:
        return self.kind is SequenceKind.GENERATE

    @property
    def max_cached_prefix(self) -> int:
        """How many leading tokens may come from the prefix cache: the tokens whose logits are
        needed must be computed."""
        if self.kind is SequenceKind.PREFILL:
            return self.num_tokens
        if self.kind is SequenceKind.SCORE:
            return self.score_from - 1
        return self.num_tokens - 1

    def logit_positions(self, start: int, end: int) -> list[int]:
        """Positions in [start, end) whose logits this sequence needs once they are computed."""
        positions = []
        if self.kind is SequenceKind.SCORE:
            positions = list(range(max(start, self.score_from - 1), min(end, self.num_tokens - 1)))
            if self.branch_targets and start <= self.num_tokens - 1 < end:
                positions.append(self.num_tokens - 1)
        elif self.samples and end == self.num_tokens:
            positions = [end - 1]
        return positions

    def append_token(self, token_id: int) -> None:
        self.token_ids.append(token_id)
        if self.first_token_time is None:
            self.first_token_time = time.perf_counter()

    def reset_for_recompute(self) -> None:
        self.block_table = []
        self.num_computed_tokens = 0
        self.num_preemptions += 1
        self.status = SequenceStatus.WAITING
