"""Constrained decoding (regex, JSON schema, a list of choices, a structural tag) through
xgrammar.

A request's constraint is compiled once at `add_request` (a bad regex or schema raises
`ConstraintError` there) into a grammar; its `GrammarMatcher` then yields, before each token,
the bitmask of tokens that keep the output inside the language, and consumes the token
chosen. When the grammar is complete only the stop tokens remain allowed, so a constrained
request ends with "stop" as soon as its output is a full match.
"""

from __future__ import annotations

import json
import re
import threading
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    import xgrammar as xgr

from engine.api import ConstraintError, SamplingParams


def _clean(error: Exception) -> str:
    """xgrammar's messages start with a timestamp and a C++ source location."""
    text = str(error).strip()
    return re.sub(r"^\[[\d:]+\] \S+:\d+: ", "", text).splitlines()[0]


def _choices_grammar(choices: tuple[str, ...]) -> str:
    if not choices:
        raise ConstraintError("choices must list at least one string")
    if any(not isinstance(c, str) or not c for c in choices):
        raise ConstraintError("every choice must be a non-empty string")
    return "root ::= " + " | ".join(json.dumps(c, ensure_ascii=False) for c in choices)


@cache
def _xgrammar() -> Any:
    """xgrammar, imported on first use: an engine that serves no constrained request runs
    without it."""
    try:
        import xgrammar
    except ImportError as error:
        raise ConstraintError("constrained decoding needs the xgrammar package") from error
    return xgrammar


class GrammarCompiler:
    """Compiles constraints against one tokenizer (set up on the first constrained request).

    Thread-safe: a request is checked on its caller's thread (`AsyncEngine.check`) while the
    engine thread compiles the grammars of submitted requests."""

    def __init__(self, tokenizer: Any, vocab_size: int, stop_token_ids: tuple[int, ...]) -> None:
        self._tokenizer = tokenizer
        self._stop_token_ids = list(stop_token_ids)
        self.vocab_size = vocab_size
        self._lock = threading.Lock()

    @cached_property
    def _compiler(self) -> xgr.GrammarCompiler:
        xgr = _xgrammar()
        info = xgr.TokenizerInfo.from_huggingface(
            self._tokenizer, vocab_size=self.vocab_size, stop_token_ids=self._stop_token_ids)
        return xgr.GrammarCompiler(info)

    def compile(self, params: SamplingParams) -> xgr.CompiledGrammar | None:
        with self._lock:
            return self._compile(params)

    def _compile(self, params: SamplingParams) -> xgr.CompiledGrammar | None:
        given = [name for name in ("regex", "json_schema", "choices", "structural_tag")
                 if getattr(params, name) is not None]
        if len(given) > 1:
            raise ConstraintError(f"at most one constraint per request, got {', '.join(given)}")
        if not given:
            return None
        try:
            if params.regex is not None:
                return self._compiler.compile_regex(params.regex)
            if params.json_schema is not None:
                if not isinstance(params.json_schema, dict):
                    raise ConstraintError("json_schema must be a JSON object (a dict)")
                return self._compiler.compile_json_schema(
                    json.dumps(params.json_schema), any_whitespace=False)
            if params.structural_tag is not None:
                return self._compiler.compile_structural_tag(json.dumps(params.structural_tag))
            return self._compiler.compile_grammar(_choices_grammar(params.choices or ()))
        except ConstraintError:
            raise
        except (RuntimeError, ValueError, TypeError) as error:
            raise ConstraintError(f"invalid {given[0]}: {_clean(error)}") from None


class Constraint:
    """One request's position in its grammar."""

    def __init__(self, grammar: xgr.CompiledGrammar) -> None:
        self._matcher = _xgrammar().GrammarMatcher(grammar)

    @property
    def is_terminated(self) -> bool:
        return self._matcher.is_terminated()

    def fill(self, bitmask: torch.Tensor, row: int) -> None:
        self._matcher.fill_next_token_bitmask(bitmask, row)

    def accept(self, token_id: int) -> bool:
        return self._matcher.accept_token(token_id)


def allowed_tokens(constraints: list[Constraint | None], vocab_size: int) -> torch.Tensor | None:
    """A [N, vocab] bool mask of the tokens each row may take (None when nothing is
    constrained)."""
    rows = [i for i, c in enumerate(constraints) if c is not None]
    if not rows:
        return None
    xgr = _xgrammar()
    bitmask = xgr.allocate_token_bitmask(len(constraints), vocab_size)
    for i in rows:
        constraints[i].fill(bitmask, i)  # type: ignore[union-attr]
    scores = torch.zeros(len(constraints), vocab_size)
    xgr.apply_token_bitmask_inplace(scores, bitmask, indices=rows)
    return scores == 0
