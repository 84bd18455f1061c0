"""The render budget stops hostile templates while they run (time, output, values made on the
way), and regular expressions run on RE2: linear in time, with Python syntax RE2 has no
equivalent for refused at validation."""

from __future__ import annotations

import copy

import pytest
from graph_cases import BASE

from compiler.plan import Segment
from compiler.segments import PromptTooLong, render_segments
from graph import GraphError, RenderBudget, compile_regex, load, render_budget
from graph.templates import TemplateProblem, check_expression, check_template, evaluate, render

SPIN = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}done"
SPIN_ON_LIST = ("{% for a in xs %}{% for b in xs %}{% for c in xs %}{% endfor %}{% endfor %}"
                "{% endfor %}")
DOUBLING = ("{% set ns = namespace(x='ab') %}{% for i in range(64) %}{% set ns.x = ns.x ~ ns.x %}"
            "{% endfor %}{{ ns.x | length }}")


@pytest.mark.parametrize("template", [SPIN, SPIN_ON_LIST, "{{ xs | map('string') | list }}"])
def test_a_template_past_its_time_budget_is_stopped(template: str) -> None:
    values = {"xs": list(range(100_000))}
    with render_budget(RenderBudget(timeout_s=0.2)), pytest.raises(TemplateProblem) as caught:
        render(template * 200, values)
    assert "limits.render_timeout_s (0.2 s)" in str(caught.value)


@pytest.mark.parametrize("template", [
    "{% for i in range(100000) %}0123456789{% endfor %}",
    "{{ 'x' * 600 }}{{ 'y' * 600 }}",
    "{% for i in range(20) %}{{ big }}{% endfor %}",
])
def test_output_past_its_size_budget_is_stopped_as_it_is_written(template: str) -> None:
    with render_budget(RenderBudget(max_chars=1000)), pytest.raises(TemplateProblem) as caught:
        render(template, {"big": "z" * 100})
    assert "the output exceeds limits.max_render_chars (1,000 characters)" in str(caught.value)


@pytest.mark.parametrize(("template", "made"), [
    (DOUBLING, "a value of 2,048 items"),
    ("{% set ns = namespace(x=[1]) %}{% for i in range(64) %}{% set ns.x = ns.x + ns.x %}"
     "{% endfor %}", "a value of 2,048 items"),
    ("{{ 'aaaa' | replace('a', 'aaaa') | replace('a', 'aaaa') | replace('a', 'aaaa')"
     " | replace('a', 'aaaa') | replace('a', 'aaaa') | replace('a', 'aaaa') }}",
     "a replacement's result of 4,096"),
    ("{{ 'a' | center(1000000000) }}", "a width of 1,000,000,000"),
    ("{{ 'a'.ljust(1000000000) }}", "a width of 1,000,000,000"),
    ("{{ '%1000000000s' % 'a' }}", "a width of 1,000,000,000"),
    ("{{ '%*s' % (1000000000, 'a') }}", "a width of 1,000,000,000"),
    ("{{ '{:>1000000000}'.format('a') }}", "a width of 1,000,000,000"),
    ("{{ range(100) | join('-' * 500) }}", "a value of 49,6"),
])
def test_values_made_on_the_way_are_bounded_before_they_exhaust_memory(template: str,
                                                                       made: str) -> None:
    with render_budget(RenderBudget(max_chars=2000)), pytest.raises(TemplateProblem) as caught:
        render(template, {})
    assert made in str(caught.value)
    assert "exceeds limits.max_render_chars (2,000 characters)" in str(caught.value)


def test_ordinary_formatting_of_large_numbers_is_not_a_width() -> None:
    text = ("{{ '%d' % n }} {{ '{:,}'.format(n) }} {{ 'ab' | replace('a', 'zz') }} "
            "{{ 'x' | center(5) }}|")
    with render_budget(RenderBudget(max_chars=100)):
        assert render(text, {"n": 10**12}) == "1000000000000 1,000,000,000,000 zzb   x  |"


def test_deep_recursion_is_a_template_problem() -> None:
    with pytest.raises(TemplateProblem, match="nested too deeply"):
        render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", {})


