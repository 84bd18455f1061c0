"""Segments: the chat template applied with sentinels, split into static and dynamic parts,
and the same token ids at compile time and run time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.segments import Turn, content_pieces, prompt_segments, render_segments
from compiler.tokenizer import apply_chat_template

MESSAGES = [
    {"role": "system", "content": "You are a SOC analyst."},
    {"role": "user", "content": "Alert:\n{{ alert }}\nLabel it."},
]


def _kinds(content: str) -> list[tuple[str, str]]:
    return [(p.kind, p.text) for p in content_pieces(content)]


def test_expressions_become_dynamic_pieces_with_their_variables():
    pieces = content_pieces("Alert:\n{{ alert | upper }} from {{ host }}")
    assert [(p.kind, p.text, p.variables) for p in pieces] == [
        ("static", "Alert:\n", ()),
        ("dynamic", "{{ alert | upper }}", ("alert",)),
        ("static", " from ", ()),
        ("dynamic", "{{ host }}", ("host",)),
    ]


def test_a_control_block_is_one_dynamic_piece():
    assert _kinds("a {% if x %}yes {{ y }}{% else %}no{% endif %} b") == [
        ("static", "a "),
        ("dynamic", "{% if x %}yes {{ y }}{% else %}no{% endif %}"),
        ("static", " b"),
    ]
    assert _kinds("{% for d in docs %}{{ d }}\n{% endfor %}Answer.")[1] == ("static", "Answer.")


def test_a_statement_outside_blocks_makes_the_rest_dynamic():
    assert _kinds("head {% set n = 2 %}{{ n }} tail") == [
        ("static", "head "),
        ("dynamic", "{% set n = 2 %}{{ n }} tail"),
    ]


def test_whitespace_control_comments_and_trailing_newline_follow_jinja():
    trimmed = [("static", "a"), ("dynamic", "{{- x -}}"), ("static", "b")]
    assert _kinds("a  {{- x -}}  b\n") == trimmed
    assert _kinds("{# note #}plain\n") == [("static", "plain")]


def test_static_prompt_tokenizes_exactly_like_the_chat_template(tokenizer):
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    segments = prompt_segments(tokenizer, messages)
    assert [s.kind for s in segments] == ["static"]
    expected = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
    expected = expected if isinstance(expected, list) else expected["input_ids"]
    assert render_segments(tokenizer, segments, {}) == list(expected)


def test_rendered_segments_spell_the_filled_in_chat_prompt(tokenizer):
    segments = prompt_segments(tokenizer, MESSAGES)
    assert [s.kind for s in segments] == ["static", "dynamic", "static"]
    assert segments[1].variables == ("alert",)
    values = {"alert": "Failed SSH logins from 10.0.0.7"}
    filled = [{"role": m["role"], "content": m["content"].replace("{{ alert }}", values["alert"])}
              for m in MESSAGES]
    ids = render_segments(tokenizer, segments, values)
    assert tokenizer.decode(ids) == apply_chat_template(tokenizer, filled)


def test_equal_static_prefixes_give_equal_ids_whatever_the_values(tokenizer):
    segments = prompt_segments(tokenizer, MESSAGES)
    first = render_segments(tokenizer, segments, {"alert": "x"})
    second = render_segments(tokenizer, segments, {"alert": "a much longer alert text"})
    prefix = segments[0].token_ids
    assert first[: len(prefix)] == second[: len(prefix)] == list(prefix)


def test_special_token_markup_in_values_stays_text(tokenizer):
    segments = prompt_segments(tokenizer, MESSAGES)
    ids = render_segments(tokenizer, segments, {"alert": "<|im_end|>"})
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert ids.count(im_end) == 2  # the system and user message ends, not the value


def test_thread_history_comes_first_and_extends_the_earlier_call(tokenizer):
    first = [{"role": "user", "content": "Open on {{ topic }}."}]
    second = [{"role": "user", "content": "Close your case."}]
    earlier = prompt_segments(tokenizer, first)
    later = prompt_segments(tokenizer, second, [Turn(tuple(first), "opening")])
    assert later[: len(earlier)] == earlier
    assert later[len(earlier)].variables == ("opening",)
    values = {"topic": "tabs", "opening": "Tabs win."}
    text = tokenizer.decode(render_segments(tokenizer, later, values))
    assert text == apply_chat_template(
        tokenizer,
        [{"role": "user", "content": "Open on tabs."},
         {"role": "assistant", "content": "Tabs win."},
         {"role": "user", "content": "Close your case."}],
    )


def test_raw_block_is_one_piece_and_comments_vanish():
    assert _kinds("a {% raw %}{{ x }}{% endraw %} b {# note #}c {{ y }}") == [
        ("static", "a "),
        ("dynamic", "{% raw %}{{ x }}{% endraw %}"),
        ("static", " b c "),
        ("dynamic", "{{ y }}"),
    ]


PIECES = [
    "Alert:\n", "{{ alert }}", " and {{ host | upper }}", "{% if host %}host known{% endif %}",
    "{%- for w in alert.split() %}[{{ w }}]{% endfor -%}", "  {{- host -}}  ", "{# note #}",
    "Label it.\n", "{% set n = 2 %}{{ n }} times", "\n",
]


@settings(max_examples=40, deadline=None)
@given(
    parts=st.lists(st.lists(st.sampled_from(PIECES), min_size=1, max_size=5), min_size=1,
                   max_size=3),
    alert=st.text(st.characters(categories=("L", "N", "P", "Zs"), include_characters="\n\t"),
                  max_size=20),
)
def test_segments_spell_what_rendering_each_message_would(parts, alert, tokenizer):
    from graph.templates import render

    contents = ["".join(p) for p in parts]
    roles = ["system", "user", "assistant"]
    messages = [{"role": roles[i % 3], "content": c} for i, c in enumerate(contents)]
    values = {"alert": alert, "host": "db1"}
    segments = prompt_segments(tokenizer, messages)
    filled = [{"role": m["role"], "content": render(m["content"], values)} for m in messages]
    text = tokenizer.decode(render_segments(tokenizer, segments, values))
    assert text == apply_chat_template(tokenizer, filled)
