"""flowc's inference engine: one model served over a paged KV cache.

The public face: `AsyncEngine` (the `EngineAPI` callers use), `LLMEngine` (the synchronous
engine, for offline batches), `EngineConfig`, `load_model`, the records and errors of
`engine.api`, and where the embedded default model lives. Importing `engine` stays cheap: the
names that need torch are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from engine.api import (
    GREEDY_BELOW,
    ChoiceScores,
    ConstraintError,
    EmptyPromptError,
    EngineAPI,
    EngineError,
    EngineOverloadedError,
    EngineStats,
    Generation,
    PrefixHandle,
    PromptScores,
    PromptTooLongError,
    RequestError,
    RequestFailedError,
    SamplingParams,
    StreamChunk,
)
from engine.models.locations import DEFAULT_MODEL_NAME, cache_root, default_model_file

if TYPE_CHECKING:
    from engine.async_engine import AsyncEngine
    from engine.config import EngineConfig
    from engine.engine import LLMEngine
    from engine.models.loader import LoadedModel, load_model

_LAZY = {
    "AsyncEngine": "engine.async_engine",
    "EngineConfig": "engine.config",
    "LLMEngine": "engine.engine",
    "LoadedModel": "engine.models.loader",
    "load_model": "engine.models.loader",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_MODEL_NAME",
    "GREEDY_BELOW",
    "AsyncEngine",
    "ChoiceScores",
    "ConstraintError",
    "EmptyPromptError",
    "EngineAPI",
    "EngineConfig",
    "EngineError",
    "EngineOverloadedError",
    "EngineStats",
    "Generation",
    "LLMEngine",
    "LoadedModel",
    "PrefixHandle",
    "PromptScores",
    "PromptTooLongError",
    "RequestError",
    "RequestFailedError",
    "SamplingParams",
    "StreamChunk",
    "cache_root",
    "default_model_file",
    "load_model",
]
