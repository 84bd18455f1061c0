"""A chat request made ready for the engine: its prompt, one SamplingParams per choice and
its tool use, checked (every refusal raised before anything is queued)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.api import SamplingParams
from web.chat_prompt import chat_prompt_ids
from web.completions import check_all, check_context, sampling_for
from web.openai_errors import invalid
from web.openai_schemas import ChatCompletionCreate
from web.services import Services
from web.tool_use import ToolUse, tool_use


@dataclass(frozen=True)
class PreparedChat:
    prompt: list[int]
    samplings: list[SamplingParams]
    tools: ToolUse | None


def prepare_chat(body: ChatCompletionCreate, services: Services) -> PreparedChat:
    tokenizer, engine = services.tokenizer, services.engine
    if body.top_logprobs and not body.logprobs:
        raise invalid("top_logprobs", "top_logprobs needs logprobs: true")
    tools = tool_use(body, tokenizer.chat_template)
    prompt = chat_prompt_ids(tokenizer, body.messages, body.tools)
    samplings = sampling_for(body, services.settings, len(tokenizer), logprobs=body.logprobs,
                             top_logprobs=body.top_logprobs or 0,
                             structural_tag=tools.structural_tag if tools else None)
    check_context(engine, [prompt], samplings[0].max_tokens)
    if body.stream:  # refusals before the first byte; generate raises them itself
        check_all(engine, [prompt], samplings)
    return PreparedChat(prompt, samplings, tools)
