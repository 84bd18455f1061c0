"""Bodies of the OpenAI-compatible routes: the fields flowc honours, with OpenAI's names.

A request's top-level fields are checked: one flowc cannot honour (`suffix`, `functions`,
`audio`, ...) is refused with a 400 naming it rather than ignored. Fields without effect on
the answer are accepted (`user`, `metadata`, `service_tier`, `prompt_cache_key`,
`safety_identifier`, `store` false, `frequency_penalty` and `presence_penalty` at 0). Messages
and their parts are read leniently (clients send back whole answers). Two of vLLM's extensions
are honoured, as vLLM takes them in the body (the `openai` client's `extra_body`):
`ignore_eos` and `guided_choice`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from web.tool_schemas import Lenient, ToolCall, ToolCallIn, ToolChoice, ToolDefinition

INT64 = 2**63


class Strict(BaseModel):
    """A request's top level: unknown fields refused, no coercion (`"stream": "yes"` and
    `"max_tokens": true` are errors), numbers finite."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True,
                              allow_inf_nan=False)


class TextPart(Lenient):
    type: Literal["text"]
    text: str


class ChatMessage(Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class JsonSchemaFormat(Lenient):
    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: StrictBool | None = None


class ResponseFormat(Lenient):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(Lenient):
    include_usage: StrictBool = False


class SamplingCreate(Strict):
    model: str = Field(description="The served model's name, or 'default'")
    max_tokens: int | None = Field(default=None, ge=1, le=32768)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=16)
    stop: str | list[str] | None = Field(default=None, description="Up to 4 stop strings")
    seed: int | None = Field(default=None, ge=-INT64, lt=INT64)
    stream: bool = False
    stream_options: StreamOptions | None = None
    frequency_penalty: float | None = Field(default=None,
                                            description="Only 0 (penalties are not applied)")
    presence_penalty: float | None = Field(default=None,
                                           description="Only 0 (penalties are not applied)")
    logit_bias: dict[str, float] | None = Field(
        default=None, description="Token id (as a string) to a bias in [-100, 100] added to "
                                  "its logit")
    user: str | None = None
    metadata: dict[str, str] | None = None
    service_tier: str | None = None
    store: Literal[False] | None = Field(default=None, description="Answers are not stored")
    prompt_cache_key: str | None = None
    safety_identifier: str | None = None
    ignore_eos: bool = Field(default=False, description=(
        "vLLM's extension: keep generating past the end-of-sequence token until max_tokens "
        "(or a stop string, or the end of a guided_choice)"))
    guided_choice: list[Annotated[str, Field(min_length=1)]] | None = Field(
        default=None, min_length=1, description=(
            "vLLM's extension: the reply is exactly one of these strings (constrained "
            "decoding); excludes a JSON response_format"))

    @field_validator("frequency_penalty", "presence_penalty")
    @classmethod
    def _no_penalty(cls, value: float | None) -> float | None:
        if value:
            raise ValueError("penalties are not applied on this server: send 0 or leave it out")
        return value

    def stop_strings(self) -> tuple[str, ...]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return tuple(s for s in stops if s)


class ChatCompletionCreate(SamplingCreate):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=32768)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    response_format: ResponseFormat | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool = True


class CompletionCreate(SamplingCreate):
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = Field(default=16, ge=0, le=32768,
                                   description="0 only with echo: score the prompt alone")
    logprobs: int | None = Field(default=None, ge=0, le=20)
    echo: bool = False
    best_of: int | None = Field(default=None, ge=1, le=1, description="Only 1")


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: dict[str, int] | None = None


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = Field(default_factory=list)


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprob] | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[ToolCall] | None = None


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: Literal["stop", "length", "tool_calls"]


class ChatCompletionPublic(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    system_fingerprint: str | None = None


class CompletionLogprobs(BaseModel):
    tokens: list[str]
    token_logprobs: list[float | None] = Field(
        description="None for the first token of an echoed prompt (nothing precedes it)")
    top_logprobs: list[dict[str, float] | None] | None = None
    text_offset: list[int]


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: CompletionLogprobs | None = None
    finish_reason: Literal["stop", "length"]


class CompletionPublic(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


class ModelPublic(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "flowc"


class ModelsPublic(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelPublic]
