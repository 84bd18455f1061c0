"""Tools in OpenAI's shapes: the functions a request offers, its `tool_choice`, and the calls
an answer (or an earlier assistant message) carries."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

FUNCTION_NAME = r"^[a-zA-Z0-9_-]{1,64}$"


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class FunctionDefinition(Lenient):
    name: str = Field(pattern=FUNCTION_NAME)
    description: str | None = None
    parameters: dict[str, Any] | None = Field(
        default=None, description="A JSON schema of the arguments (an object)")
    strict: StrictBool | None = None

    def arguments_schema(self) -> dict[str, Any]:
        """The schema the arguments are decoded against (any object when none is given)."""
        return self.parameters or {"type": "object"}


class ToolDefinition(Lenient):
    type: Literal["function"]
    function: FunctionDefinition


class FunctionName(Lenient):
    name: str


class NamedToolChoice(Lenient):
    type: Literal["function"]
    function: FunctionName


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice


class FunctionCall(BaseModel):
    name: str
    arguments: str = Field(description="The arguments as a JSON object, encoded as a string")


class ToolCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ToolCallIn(Lenient):
    """A call in an earlier assistant message of the conversation."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall
