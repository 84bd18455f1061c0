"""The Responses API through the official openai client: text, function tools (and their
outputs sent back), structured output with `parse`, streamed events, stateless refusals."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest
from live_server import LiveServer
from pydantic import BaseModel, Field

ADD = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
       "required": ["a", "b"], "additionalProperties": False}
TOOLS = [{"type": "function", "name": "add", "description": "Add two integers",
          "parameters": ADD}]


@pytest.fixture(scope="module")
def oai(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0,
                         timeout=120)


def test_text(oai: openai.OpenAI) -> None:
    response = oai.responses.create(model="default", input="What is the capital of France?",
                                    instructions="Answer in one sentence.",
                                    max_output_tokens=16, temperature=0)
    assert response.status == "completed" and "Paris" in response.output_text
    assert response.output[0].type == "message" and response.id.startswith("resp_")
    usage = response.usage
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens > 0
    cut = oai.responses.create(model="default", input="Tell me a long story.",
                               max_output_tokens=3, temperature=0)
    assert cut.status == "incomplete"
    assert cut.incomplete_details.reason == "max_output_tokens"


def test_function_call_and_its_output(oai: openai.OpenAI) -> None:
    question = [{"role": "user", "content": "What is 2 plus 3?"}]
    response = oai.responses.create(model="default", input=question, tools=TOOLS,
                                    tool_choice="required", parallel_tool_calls=False,
                                    max_output_tokens=40, temperature=0)
    [call] = response.output
    assert call.type == "function_call" and call.name == "add"
    args = json.loads(call.arguments)
    jsonschema.validate(args, ADD)
    follow = oai.responses.create(
        model="default", tools=TOOLS, tool_choice="none", max_output_tokens=16,
        temperature=0, input=[*question, call.model_dump(exclude_none=True), {
            "type": "function_call_output", "call_id": call.call_id,
            "output": str(args["a"] + args["b"])}])
    assert follow.output_text
    assert follow.usage.input_tokens > response.usage.input_tokens


class City(BaseModel):
    city: str = Field(max_length=30)
    population: int


def test_parse_structured_output(oai: openai.OpenAI) -> None:
    parsed = oai.responses.parse(model="default", text_format=City, temperature=0,
                                 input="Name a big city and its population.",
                                 max_output_tokens=60)
    assert isinstance(parsed.output_parsed, City)


def test_streamed_events(oai: openai.OpenAI) -> None:
    with oai.responses.stream(model="default", input="Say hello.", max_output_tokens=40,
                              temperature=0) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:5] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added",
                         "response.output_text.delta"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]
    deltas = kinds.count("response.output_text.delta")
    assert deltas > 1 and final.output_text


def test_streamed_function_call(oai: openai.OpenAI) -> None:
    with oai.responses.stream(model="default", input="What is 2 plus 3?", tools=TOOLS,
                              tool_choice={"type": "function", "name": "add"},
                              max_output_tokens=40, temperature=0) as stream:
        arguments = "".join(e.delta for e in stream
                            if e.type == "response.function_call_arguments.delta")
        final = stream.get_final_response()
    [call] = final.output
    assert call.type == "function_call" and call.arguments == arguments
    jsonschema.validate(json.loads(arguments), ADD)


def test_stateless(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai.responses.create(model="default", input="hi", previous_response_id="resp_1")
    assert info.value.param == "previous_response_id"
    with pytest.raises(openai.NotFoundError):
        oai.responses.retrieve("resp_1")
    with pytest.raises(openai.NotFoundError):
        oai.responses.create(model="gpt-9", input="hi")
