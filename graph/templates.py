"""Templates and expressions: one sandboxed jinja2 environment for the whole format.

Prompts, tool arguments, map results and outputs are templates (`Hello {{ name }}`); `when`,
`over` and `assign` values are expressions (`label != 'benign'`). Both are checked at
validation time (syntax, unsafe constructs, unknown filters) and run only in the sandbox.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.parser import Parser

from graph.pieces import Piece, bare_expression, bare_names, split_template
from graph.regex import regex_problem
from graph.render_budget import OutputBoundExceeded, RenderLimitExceeded, rendering
from graph.sandbox import ENV, FORBIDDEN_TAGS, REGEX_FILTERS

__all__ = [
    "ENV",
    "OutputTooLong",
    "Piece",
    "TemplateProblem",
    "check_expression",
    "check_template",
    "evaluate",
    "expression_variables",
    "render",
    "split_template",
    "template_variables",
]


class TemplateProblem(ValueError):
    """A template or expression that cannot be used; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


class OutputTooLong(TemplateProblem):
    """A rendering stopped at the `max_chars` its caller gave."""


def _syntax_problem(exc: TemplateSyntaxError, line_offset: int = 0) -> TemplateProblem:
    line = exc.lineno + line_offset if exc.lineno else None
    return TemplateProblem(f"syntax error: {exc.message}", line)


@contextmanager
def _escapes_reported_by_validation() -> Iterator[None]:
    """Unknown escapes in string literals are a validation warning, not a Python warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "invalid escape sequence", DeprecationWarning)
        yield


@lru_cache(maxsize=4096)
def parse_template(text: str) -> nodes.Template:
    """The jinja2 AST of a template; raises TemplateProblem on a syntax error."""
    try:
        with _escapes_reported_by_validation():
            return ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise _syntax_problem(exc) from None


@lru_cache(maxsize=8192)
def parse_expression(expr: str) -> nodes.Expr:
    """The jinja2 AST of one expression; raises TemplateProblem on a syntax error."""
    if not expr.strip():
        raise TemplateProblem("syntax error: empty expression")
    try:
        with _escapes_reported_by_validation():
            parser = Parser(ENV, expr, state="variable")
            node = parser.parse_expression()
        if not parser.stream.eos:
            token = parser.stream.current
            raise TemplateSyntaxError(
                f"unexpected {token.value!r} after the expression", token.lineno
            )
    except TemplateSyntaxError as exc:
        raise _syntax_problem(exc) from None
    return node


# Statements that bind names: with any of them, jinja's own scope analysis finds the free
# variables; without, every loaded name is free.
_BINDING = (
    nodes.For,
    nodes.Assign,
    nodes.AssignBlock,
    nodes.With,
    nodes.Macro,
    nodes.CallBlock,
    nodes.FilterBlock,
    nodes.Scope,
    nodes.ScopedEvalContextModifier,
)


@lru_cache(maxsize=65536)
def _free_variables(text: str) -> frozenset[str]:
    simple = bare_names(text)
    if simple is not None:
        return simple
    ast = parse_template(text)
    if next(ast.find_all(_BINDING), None) is None:
        return _loaded_names(ast)
    try:
        return frozenset(meta.find_undeclared_variables(ast)) - frozenset(ENV.globals)
    except TemplateSyntaxError as exc:  # unknown filter or test, found by code generation
        raise _syntax_problem(exc) from None


def _loaded_names(ast: nodes.Node) -> frozenset[str]:
    """Free names of an AST without binding statements; unknown filters and tests raise
    TemplateProblem as jinja's code generation would."""
    every = _walk(ast)
    for call in every:
        if isinstance(call, nodes.Filter | nodes.Test):
            is_filter = isinstance(call, nodes.Filter)
            if call.name not in (ENV.filters if is_filter else ENV.tests):
                kind = "filter" if is_filter else "test"
                raise TemplateProblem(f"syntax error: No {kind} named '{call.name}'.", call.lineno)
    names = {n.name for n in every if isinstance(n, nodes.Name) and n.ctx == "load"}
    return frozenset(names - set(ENV.globals))


def template_variables(text: str) -> set[str]:
    """The variables a template reads from outside (loop targets and `set` locals excluded)."""
    return set(_free_variables(text))


def expression_variables(expr: str) -> set[str]:
    """The variables an expression reads."""
    name = bare_expression(expr)
    if name is not None:
        return {name}
    return set(_loaded_names(parse_expression(expr)))


def unsafe_constructs(ast: nodes.Node) -> list[TemplateProblem]:
    """Constructs the sandbox refuses, found by walking the AST before anything runs."""
    found: list[TemplateProblem] = []
    for node in _walk(ast):
        reason = _unsafe_reason(node)
        if reason:
            found.append(TemplateProblem(f"unsafe template construct: {reason}", node.lineno))
    return found


