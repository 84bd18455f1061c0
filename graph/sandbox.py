"""The jinja2 sandbox every template and expression runs in: `SandboxedEnvironment`,
`StrictUndefined`, bounded `*` and `**`, the format's extra filters (regular expressions on
RE2), and the render budget (`graph/render_budget.py`) checked at every call, attribute,
operator, filter, concatenation and loop iteration."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from graph.regex import compile_regex
from graph.render_budget import Meter, current_meter

MAX_REPEAT_CHARS = 1_000_000
MAX_EXPONENT = 4096
MAX_POWER_BITS = 65_536
FORBIDDEN_TAGS = {
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
}
REGEX_FILTERS = ("regex_search", "regex_findall", "regex_replace")

# `%` conversions and `str.format` fields with their widths and precisions
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?")
_FORMAT_FIELD = re.compile(r"\{[^{}]*\}")
_DIGITS = re.compile(r"\d+")
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_WIDTH_FILTERS = frozenset({"center", "indent", "wordwrap", "batch", "slice"})


class _BoundedCodeGenerator(CodeGenerator):
    """Compiled templates that meter their loops and concatenations."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        metered = nodes.Call(nodes.EnvironmentAttribute("metered_loop"), [node.iter], [],
                             None, None, lineno=node.lineno)
        loop = nodes.For(node.target, metered, node.body, node.else_, node.test,
                         node.recursive, lineno=node.lineno)
        super().visit_For(loop, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded(")
        super().visit_Concat(node, frame)
        self.write(")")


class FlowcSandbox(SandboxedEnvironment):
    """The sandbox, with operators, calls and loops bounded by the render budget."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        meter = _metered()
        if operator == "**":
            _check_power(left, right)
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
            _check_product(left, right)
        if operator == "%" and isinstance(left, str) and meter is not None:
            _check_percent_widths(meter, left, right)
        result = super().call_binop(context, operator, left, right)
        return meter.check_size(result) if meter is not None else result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        meter = _metered()
        if meter is not None:
            _check_arguments(meter, __obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        return meter.check_size(result) if meter is not None else result

    def getattr(self, obj: Any, attribute: str) -> Any:
        _metered()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _metered()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        meter = current_meter()
        if formatter is not None and meter is not None:
            for field in _FORMAT_FIELD.findall(value.__self__):
                _check_widths(meter, _DIGITS.findall(field.partition(":")[2]))
        return formatter

    @staticmethod
    def metered_loop(iterable: Iterable[Any]) -> Iterator[Any]:
        """A loop's items, checking the deadline before each."""
        meter = current_meter()
        for item in iterable:
            if meter is not None:
                meter.check_time()
            yield item

    @staticmethod
    def bounded(value: Any) -> Any:
        meter = current_meter()
        return meter.check_size(value) if meter is not None else value


def _metered() -> Meter | None:
    """The rendering's meter, after checking its deadline."""
    meter = current_meter()
    if meter is not None:
        meter.check_time()
    return meter


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


def _check_product(left: Any, right: Any) -> None:
    both_int = isinstance(left, int) and isinstance(right, int)
    if both_int and left.bit_length() + right.bit_length() > MAX_POWER_BITS:
        raise SecurityError(f"the product would have more than {MAX_POWER_BITS} bits")


def _check_arguments(meter: Meter, function: Any, args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> None:
    """A string method may not fill a width over the size budget (`ljust(10**9)`), nor a
    `replace` make a string over it."""
    name, text = getattr(function, "__name__", None), getattr(function, "__self__", None)
    if not isinstance(text, str):
        return
    if name in _WIDTH_METHODS:
        _check_widths(meter, [v for v in (*args, *kwargs.values()) if isinstance(v, int)])
    if name == "replace" and len(args) >= 2:
        _check_replace(meter, text, args[0], args[1])


def _check_widths(meter: Meter, widths: Iterable[int | str]) -> None:
    for width in widths:
        if width not in ("", "*") and not isinstance(width, bool):
            meter.check_width(int(width))


def _check_percent_widths(meter: Meter, text: str, arguments: Any) -> None:
    """Widths and precisions of `%` conversions, written or taken from the arguments (`*`)."""
    specs = _PERCENT_SPEC.findall(text)
    for width, precision in specs:
        _check_widths(meter, (width, precision))
    if any("*" in width + precision for width, precision in specs):
        values = arguments if isinstance(arguments, tuple) else (arguments,)
        _check_widths(meter, [v for v in values if isinstance(v, int)])


def _check_replace(meter: Meter, text: str, old: Any, new: Any) -> None:
    if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
        count = text.count(old) if old else len(text) + 1
        meter.check_width(len(text) + count * (len(new) - len(old)), "a replacement's result")


def _metered_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that checks the budget before it runs and the size of what it returns. Outside
    a rendering it refuses to run, so that jinja cannot fold it into a constant while compiling
    (`'a' | center(10**9)`), beyond any budget."""

    @wraps(function)
    def metered(*args: Any, **kwargs: Any) -> Any:
        meter = _metered()
        if meter is None:
            raise nodes.Impossible()
        plain = [a for a in args if not _is_jinja_state(a)]
        if name in _WIDTH_FILTERS:
            widths = (*plain[1:], *kwargs.values())
            _check_widths(meter, [v for v in widths if isinstance(v, int)])
        if name == "replace" and len(plain) >= 3:
            _check_replace(meter, str(plain[0]), plain[1], plain[2])
        if name == "format" and plain and isinstance(plain[0], str):
            _check_percent_widths(meter, plain[0], tuple(plain[1:]))
        return meter.check_size(function(*args, **kwargs))

    return metered


def _is_jinja_state(value: Any) -> bool:
    """The context, eval context or environment jinja passes to some filters first."""
    return type(value).__module__.startswith("jinja2.") and not isinstance(value, str)


def regex_search(value: Any, pattern: str, group: int = 0) -> str:
    """The first match of `pattern` in `value` (or one of its groups), "" when none."""
    match = compile_regex(pattern).search(str(value))
    return (match.group(group) or "") if match else ""


def regex_findall(value: Any, pattern: str) -> list[Any]:
    """Every match of `pattern` in `value`, as `re.findall` gives them."""
    return compile_regex(pattern).findall(str(value))


def regex_replace(value: Any, pattern: str, replacement: str) -> str:
    return compile_regex(pattern).sub(replacement, str(value))


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
ENV.filters = {name: _metered_filter(name, f) for name, f in ENV.filters.items()}
