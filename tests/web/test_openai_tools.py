"""Tool calling through the official openai client against a live server: tool_choice auto,
required and a named function, streamed tool-call deltas, tool results in the conversation,
and `parse` with a Pydantic model."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest
from live_server import LiveServer
from pydantic import BaseModel, Field

ADD = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
       "required": ["a", "b"], "additionalProperties": False}
WEATHER = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}},
           "required": ["city"], "additionalProperties": False}
TOOLS = [
    {"type": "function", "function": {"name": "add", "description": "Add two integers",
                                      "parameters": ADD}},
    {"type": "function", "function": {"name": "get_weather",
                                      "description": "The weather in a city",
                                      "parameters": WEATHER}},
]
SCHEMAS = {"add": ADD, "get_weather": WEATHER}
SUM = [{"role": "user", "content": "What is 2 plus 3?"}]


@pytest.fixture(scope="module")
def oai(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0,
                         timeout=120)


def ask(oai: openai.OpenAI, **kwargs: object):
    request = {"model": "default", "messages": SUM, "max_tokens": 40, "temperature": 0,
               "tools": TOOLS, **kwargs}
    return oai.chat.completions.create(**request)  # type: ignore[call-overload]


def assert_valid_calls(calls: list, names: set[str]) -> None:
    assert calls
    for call in calls:
        assert call.id.startswith("call_") and call.type == "function"
        assert call.function.name in names
        jsonschema.validate(json.loads(call.function.arguments), SCHEMAS[call.function.name])


def test_required_calls_a_tool_with_valid_arguments(oai: openai.OpenAI) -> None:
    answer = ask(oai, tool_choice="required", parallel_tool_calls=False)
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert len(choice.message.tool_calls) == 1
    assert_valid_calls(choice.message.tool_calls, {"add", "get_weather"})


def test_named_function_is_the_one_called(oai: openai.OpenAI) -> None:
    answer = ask(oai, tool_choice={"type": "function", "function": {"name": "get_weather"}})
    calls = answer.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather"]
    assert_valid_calls(calls, {"get_weather"})
    assert answer.choices[0].finish_reason == "tool_calls"


def test_auto_answers_text_or_valid_calls(oai: openai.OpenAI) -> None:
    answer = ask(oai, tool_choice="auto")
    message = answer.choices[0].message
    if message.tool_calls:
        assert_valid_calls(message.tool_calls, {"add", "get_weather"})
        assert answer.choices[0].finish_reason == "tool_calls"
    else:
        assert message.content and "<tool_call>" not in message.content
    plain = oai.chat.completions.create(model="default", messages=SUM, max_tokens=1)
    assert answer.usage.prompt_tokens > plain.usage.prompt_tokens + 50  # the tools are shown


def test_none_never_reads_calls(oai: openai.OpenAI) -> None:
    answer = ask(oai, tool_choice="none")
    assert answer.choices[0].message.tool_calls is None
    assert answer.choices[0].finish_reason in ("stop", "length")


def test_streamed_tool_calls_match_the_whole_answer(oai: openai.OpenAI) -> None:
    whole = ask(oai, tool_choice="required", parallel_tool_calls=False).choices[0].message
    stream = ask(oai, tool_choice="required", parallel_tool_calls=False, stream=True)
    calls: dict[int, dict] = {}
    finish, argument_chunks = None, 0
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
                if delta.id:
                    assert call["id"] is None and delta.type == "function"
                    call["id"] = delta.id
                    call["name"] = delta.function.name
                if delta.function.arguments:
                    argument_chunks += 1
                    call["arguments"] += delta.function.arguments
    assert finish == "tool_calls" and argument_chunks > 1
    assert [(c["name"], c["arguments"]) for c in calls.values()] == [
        (c.function.name, c.function.arguments) for c in whole.tool_calls]
    assert all(c["id"].startswith("call_") for c in calls.values())


def test_tool_results_in_the_conversation(oai: openai.OpenAI) -> None:
    first = ask(oai, tool_choice={"type": "function", "function": {"name": "add"}})
    call = first.choices[0].message.tool_calls[0]
    args = json.loads(call.function.arguments)
    result = str(args["a"] + args["b"])
    history = [*SUM, first.choices[0].message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": call.id, "content": f"The sum is {result}"}]
    follow = oai.chat.completions.create(model="default", messages=history, tools=TOOLS,
                                         tool_choice="none", max_tokens=24, temperature=0)
    assert follow.choices[0].message.content
    without = oai.chat.completions.create(model="default", messages=history[:2], tools=TOOLS,
                                          tool_choice="none", max_tokens=1)
    # the call and its result are in the prompt, not dropped
    assert follow.usage.prompt_tokens > without.usage.prompt_tokens + 10


class City(BaseModel):
    city: str = Field(max_length=30)
    population: int


def test_parse_with_a_pydantic_model(oai: openai.OpenAI) -> None:
    answer = oai.chat.completions.parse(
        model="default", max_tokens=60, temperature=0, response_format=City,
        messages=[{"role": "user", "content": "Name a big city and its population."}])
    parsed = answer.choices[0].message.parsed
    assert isinstance(parsed, City) and parsed.city


@pytest.mark.parametrize(("extra", "param"), [
    ({"tools": "garbage"}, "tools"),
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
     "tool_choice.function.name"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]},
     "tools[0].function.name"),
])
def test_bad_tool_requests_are_400_with_param(oai: openai.OpenAI, extra: dict,
                                              param: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model="default", messages=SUM, max_tokens=4,
                                    **extra)
    assert info.value.body["param"] == param
    assert info.value.body["type"] == "invalid_request_error"
