"""The engine of a run that makes no model call: a workflow without `llm` or `select` nodes
runs on it, so its run loads no model (and imports no torch)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, NoReturn

from engine.api import (
    ChoiceScores,
    EngineAPI,
    EngineStats,
    Generation,
    PrefixHandle,
    RequestError,
    SamplingParams,
    StreamChunk,
)
from graph import MapNode, Node

CALL_TYPES = ("llm", "select")


def needs_model(nodes: Sequence[Node]) -> bool:
    """Whether any node, in map bodies too, calls the model."""
    return any(node.type in CALL_TYPES
               or (isinstance(node, MapNode) and needs_model(node.body.nodes))
               for node in nodes)


class NoModel(EngineAPI):
    @property
    def model_name(self) -> str:
        return "none"

    @property
    def tokenizer(self) -> Any:
        return None

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        return ()

    @property
    def page_size(self) -> int:
        return 16

    @property
    def max_context(self) -> int:
        return 0

    def check(self, token_ids: Sequence[int], sampling: SamplingParams) -> None:
        _refuse()

    async def prefill(self, token_ids: Sequence[int], priority: int = 0) -> PrefixHandle:
        _refuse()

    def release(self, handle: PrefixHandle) -> None:
        _refuse()

    async def generate(self, token_ids: Sequence[int], sampling: SamplingParams,
                       priority: int = 0, request_id: str | None = None) -> Generation:
        _refuse()

    def stream(self, token_ids: Sequence[int], sampling: SamplingParams, priority: int = 0,
               request_id: str | None = None) -> AsyncIterator[StreamChunk]:
        _refuse()

    async def score(self, token_ids: Sequence[int], continuations: Sequence[Sequence[int]],
                    priority: int = 0) -> ChoiceScores:
        _refuse()

    def abort(self, request_id: str) -> None:
        return None

    def stats(self) -> EngineStats:
        return EngineStats()

    def close(self) -> None:
        return None


def _refuse() -> NoReturn:
    raise RequestError("this run has no model: the workflow has no llm or select node")
