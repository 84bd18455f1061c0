"""The engine calls of `llm` and `select` nodes: prompt ids from the thread history and the
node's segments, sampling from the node over the workflow defaults, the per-run token
budget, the trace record and token events."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.api import EngineAPI, Generation, SamplingParams
from executor.errors import BudgetExceeded
from executor.events import EventKind
from executor.nodes import best_choice, check_output
from executor.offload import off_loop
from executor.prompts import CallNode, PromptBuilder, messages_of, sampling_for
from executor.state import Scope, TurnRecord
from executor.trace import NodeTrace
from graph import LlmNode, Sampling, SelectNode


@dataclass
class TokenBudget:
    """limits.max_tokens_total: prompt plus generated tokens of every call of a run."""

    limit: int
    used: int = 0

    def cap(self, prompt_tokens: int) -> int:
        left = self.limit - self.used - prompt_tokens
        if left <= 0:
            raise BudgetExceeded(
                f"limits.max_tokens_total ({self.limit}) reached: {self.used} tokens used, "
                f"the call needs {prompt_tokens} prompt tokens"
            )
        return left

    def spend(self, tokens: int) -> None:
        self.used += tokens
        if self.used > self.limit:
            raise BudgetExceeded(f"limits.max_tokens_total ({self.limit}) exceeded: {self.used}")


@dataclass
class CallContext:
    """What one node's call needs from its run."""

    step_id: str
    node: CallNode
    scope: Scope
    visible: frozenset[str]
    record: NodeTrace
    request_id: str
    priority: int

    @property
    def seed_key(self) -> str:
        """The request id without its run-unique prefix: equal across runs."""
        return self.request_id.partition(":")[2]


@dataclass
class Caller:
    engine: EngineAPI
    prompts: PromptBuilder
    defaults: Sampling
    budget: TokenBudget
    run_seed: int
    clock: Callable[[], float]
    emit: Callable[[EventKind, str | None, dict[str, Any]], None] | None = None
    in_flight: set[str] = field(default_factory=set)

    async def llm(self, call: CallContext, node: LlmNode) -> None:
        if node.choices is not None:
            await self._choose(call, node.choices, self._max_tokens(node))
            return
        ids, own = await self._prompt(call)
        cap = self.budget.cap(len(ids))
        sampling = sampling_for(node, self.defaults, call.seed_key, self.run_seed, cap)
        generation = await self._generate(call, ids, sampling)
        self.budget.spend(len(ids) + len(generation.token_ids))
        call.scope.write(node.output, check_output(node, generation))
        self._extend_thread(call, own, generation.token_ids)

    async def select(self, call: CallContext, node: SelectNode) -> None:
        await self._choose(call, node.choices, None)

    async def _choose(self, call: CallContext, choices: list[str], limit: int | None) -> None:
        """Write the choice with the highest summed log-probability after the prompt: one
        prefill of the prompt, every choice scored on its shared KV. Choices longer than
        `limit` tokens are not candidates."""
        ids, own = await self._prompt(call)
        self.budget.cap(len(ids))
        options = [self.prompts.encode(choice) for choice in choices]
        fitting = [i for i, o in enumerate(options) if limit is None or len(o) <= limit]
        if not fitting:
            raise ValueError(f"max_tokens={limit} holds none of its choices (the shortest is "
                             f"{min(map(len, options))} tokens): raise max_tokens")
        record = call.record
        record.start = self.clock()
        record.prompt_tokens = len(ids)
        steps_before = self.engine.stats().steps
        scores = await self.engine.score(ids, [options[i] for i in fitting], call.priority)
        record.cached_tokens = scores.cached_tokens
        record.engine_steps = (steps_before, self.engine.stats().steps)
        choice, best = best_choice([choices[i] for i in fitting], scores.logprobs)
        index = fitting[best]
        self.budget.spend(len(ids) + sum(len(options[i]) for i in fitting))
        call.scope.write(call.node.output, choice)
        self._extend_thread(call, own, options[index])

    def _max_tokens(self, node: LlmNode) -> int | None:
        return node.max_tokens or self.defaults.max_tokens

    async def _prompt(self, call: CallContext) -> tuple[list[int], tuple[int, ...]]:
        thread = call.node.thread
        history = call.scope.history(thread, call.visible) if thread else []
        return await off_loop(self.prompts.build, call.step_id, call.node,
                              call.scope.snapshot(), history)

    def _extend_thread(self, call: CallContext, own: tuple[int, ...], reply: list[int]) -> None:
        thread = call.node.thread
        if thread:
            turn = TurnRecord(
                call.step_id, own, self.prompts.reply_ids(reply), messages_of(call.node)
            )
            call.scope.add_turn(thread, turn)

    async def _generate(
        self, call: CallContext, ids: list[int], sampling: SamplingParams
    ) -> Generation:
        record = call.record
        record.start = self.clock()
        record.prompt_tokens = len(ids)
        steps_before = self.engine.stats().steps
        self.in_flight.add(call.request_id)
        try:
            if self.emit is None:
                generation = await self.engine.generate(
                    ids, sampling, priority=call.priority, request_id=call.request_id
                )
            else:
                generation = await self._stream(call, ids, sampling)
        finally:
            self.in_flight.discard(call.request_id)
        record.engine_steps = (steps_before, self.engine.stats().steps)
        record.cached_tokens = generation.cached_tokens
        record.generated_tokens = len(generation.token_ids)
        record.first_token_s = generation.first_token_s
        record.decode_s = generation.decode_s
        record.finish_reason = generation.finish_reason
        return generation

    async def _stream(self, call: CallContext, ids: list[int], sampling: SamplingParams
                      ) -> Generation:
        assert self.emit is not None
        produced = 0
        started = time.monotonic()
        async for chunk in self.engine.stream(
            ids, sampling, priority=call.priority, request_id=call.request_id
        ):
            produced += len(chunk.token_ids)
            call.record.generated_tokens = produced  # a cancelled call's trace keeps its count
            if chunk.token_ids:
                self.emit("token", call.step_id, {"text": chunk.text, "n": len(chunk.token_ids),
                                                  "tokens": produced})
            if chunk.finished is not None:
                return chunk.finished
        raise RuntimeError(f"the engine's stream ended without a result after "
                           f"{time.monotonic() - started:.1f} s")