def _walk(root: nodes.Node) -> list[nodes.Node]:
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(node.iter_child_nodes())
    found.sort(key=lambda n: getattr(n, "lineno", 0) or 0)
    return found


def _unsafe_reason(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
        return f"attribute '{node.attr}' is not allowed (names starting with '_' are private)"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        key = node.arg.value
        if isinstance(key, str) and key.startswith("_"):
            return f"item '{key}' is not allowed (names starting with '_' are private)"
    if isinstance(node, nodes.Name) and node.name.startswith("__"):
        return f"name '{node.name}' is not allowed (names starting with '__' are private)"
    for kind, tag in FORBIDDEN_TAGS.items():
        if isinstance(node, kind):
            return f"'{tag}' is not allowed: a workflow template cannot load other templates"
    return None


def literal_pattern_problems(ast: nodes.Node) -> list[TemplateProblem]:
    """Regular expressions written as literals in the regex filters that RE2 cannot run."""
    found: list[TemplateProblem] = []
    for node in _walk(ast):
        if isinstance(node, nodes.Filter) and node.name in REGEX_FILTERS and node.args:
            pattern = node.args[0]
            if isinstance(pattern, nodes.Const) and isinstance(pattern.value, str):
                problem = regex_problem(pattern.value)
                if problem:
                    found.append(TemplateProblem(f"{node.name}: {problem}", node.lineno))
    return found


def check_template(text: str) -> list[TemplateProblem]:
    """Every problem of a template: syntax (with line), unknown filters, unsafe constructs."""
    return list(_template_problems(text))


@lru_cache(maxsize=65536)
def _template_problems(text: str) -> tuple[TemplateProblem, ...]:
    if bare_names(text) is not None:
        return ()
    try:
        ast = parse_template(text)
        _free_variables(text)
    except TemplateProblem as problem:
        return (problem,)
    return (*unsafe_constructs(ast), *literal_pattern_problems(ast))


def check_expression(expr: str) -> list[TemplateProblem]:
    """Every problem of an expression: syntax, unknown filters, unsafe constructs."""
    return list(_expression_problems(expr))


@lru_cache(maxsize=65536)
def _expression_problems(expr: str) -> tuple[TemplateProblem, ...]:
    if bare_expression(expr) is not None:
        return ()
    try:
        ast = parse_expression(expr)
        _loaded_names(ast)
    except TemplateProblem as problem:
        return (problem,)
    return (*unsafe_constructs(ast), *literal_pattern_problems(ast))


@lru_cache(maxsize=4096)
def _compiled_template(text: str) -> Any:
    try:
        return ENV.from_string(text)
    except TemplateSyntaxError as exc:
        raise _syntax_problem(exc) from None


@lru_cache(maxsize=4096)
def _compiled_expression(expr: str) -> Any:
    parse_expression(expr)
    try:
        return ENV.compile_expression(expr, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise _syntax_problem(exc) from None


def render(text: str, values: Mapping[str, Any], max_chars: int | None = None) -> str:
    """Render a template in the sandbox, within the render budget (and `max_chars` of output,
    when smaller); raises TemplateProblem (undefined name, unsafe call, budget exceeded)."""
    template = _compiled_template(text)
    chunks: list[str] = []
    try:
        with rendering(max_chars) as meter, closing(template.generate(dict(values))) as output:
            for chunk in output:
                meter.write(chunk)
                chunks.append(chunk)
    except OutputBoundExceeded as exc:
        raise OutputTooLong(str(exc)) from None
    except RenderLimitExceeded as exc:
        raise TemplateProblem(str(exc)) from None
    except RecursionError:
        raise TemplateProblem("macros or loops nested too deeply") from None
    except TemplateError as exc:
        raise _runtime_problem(exc) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateProblem(f"cannot render: {exc}") from None
    return "".join(chunks)


def evaluate(expr: str, values: Mapping[str, Any]) -> Any:
    """The value of an expression, evaluated in the sandbox (never `eval`) within the render
    budget."""
    function = _compiled_expression(expr)
    try:
        with rendering() as meter:
            result = meter.check_size(function(dict(values)))
    except RenderLimitExceeded as exc:
        raise TemplateProblem(str(exc)) from None
    except RecursionError:
        raise TemplateProblem("macros or loops nested too deeply") from None
    except TemplateError as exc:
        raise _runtime_problem(exc) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateProblem(f"cannot evaluate {expr!r}: {exc}") from None
    if isinstance(result, Undefined):
        name = getattr(result, "_undefined_name", None)
        raise TemplateProblem(f"'{name}' is undefined" if name else "the result is undefined")
    return result


def _runtime_problem(exc: TemplateError) -> TemplateProblem:
    if isinstance(exc, SecurityError):
        return TemplateProblem(f"unsafe operation refused by the sandbox: {exc}")
    if isinstance(exc, UndefinedError):
        return TemplateProblem(str(exc))
    line = getattr(exc, "lineno", None)
    return TemplateProblem(str(exc.message or exc), line)
