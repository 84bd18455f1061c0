"""OpenAI's Responses API, stateless: `POST /v1/responses`, streaming and not, for text,
function tools and structured output. Nothing is stored, so `previous_response_id` and
`GET /v1/responses/{id}` are refused. Errors are in OpenAI's envelope."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from web.chat_request import prepare_chat
from web.completions import generate_all, take_slots
from web.deps import ServicesDep
from web.disconnect import unless_disconnected
from web.errors import shown_id
from web.openai_errors import OPENAI_ERRORS, OpenAIError, OpenAIRoute, invalid
from web.openai_stream import STREAMED
from web.responses_api import build_response, new_id, output_items, to_chat
from web.responses_schemas import ResponseCreate, ResponsePublic
from web.responses_stream import event_stream, response_events
from web.routes.openai import served_model
from web.tool_parser import finished_calls

router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute)


@router.post("/responses", response_model=ResponsePublic, responses={
    200: {"description": "The response, or its events as server-sent events when stream is "
                         "true", "content": STREAMED}, **OPENAI_ERRORS})
async def create_response(body: ResponseCreate, services: ServicesDep, request: Request
                          ) -> Any:
    served_model(services, body.model)
    if body.store:
        raise invalid("store", "responses are not stored on this server: send store false")
    chat = prepare_chat(to_chat(body), services)
    slots = take_slots(services.slots, 1, len(chat.samplings))
    if body.stream:
        events = response_events(services.engine, body, services.model_name, chat.prompt,
                                 chat.samplings[0], chat.tools)
        return event_stream(services.drain.until_over(events),
                            lambda: services.slots.release(slots))
    try:
        [g] = await unless_disconnected(request, services.drain.before_over(
            generate_all(services.engine, [chat.prompt], chat.samplings)))
    finally:
        services.slots.release(slots)
    content, calls = g.text, []
    if chat.tools is not None and chat.tools.reads_calls:
        content, calls = finished_calls(chat.tools.fmt, g.text)
    output = output_items(content, calls, complete=g.finish_reason != "length")
    return build_response(body, new_id("resp"), services.model_name, output, g, chat.prompt)


@router.get("/responses/{response_id}", response_model=ResponsePublic,
            responses=OPENAI_ERRORS)
async def get_response(response_id: str) -> ResponsePublic:
    raise OpenAIError(404, f"no response {shown_id(response_id)}: this server stores no responses "
                           "(send the whole conversation as input)")
