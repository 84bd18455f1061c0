"""Checking one template or expression: length, syntax, sandbox safety, free variables;
and the messages that say what to do."""

from __future__ import annotations

import difflib

from graph.dataflow import Source
from graph.errors import Problem
from graph.names import Names
from graph.pieces import invalid_escapes
from graph.templates import TemplateProblem, check_expression, check_template

MAX_TEMPLATE_CHARS = 200_000


def check_source(
    source: Source,
    path: str,
    node_id: str | None,
    visible: Names,
    writers: dict[str, list[str]],
    provider: str,
) -> list[Problem]:
    """Length, syntax, safety and free variables of one template or expression."""
    if len(source.text) > MAX_TEMPLATE_CHARS:
        return [
            Problem(
                path,
                f"{source.kind} is {len(source.text):,} characters long; the "
                f"limit is {MAX_TEMPLATE_CHARS:,}: shorten it",
                node_id,
            )
        ]
    found = (
        check_template(source.text) if source.kind == "template" else check_expression(source.text)
    )
    if found:
        return [Problem(path, _describe(source.kind, p), node_id) for p in found]
    problems = _escape_warnings(source, path, node_id)
    missing = [v for v in source.variables() if not visible.provides(v)]
    for variable in sorted(missing):
        problems.append(
            Problem(
                path,
                _unknown_variable(source.kind, variable, visible.names(), writers, provider),
                node_id,
            )
        )
    return problems


def _describe(kind: str, problem: TemplateProblem) -> str:
    where = f" on line {problem.line}" if problem.line is not None and kind == "template" else ""
    message = problem.message
    if message.startswith("syntax error: "):
        detail = message.removeprefix("syntax error: ").rstrip(".")
        fix = "fix the jinja2 syntax" if kind == "template" else "fix the expression"
        return f"{kind} syntax error{where}: {detail}: {fix}"
    if message.startswith("unsafe template construct: "):
        detail = message.removeprefix("unsafe template construct: ")
        return f"unsafe {kind} construct{where}: {detail}: remove it"
    return f"{kind} problem{where}: {message}"


def _unknown_variable(
    kind: str, variable: str, visible: set[str], writers: dict[str, list[str]], provider: str
) -> str:
    head = f"{kind} names variable '{variable}' that no input, state entry or {provider} provides"
    if variable in writers:
        writer = writers[variable][0]
        return (
            f"{head}: node '{writer}' writes it but does not run before this node; add an "
            f"edge path from '{writer}' to this node"
        )
    close = difflib.get_close_matches(variable, sorted(visible), n=1)
    if close:
        return f"{head}: did you mean '{close[0]}'?"
    return f'{head}: declare it in "inputs" or "state", or write it in an earlier node'


def _escape_warnings(source: Source, path: str, node_id: str | None) -> list[Problem]:
    if "\\" not in source.text:
        return []
    escapes = invalid_escapes(source.text, source.kind == "expression")
    if not escapes:
        return []
    listed = ", ".join(f"'{e}'" for e in escapes)
    return [
        Problem(
            path,
            f"a string literal in the {source.kind} contains {listed}, which "
            f"{'is not a valid escape' if len(escapes) == 1 else 'are not valid escapes'} "
            "(kept for now, with a deprecation warning): double the backslash, as in "
            "'\\\\d' for the regular expression \\d",
            node_id,
            "warning",
        )
    ]
