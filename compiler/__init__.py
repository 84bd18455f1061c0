"""flowc's compiler: lowers a validated Workflow to a Plan through a pipeline of passes
(validate, dataflow, segments, prefixes, structure, schedule, estimate, diagnostics).

Importing `compiler` stays cheap: the tokenizer functions load at once, so a caller can start
reading a tokenizer (on a background thread) before the passes, the Plan records and the graph
layer they need are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from compiler.tokenizer import (
    TokenizerLoadError,
    encode_dynamic,
    load_compile_tokenizer,
    load_tokenizer,
    longest_token_chars,
)

if TYPE_CHECKING:
    from compiler.driver import compile
    from compiler.plan import Interface, Plan, PrefixGroup, Route, Segment, Step
    from compiler.segments import PromptTooLong, Turn, prompt_segments, render_segments

_LAZY: dict[str, tuple[str, ...]] = {
    "compiler.driver": ("compile",),
    "compiler.plan": ("Interface", "Plan", "PrefixGroup", "Route", "Segment", "Step"),
    "compiler.segments": ("PromptTooLong", "Turn", "prompt_segments", "render_segments"),
}


def __getattr__(name: str) -> object:
    """The lazy names: their modules import the graph layer and the passes."""
    home = next((module for module, names in _LAZY.items() if name in names), None)
    if home is None:
        raise AttributeError(f"module 'compiler' has no attribute {name!r}")
    globals()[name] = getattr(importlib.import_module(home), name)
    return globals()[name]


__all__ = [
    "Interface",
    "Plan",
    "PrefixGroup",
    "Route",
    "Segment",
    "Step",
    "TokenizerLoadError",
    "Turn",
    "compile",
    "encode_dynamic",
    "load_compile_tokenizer",
    "load_tokenizer",
    "longest_token_chars",
    "prompt_segments",
    "render_segments",
    "PromptTooLong",
]
