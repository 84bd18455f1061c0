"""Templates and expressions in the sandbox: variables, rendering, evaluation, the filters,
the pieces the compiler segments, and unsafe constructs refused before and while running."""

from __future__ import annotations

import pytest

from graph.templates import (
    TemplateProblem,
    check_expression,
    check_template,
    evaluate,
    expression_variables,
    render,
    split_template,
    template_variables,
)


def test_free_variables_leave_out_loop_targets_set_locals_and_globals() -> None:
    text = ("{% for doc in docs %}{{ loop.index }}. {{ doc.title }} {{ query }}{% endfor %}"
            "{% set n = docs | length %}{{ n }} {{ range(3) | list }}")
    assert template_variables(text) == {"docs", "query"}
    assert expression_variables("label != 'benign' and iocs | length > k") == {
        "label", "iocs", "k"}


def test_render_and_evaluate_in_the_sandbox() -> None:
    values = {"alert": "from 10.0.0.7 and 185.220.101.34", "intel": {"score": 95}}
    assert render("Score {{ intel.score }} for {{ alert | regex_search('[0-9]+[.][0-9]+') }}",
                  values) == "Score 95 for 10.0"
    assert evaluate("alert | regex_findall('[0-9.]{7,15}')", values) == [
        "10.0.0.7", "185.220.101.34"]
    assert evaluate("intel | tojson", values) == '{"score": 95}'
    assert evaluate("'{\"a\": [1, 2]}' | fromjson", {}) == {"a": [1, 2]}
    assert evaluate("[1, 2, 3] | sum", {}) == 6
    assert render("<{{ x }}>", {"x": "<b>"}) == "<<b>>"


def test_undefined_variables_fail_loudly() -> None:
    with pytest.raises(TemplateProblem, match="'missing' is undefined"):
        render("Hello {{ missing }}", {})
    with pytest.raises(TemplateProblem, match="'missing' is undefined"):
        evaluate("missing", {})


@pytest.mark.parametrize("text", [
    "{{ x.__class__ }}",
    "{{ x.__class__.__mro__[1].__subclasses__() }}",
    "{{ x['__globals__'] }}",
    "{{ x._private }}",
    "{% include 'other.txt' %}",
    "{% import 'macros.txt' as m %}",
    "{% extends 'base.txt' %}",
])
def test_unsafe_constructs_are_rejected_before_running(text: str) -> None:
    problems = check_template(text)
    assert problems and all("unsafe template construct" in p.message for p in problems)
    assert problems[0].line == 1


@pytest.mark.parametrize("template, values, refusal", [
    ("{{ x.__class__ }}", {"x": 1}, "__class__"),
    ("{{ f.__globals__ }}", {"f": render}, "__globals__"),
    ("{{ 'a' * 10000000 }}", {}, "repetition"),
    ("{{ 2 ** 100000 }}", {}, "exponent"),
    ("{{ x ** 5000 }}", {"x": 10 ** 200}, "exponent"),
    ("{{ x ** 4000 }}", {"x": 10 ** 200}, "bits"),
])
def test_the_sandbox_refuses_unsafe_operations_at_render_time(template, values, refusal) -> None:
    with pytest.raises(TemplateProblem, match="refused by the sandbox") as raised:
        render(template, values)
    assert refusal in str(raised.value)


def test_syntax_errors_carry_their_line() -> None:
    [problem] = check_template("line one\nline two\n{% if x %}never closed")
    assert problem.line == 3 and "syntax error" in problem.message
    [problem] = check_expression("a b")
    assert problem.message == "syntax error: unexpected 'b' after the expression"
    assert check_expression("x | nosuchfilter")[0].message == (
        "syntax error: No filter named 'nosuchfilter'.")


def test_split_template_gives_source_pieces_in_order() -> None:
    text = "Alert:\n{{- alert }} {% if k %}k={{ k }}{% endif %}{# note #} {{ '}}' }} end\n"
    pieces = split_template(text)
    assert "".join(p for _, p in pieces) == text
    assert pieces == [
        ("static", "Alert:\n"), ("dynamic", "{{- alert }}"), ("static", " "),
        ("dynamic", "{% if k %}"), ("static", "k="), ("dynamic", "{{ k }}"),
        ("dynamic", "{% endif %}"), ("dynamic", "{# note #}"), ("static", " "),
        ("dynamic", "{{ '}}' }}"), ("static", " end\n"),
    ]
    assert split_template("{% raw %}{{ not a tag }}{% endraw %} x") == [
        ("dynamic", "{% raw %}{{ not a tag }}{% endraw %}"), ("static", " x")]
    assert split_template("plain") == [("static", "plain")]
