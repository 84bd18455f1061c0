"""Templates and expressions: one sandboxed jinja2 environment for the whole format.

Prompts, tool arguments, map results and outputs are templates (`Hello {{ name }}`); `when`,
`over` and `assign` values are expressions (`label != 'benign'`). Both are checked at
validation time (syntax, unsafe constructs, unknown filters) and run only in the sandbox.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any, Literal

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.parser import Parser
from jinja2.sandbox import SandboxedEnvironment

MAX_REPEAT_CHARS = 1_000_000
MAX_EXPONENT = 4096
MAX_POWER_BITS = 65_536
FORBIDDEN_TAGS = {
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
}


class TemplateProblem(ValueError):
    """A template or expression that cannot be used; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


class FlowcSandbox(SandboxedEnvironment):
    """The sandbox, with `*` and `**` bounded so an expression cannot exhaust memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
        return super().call_binop(context, operator, left, right)


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(exponent, int | float) and abs(exponent) > MAX_EXPONENT:
        raise SecurityError(f"exponent {exponent} is larger than {MAX_EXPONENT}")
    both_int = isinstance(base, int) and isinstance(exponent, int)
    if both_int and base.bit_length() * abs(exponent) > MAX_POWER_BITS:
        raise SecurityError(f"the power would have more than {MAX_POWER_BITS} bits")


def _check_repeat(sequence: Any, count: Any) -> None:
    sized = isinstance(sequence, str | list | tuple) and isinstance(count, int)
    if sized and len(sequence) * count > MAX_REPEAT_CHARS:
        raise SecurityError(f"repetition would make more than {MAX_REPEAT_CHARS} items")


def regex_search(value: Any, pattern: str, group: int = 0) -> str:
    """The first match of `pattern` in `value` (or one of its groups), "" when none."""
    match = re.search(pattern, str(value))
    return (match.group(group) or "") if match else ""


def regex_findall(value: Any, pattern: str) -> list[Any]:
    """Every match of `pattern` in `value`, as `re.findall` gives them."""
    return re.findall(pattern, str(value))


def regex_replace(value: Any, pattern: str, replacement: str) -> str:
    return re.sub(pattern, replacement, str(value))


def to_json(value: Any, indent: int | None = None) -> str:
    """JSON text of a value, unescaped (prompts are not HTML)."""
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def from_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


ENV = FlowcSandbox(undefined=StrictUndefined, autoescape=False)
ENV.filters.update(
    regex_search=regex_search,
    regex_findall=regex_findall,
    regex_replace=regex_replace,
    tojson=to_json,
    fromjson=from_json,
)


def _syntax_problem(exc: TemplateSyntaxError, line_offset: int = 0) -> TemplateProblem:
    line = exc.lineno + line_offset if exc.lineno else None
    return TemplateProblem(f"syntax error: {exc.message}", line)


@lru_cache(maxsize=8192)
def parse_template(text: str) -> nodes.Template:
    """The jinja2 AST of a template; raises TemplateProblem on a syntax error."""
    try:
        return ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise _syntax_problem(exc) from None


@lru_cache(maxsize=8192)
def parse_expression(expr: str) -> nodes.Expr:
    """The jinja2 AST of one expression; raises TemplateProblem on a syntax error."""
    if not expr.strip():
        raise TemplateProblem("syntax error: empty expression")
    try:
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


@lru_cache(maxsize=16384)
def _free_variables(text: str) -> frozenset[str]:
    ast = parse_template(text)
    try:
        return frozenset(meta.find_undeclared_variables(ast))
    except TemplateSyntaxError as exc:  # unknown filter or test, found by code generation
        raise _syntax_problem(exc) from None


def template_variables(text: str) -> set[str]:
    """The variables a template reads from outside (loop targets and `set` locals excluded)."""
    return set(_free_variables(text))


def expression_variables(expr: str) -> set[str]:
    """The variables an expression reads."""
    parse_expression(expr)
    return set(_free_variables("{{ " + expr + " }}"))


def unsafe_constructs(ast: nodes.Node) -> list[TemplateProblem]:
    """Constructs the sandbox refuses, found by walking the AST before anything runs."""
    found: list[TemplateProblem] = []
    for node in _walk(ast):
        reason = _unsafe_reason(node)
        if reason:
            found.append(TemplateProblem(f"unsafe template construct: {reason}", node.lineno))
    return found


def _walk(node: nodes.Node) -> Iterator[nodes.Node]:
    yield node
    for child in node.iter_child_nodes():
        yield from _walk(child)


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
    if isinstance(node, nodes.Filter) and node.name not in ENV.filters:
        return None  # reported as a syntax error by template_variables
    return None


def check_template(text: str) -> list[TemplateProblem]:
    """Every problem of a template: syntax (with line), unknown filters, unsafe constructs."""
    try:
        ast = parse_template(text)
        _free_variables(text)
    except TemplateProblem as problem:
        return [problem]
    return unsafe_constructs(ast)


def check_expression(expr: str) -> list[TemplateProblem]:
    """Every problem of an expression: syntax, unknown filters, unsafe constructs."""
    try:
        ast = parse_expression(expr)
        _free_variables("{{ " + expr + " }}")
    except TemplateProblem as problem:
        return [problem]
    return unsafe_constructs(ast)


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


def render(text: str, values: Mapping[str, Any]) -> str:
    """Render a template in the sandbox; raises TemplateProblem (undefined name, unsafe call)."""
    template = _compiled_template(text)
    try:
        return template.render(dict(values))
    except TemplateError as exc:
        raise _runtime_problem(exc) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateProblem(f"cannot render: {exc}") from None


def evaluate(expr: str, values: Mapping[str, Any]) -> Any:
    """The value of an expression, evaluated in the sandbox (never `eval`)."""
    function = _compiled_expression(expr)
    try:
        result = function(dict(values))
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


Piece = tuple[Literal["static", "dynamic"], str]
_OPENERS = re.compile(r"\{\{|\{%|\{#")
_RAW_START = re.compile(r"\{%-?\s*raw\s*-?%\}")
_RAW_END = re.compile(r"\{%-?\s*endraw\s*-?%\}")


def split_template(text: str) -> list[Piece]:
    """The template as literal text and tag pieces (`{{ }}`, `{% %}`, `{# #}`) in order, each
    piece its exact source text, so joining them gives `text` back."""
    pieces: list[Piece] = []
    position = 0
    while position < len(text):
        opener = _OPENERS.search(text, position)
        if opener is None:
            pieces.append(("static", text[position:]))
            break
        if opener.start() > position:
            pieces.append(("static", text[position : opener.start()]))
        end = _tag_end(text, opener.start())
        pieces.append(("dynamic", text[opener.start() : end]))
        position = end
    return pieces


def _tag_end(text: str, start: int) -> int:
    """The index just past the tag that opens at `start` (the end of text if unclosed)."""
    kind = text[start : start + 2]
    if kind == "{#":
        close = text.find("#}", start + 2)
        return len(text) if close < 0 else close + 2
    if kind == "{%":
        raw = _RAW_START.match(text, start)
        if raw:
            end = _RAW_END.search(text, raw.end())
            return len(text) if end is None else end.end()
    closer = "}}" if kind == "{{" else "%}"
    index = start + 2
    quote: str | None = None
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif text.startswith(closer, index):
            return index + 2
        index += 1
    return len(text)
