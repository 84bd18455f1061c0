"""Agent frameworks against a live server, unchanged: langchain-openai (bind_tools,
with_structured_output in function-calling and JSON-schema modes, a context overflow
recognised as one), LangGraph's create_react_agent looping through a calculator tool, and
litellm.

The 135M model seldom decides to call a tool by itself, so the agent's model forces the call
(tool_choice "required") until a tool result is the last message, then forbids one ("none")
to get the final answer: the loop is the framework's, the decision is forced."""

from __future__ import annotations

import json
import warnings

import pytest
from live_server import LiveServer
from pydantic import BaseModel, Field

langchain_openai = pytest.importorskip("langchain_openai")
from langchain_core.exceptions import ContextOverflowError  # noqa: E402
from langchain_core.messages import AIMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402


class City(BaseModel):
    """A city and how many people live there."""

    city: str = Field(max_length=30)
    population: int


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@pytest.fixture(scope="module")
def llm(server: LiveServer):
    return langchain_openai.ChatOpenAI(model="default", base_url=f"{server.url}/v1",
                                       api_key="unused", temperature=0, max_tokens=48,
                                       max_retries=0, timeout=120)


def test_bind_tools(llm) -> None:
    message = llm.bind_tools([multiply], tool_choice="multiply").invoke("What is 6 times 7?")
    [call] = message.tool_calls
    assert call["name"] == "multiply" and set(call["args"]) == {"a", "b"}
    assert all(isinstance(v, int) for v in call["args"].values())


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_with_structured_output(llm, method: str) -> None:
    city = llm.with_structured_output(City, method=method).invoke(
        "Name a big city and its population.")
    assert isinstance(city, City) and city.city


def test_context_overflow_is_recognised(llm) -> None:
    with pytest.raises(ContextOverflowError):
        llm.invoke("alert " * 9000)


def test_react_agent_loops_through_a_tool(llm) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent moved to langchain.agents
        from langgraph.prebuilt import create_react_agent

    def model(state, runtime):
        forced = "none" if isinstance(state["messages"][-1], ToolMessage) else "required"
        return llm.bind_tools([multiply], tool_choice=forced, parallel_tool_calls=False)

    agent = create_react_agent(model, [multiply])
    result = agent.invoke({"messages": [("user", "What is 6 times 7? Use the tool.")]})
    kinds = [type(m).__name__ for m in result["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    call = result["messages"][1].tool_calls[0]
    tool_message = result["messages"][2]
    assert tool_message.tool_call_id == call["id"]
    assert tool_message.content == str(call["args"]["a"] * call["args"]["b"])
    final = result["messages"][3]
    assert isinstance(final, AIMessage) and not final.tool_calls and final.content


@pytest.fixture(scope="module")
def litellm_module(monkeypatch_module):
    monkeypatch_module.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network
    return pytest.importorskip("litellm")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_litellm_tools_and_context_overflow(litellm_module, server: LiveServer) -> None:
    litellm = litellm_module
    base = {"model": "openai/default", "api_base": f"{server.url}/v1", "api_key": "unused"}
    tools = [{"type": "function", "function": {
        "name": "multiply", "description": "Multiply two integers",
        "parameters": multiply.args_schema.model_json_schema()}}]
    answer = litellm.completion(**base, messages=[{"role": "user", "content": "6 times 7?"}],
                                tools=tools, tool_choice="required", max_tokens=40,
                                temperature=0, parallel_tool_calls=False)
    [call] = answer.choices[0].message.tool_calls
    assert call.function.name == "multiply" and answer.choices[0].finish_reason == "tool_calls"
    assert set(json.loads(call.function.arguments)) == {"a", "b"}
    with pytest.raises(litellm.ContextWindowExceededError):
        litellm.completion(**base, messages=[{"role": "user", "content": "alert " * 9000}],
                           max_tokens=4, num_retries=0)

