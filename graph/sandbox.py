"""The jinja2 sandbox every template and expression runs in: `SandboxedEnvironment`,
`StrictUndefined`, bounded `*` and `**`, and the format's extra filters."""

from __future__ import annotations

import json
import re
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError
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
