"""The built-in tools: `calculator`, `regex_extract`, `json_parse` and `http_get`.

`calculator` walks the expression's `ast` and accepts only numbers, arithmetic operators,
parentheses and a few math functions; nothing is ever passed to `eval`. `http_get` exists only
when HTTP is allowed, and then only for the allowlisted hosts.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from graph import compile_regex

MAX_EXPRESSION_CHARS = 1000
MAX_EXPONENT = 1000
MAX_INT_BITS = 4096
MAX_TEXT_CHARS = 1_000_000

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "round": round, "min": min, "max": max, "sqrt": math.sqrt, "floor": math.floor,
    "ceil": math.ceil, "log": math.log, "log10": math.log10, "exp": math.exp, "sin": math.sin,
    "cos": math.cos, "tan": math.tan,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}


class CalculatorError(ValueError):
    pass


def calculator(expression: str) -> int | float:
    """Evaluate an arithmetic expression: numbers, + - * / // % **, parentheses, unary minus,
    pi, e and the functions abs round min max sqrt floor ceil log log10 exp sin cos tan."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise CalculatorError(f"not an arithmetic expression: {exc.msg}") from None
    return _evaluate(tree.body)


def _evaluate(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise CalculatorError(f"only numbers are allowed, not {node.value!r}")
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise CalculatorError(f"exponent {right} is larger than {MAX_EXPONENT}")
        try:
            return _bounded(_BINARY[type(node.op)](left, right))
        except ZeroDivisionError:
            raise CalculatorError("division by zero") from None
        except OverflowError:
            raise CalculatorError("result too large") from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        function = _FUNCTIONS.get(node.func.id)
        if function is None:
            raise CalculatorError(f"unknown function {node.func.id!r}")
        try:
            return _bounded(function(*(_evaluate(a) for a in node.args)))
        except (TypeError, ValueError, OverflowError) as exc:
            raise CalculatorError(f"{node.func.id}: {exc}") from None
    raise CalculatorError(f"{type(node).__name__} is not allowed in an arithmetic expression")


def _bounded(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise CalculatorError("result too large")
    if isinstance(value, complex):
        raise CalculatorError("complex results are not supported")
    return value


def regex_extract(text: str, pattern: str, group: int | str = 0, all: bool = False) -> Any:
    """The first match of `pattern` in `text` (its `group`), or every match when `all`;
    None (or []) when nothing matches. The pattern runs on RE2, in time linear in the text."""
    compiled = compile_regex(pattern)
    if all:
        return [m.group(group) for m in compiled.finditer(text)]
    match = compiled.search(text)
    return match.group(group) if match else None


def json_parse(text: str) -> Any:
    """Parse JSON; when `text` is not JSON as a whole, the first JSON object or array in it."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            return decoder.raw_decode(text, match.start())[0]
        except json.JSONDecodeError:
            continue
    raise ValueError("no JSON value found in the text")


def make_http_get(hosts: Iterable[str], timeout_s: float = 10.0) -> Callable[..., Any]:
    allowed = tuple(h.lower().strip() for h in hosts if h.strip())

    async def http_get(url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET `url` from an allowlisted host: {"status", "text", "json"}."""
        import httpx

        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"only http and https URLs are allowed, not {parts.scheme!r}")
        if not any(host == h or host.endswith("." + h) for h in allowed):
            raise PermissionError(f"host {host!r} is not allowed (allowed: {', '.join(allowed)})")
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:
            response = await client.get(url, params=params)
        text = response.text[:MAX_TEXT_CHARS]
        try:
            body = response.json()
        except ValueError:
            body = None
        return {"status": response.status_code, "text": text, "json": body}

    return http_get


def _object(properties: dict[str, Any], required: list[str], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


_TEXT = {"type": "string", "maxLength": MAX_TEXT_CHARS}

BUILTIN_SCHEMAS: dict[str, dict[str, Any]] = {
    "calculator": _object(
        {"expression": {"type": "string", "maxLength": MAX_EXPRESSION_CHARS}},
        ["expression"],
        "Evaluate an arithmetic expression.",
    ),
    "regex_extract": _object(
        {
            "text": _TEXT,
            "pattern": {"type": "string", "maxLength": 1000},
            "group": {"type": ["integer", "string"]},
            "all": {"type": "boolean"},
        },
        ["text", "pattern"],
        "Extract the first (or every) match of a regular expression.",
    ),
    "json_parse": _object({"text": _TEXT}, ["text"], "Parse JSON found in a text."),
    "http_get": _object(
        {"url": {"type": "string", "maxLength": 4096}, "params": {"type": "object"}},
        ["url"],
        "GET a URL from an allowlisted host.",
    ),
}


def builtin_tools(
    allow_http: bool = False, hosts: Iterable[str] = ()
) -> dict[str, tuple[Callable[..., Any], dict[str, Any]]]:
    tools: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
        "calculator": (calculator, BUILTIN_SCHEMAS["calculator"]),
        "regex_extract": (regex_extract, BUILTIN_SCHEMAS["regex_extract"]),
        "json_parse": (json_parse, BUILTIN_SCHEMAS["json_parse"]),
    }
    hosts = list(hosts)
    if allow_http:
        if not hosts:
            raise ValueError("http_get needs at least one allowed host")
        tools["http_get"] = (make_http_get(hosts), BUILTIN_SCHEMAS["http_get"])
    return tools
