"""Tool-call formats of the model families, without a server: each family's grammar compiles
and only lets a well-formed call through; its calls are read back whole and as they stream,
and text that merely starts like a call is kept as content."""

from __future__ import annotations

import json

import pytest

from compiler.tokenizer import load_tokenizer
from engine.api import SamplingParams
from engine.constraints import Constraint, GrammarCompiler
from web.tool_formats import HERMES, LLAMA3, MISTRAL, ToolFormat, tool_call_tag, tool_format
from web.tool_parser import ToolCallStream, finished_calls, parse_calls
from web.tool_schemas import ToolDefinition

ADD = ToolDefinition.model_validate({"type": "function", "function": {
    "name": "add", "parameters": {"type": "object", "properties": {
        "a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}})
FAMILIES = [HERMES, LLAMA3, MISTRAL]


def call_text(fmt: ToolFormat, arguments: str) -> str:
    return f"{fmt.begin('add')}{arguments}{fmt.call_close}"


@pytest.fixture(scope="module")
def compiler() -> tuple[object, GrammarCompiler]:
    tokenizer = load_tokenizer()
    stop = tokenizer.convert_tokens_to_ids("<|im_end|>")
    return tokenizer, GrammarCompiler(tokenizer, len(tokenizer), (stop,))


@pytest.mark.parametrize("fmt", FAMILIES, ids=lambda f: f.name)
@pytest.mark.parametrize("forced", [True, False])
def test_grammar_takes_a_valid_call_and_refuses_a_bad_one(compiler, fmt: ToolFormat,
                                                          forced: bool) -> None:
    tokenizer, grammars = compiler
    grammar = grammars.compile(SamplingParams(
        structural_tag=tool_call_tag(fmt, [ADD], forced, parallel=False)))

    def accepts(text: str) -> bool:
        constraint = Constraint(grammar)
        return all(constraint.accept(t) for t in tokenizer.encode(text,
                                                                  add_special_tokens=False))

    assert accepts(call_text(fmt, '{"a": 1, "b": 2}'))
    assert not accepts(call_text(fmt, '{"a": "one", "b": 2}'))
    assert accepts("Just text.") is not forced  # free text only under auto


@pytest.mark.parametrize("fmt", FAMILIES, ids=lambda f: f.name)
def test_calls_read_whole_and_streamed_agree(fmt: ToolFormat) -> None:
    text = ("Let me add. " + call_text(fmt, '{"a": 1, "b": {"c": "}\\""}}') + fmt.separator
            + call_text(fmt, '{"a": 3, "b": 4}'))
    content, calls = finished_calls(fmt, text)
    assert content == "Let me add."
    assert [json.loads(c.function.arguments) for c in calls] == [
        {"a": 1, "b": {"c": '}"'}}, {"a": 3, "b": 4}]
    stream, deltas = ToolCallStream(fmt), []
    for i, ch in enumerate(text):
        deltas += stream.push(ch, final=i == len(text) - 1)
    streamed_content = "".join(d.get("content", "") for d in deltas)
    starts = [d["tool_calls"][0] for d in deltas if "id" in d.get("tool_calls", [{}])[0]]
    arguments: dict[int, str] = {}
    for d in deltas:
        for call in d.get("tool_calls", []):
            arguments[call["index"]] = arguments.get(call["index"], "") + \
                call["function"]["arguments"]
    assert streamed_content.strip() == content
    assert [s["function"]["name"] for s in starts] == ["add", "add"]
    assert list(arguments.values()) == [c.function.arguments for c in calls]


@pytest.mark.parametrize("fmt", FAMILIES, ids=lambda f: f.name)
def test_text_like_a_trigger_stays_content(fmt: ToolFormat) -> None:
    text = "I will not call " + fmt.call_open[:3]
    assert parse_calls(fmt, text).content == "I will not call "  # held back while streaming
    assert finished_calls(fmt, text) == (text, [])
    unfinished = fmt.begin("add") + '{"a": 1'
    assert finished_calls(fmt, unfinished) == (unfinished, [])


def test_family_from_the_chat_template() -> None:
    assert tool_format(None) is HERMES
    assert tool_format("{{ '<tool_call>' }}{% if tools %}") is HERMES
    assert tool_format("<|python_tag|>{% if tools %}") is LLAMA3
    assert tool_format("[AVAILABLE_TOOLS]{{ tools }}[TOOL_CALLS]") is MISTRAL