def test_expressions_share_the_budget() -> None:
    with render_budget(RenderBudget(max_chars=500)), pytest.raises(TemplateProblem) as caught:
        evaluate("range(1000) | list", {})
    assert "a value of 1,000 items" in str(caught.value)
    assert evaluate("range(10) | list | length", {}) == 10


def test_the_budget_in_force_ends_with_its_context() -> None:
    with render_budget(RenderBudget(max_chars=10)), pytest.raises(TemplateProblem):
        render("{{ x }}", {"x": "0123456789ab"})
    assert render("{{ x }}", {"x": "0123456789ab"}) == "0123456789ab"


def test_a_prompt_past_its_bound_stops_rendering_before_tokenizing() -> None:
    class NoTokenizer:
        def __call__(self, *args: object, **kwargs: object) -> dict:
            raise AssertionError("a prompt over its bound must not be tokenized")

    segments = (Segment("static", "Read: "), Segment("dynamic", "{{ doc * 100 }}", (), ("doc",)))
    with pytest.raises(PromptTooLong, match="more than 500 characters"):
        render_segments(NoTokenizer(), segments, {"doc": "0123456789"}, max_chars=500)


@pytest.mark.parametrize("pattern", ["^(a+)+$", "(x+x+)+y", "(a|aa)+$", "(a*)*b"])
def test_regex_filters_run_in_linear_time(pattern: str) -> None:
    text = "a" * 31 + "!"  # decades for a backtracking engine on the first three
    assert render("[{{ who | regex_search(p) }}]", {"who": text, "p": pattern}) == "[]"
    assert evaluate("who | regex_findall(p)", {"who": text, "p": pattern}) == []


def test_regex_filters_give_python_results() -> None:
    values = {"alert": "from 10.0.0.7 and 185.220.101.34 at end"}
    assert evaluate("alert | regex_findall('([0-9]+)[.]([0-9]+)[.][0-9]+[.][0-9]+')",
                    values) == [("10", "0"), ("185", "220")]
    assert render(r"{{ alert | regex_replace('([0-9]+)[.]([0-9]+)', '\\2.\\1') }}",
                  values) == "from 0.10.7.0 and 220.185.34.101 at end"
    assert render(r"{{ alert | regex_search('\\w+\\Z') }}", values) == "end"
    assert render("{{ alert | regex_search('([0-9]+) and', 1) }}", values) == "7"


@pytest.mark.parametrize(("pattern", "named"), [
    (r"(\w+) \1", "backreferences"),
    ("(?P<w>a)(?P=w)", "backreferences"),
    ("foo(?=bar)", "lookaround"),
    ("(?<!x)y", "lookaround"),
    ("a++", "possessive"),
])
def test_patterns_re2_cannot_run_are_refused_at_validation(pattern: str, named: str) -> None:
    problems = check_template("{{ text | regex_search('" + pattern.replace("\\", "\\\\") + "') }}")
    assert [p.message for p in problems if named in p.message and "RE2" in p.message], problems
    assert check_expression(f"text | regex_replace({pattern!r}, 'x')")
    with pytest.raises(ValueError, match=named):
        compile_regex(pattern)


def _workflow_with(node: dict) -> dict:
    source = copy.deepcopy(BASE)
    source["nodes"].append(node)
    return source


def test_a_regex_extract_pattern_or_regex_constraint_re2_cannot_run_fails_validation() -> None:
    tool = {"id": "grab", "type": "tool", "tool": "regex_extract", "output": "found",
            "args": {"text": "{{ text }}", "pattern": r"(\d)\1"}}
    with pytest.raises(GraphError) as caught:
        load(_workflow_with(tool))
    assert "args.pattern (node 'grab'): regular expression" in str(caught.value)
    assert "backreferences" in str(caught.value)
    constrained = {"id": "say", "type": "llm", "prompt": "{{ text }}", "output": "said",
                   "regex": "(?=yes)y.*"}
    with pytest.raises(GraphError, match=r"regex \(node 'say'\): .*lookaround"):
        load(_workflow_with(constrained))
    templated = {**tool, "args": {"text": "{{ text }}", "pattern": "{{ pattern }}"}}
    source = _workflow_with(templated)
    source["inputs"]["pattern"] = {"type": "string", "default": "x"}
    load(source)  # a pattern known only at run time is checked when the tool runs
