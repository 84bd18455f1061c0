"""Regular expressions of the format (template filters, the `regex_extract` tool, llm
constraints) compiled by RE2, whose matching time is linear in the text: no pattern can
backtrack for minutes. Python syntax with an RE2 equivalent is translated (`\\Z` is `\\z`);
constructs RE2 has no linear-time algorithm for (backreferences, lookaround) are refused with
an error that says so."""

from __future__ import annotations

import re
from functools import lru_cache

import re2

MAX_PATTERN_CHARS = 10_000

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is reported to the user, not logged

_UNSUPPORTED = (
    (re.compile(r"\(\?<?[=!]"), "lookaround ((?=...), (?!...), (?<=...), (?<!...))"),
    (re.compile(r"\\[1-9]|\(\?P="), "backreferences (\\1, (?P=name))"),
    (re.compile(r"\(\?>|[*+?}]\+"), "atomic groups and possessive quantifiers"),
    (re.compile(r"\(\?#"), "comments ((?#...))"),
    (re.compile(r"\(\?[a-z]*x"), "verbose mode ((?x))"),
)
_ESCAPE_OR_CHAR = re.compile(r"\\.|.", re.DOTALL)


class RegexError(ValueError):
    """A pattern RE2 cannot run; the message names the pattern and why."""


def compile_regex(pattern: str) -> re2._Regexp:
    """The RE2 program of a Python-syntax pattern; raises RegexError."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise RegexError(f"regular expression longer than {MAX_PATTERN_CHARS} characters")
    return _compiled(pattern)


def regex_problem(pattern: str) -> str | None:
    """Why a pattern cannot be used, or None."""
    try:
        compile_regex(pattern)
    except RegexError as exc:
        return str(exc)
    return None


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re2._Regexp:
    try:
        return re2.compile(_translated(pattern), _OPTIONS)
    except re2.error as exc:
        raise RegexError(_explain(pattern, exc)) from None


def _translated(pattern: str) -> str:
    """Python's end-of-text anchor `\\Z` in RE2's spelling; everything else as written."""
    return "".join(
        r"\z" if token == r"\Z" else token for token in _ESCAPE_OR_CHAR.findall(pattern)
    )


def _explain(pattern: str, exc: re2.error) -> str:
    reason = exc.args[0] if exc.args else exc
    reason = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    shown = pattern if len(pattern) <= 80 else pattern[:77] + "..."
    for construct, name in _UNSUPPORTED:
        if construct.search(pattern):
            return (f"regular expression {shown!r} uses {name}, which RE2 (the linear-time "
                    f"engine every regular expression runs on) does not support: {reason}")
    return f"invalid regular expression {shown!r}: {reason}"
