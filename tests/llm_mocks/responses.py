"""OpenAI's Responses API (`/v1/responses`, Azure's `/openai/v1/responses`): JSON answers and
the streamed event sequence; requests checked against the `openai` SDK's Responses types."""

from __future__ import annotations

import json
from typing import Any

from tests.llm_mocks.openai import unauthorized
from tests.llm_mocks.replies import (
    API_KEY,
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    TOOL_ARGUMENTS,
    reply,
    streamed_arguments,
)
from tests.llm_mocks.schemas import responses_problem

USAGE = {
    "input_tokens": PROMPT_TOKENS,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": COMPLETION_TOKENS,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
}


def responses(handler, groups: list[str], body: dict) -> None:
    if handler.seen.headers.get("Authorization") != f"Bearer {API_KEY}":
        unauthorized(handler)
        return
    answer(handler, body, "openai")


def azure_responses(handler, groups: list[str], body: dict) -> None:
    if handler.seen.headers.get("api-key") != API_KEY:
        unauthorized(handler)
        return
    answer(handler, body, f"azure:{body.get('model')}")


def text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if "text" in p)
    return content or ""


def answer(handler, body: dict, provider: str) -> None:
    if (found := responses_problem(body)) is not None:
        error = {"message": found, "type": "invalid_request_error", "param": None, "code": None}
        handler.send_json(400, {"error": error})
        return
    items = body["input"] if isinstance(body["input"], list) else [body["input"]]
    items = [{"role": "user", "content": i} if isinstance(i, str) else i for i in items]
    last = items[-1]
    users = [i for i in items if i.get("role") == "user"]
    result = last["output"] if last.get("type") == "function_call_output" else None
    tools = [t["name"] for t in body.get("tools") or [] if t.get("type") == "function"]
    kind = ((body.get("text") or {}).get("format") or {}).get("type")
    said = text_of(users[-1]["content"]) if users else ""
    chosen = reply(provider, said, tools, result, kind in ("json_schema", "json_object"))
    if chosen.tool:
        item = {
            "id": "fc_mock",
            "type": "function_call",
            "call_id": "call_mock",
            "name": chosen.tool,
            "arguments": json.dumps(TOOL_ARGUMENTS),
            "status": "completed",
        }
    else:
        part = {"type": "output_text", "text": chosen.text, "annotations": []}
        item = {
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [part],
        }
    response = {
        "id": "resp_mock" + str(len(handler.server.seen)),
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "model": body["model"],
        "output": [item],
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": 1.0,
        "usage": USAGE,
        "metadata": body.get("metadata") or {},
    }
    if body.get("stream"):
        handler.send_stream("text/event-stream", events(response, item, chosen))
        return
    handler.send_json(200, response)


def events(response: dict, item: dict, chosen) -> list[bytes]:
    begun = {**response, "status": "in_progress", "output": [], "usage": None}
    sequence: list[dict] = [
        {"type": "response.created", "response": begun},
        {"type": "response.in_progress", "response": begun},
    ]
    where = {"item_id": item["id"], "output_index": 0}
    if item["type"] == "function_call":
        sequence.append(
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**item, "arguments": "", "status": "in_progress"},
            }
        )
        for piece in streamed_arguments():
            sequence.append(
                {"type": "response.function_call_arguments.delta", **where, "delta": piece}
            )
        sequence.append(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "arguments": item["arguments"],
            }
        )
    else:
        sequence.append(
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**item, "content": [], "status": "in_progress"},
            }
        )
        part = {"type": "output_text", "text": "", "annotations": []}
        where = {**where, "content_index": 0}
        sequence.append({"type": "response.content_part.added", **where, "part": part})
        for piece in chosen.pieces():
            sequence.append(
                {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
            )
        sequence.append(
            {"type": "response.output_text.done", **where, "text": chosen.text, "logprobs": []}
        )
        sequence.append(
            {"type": "response.content_part.done", **where, "part": {**part, "text": chosen.text}}
        )
    sequence.append({"type": "response.output_item.done", "output_index": 0, "item": item})
    sequence.append({"type": "response.completed", "response": response})
    return [
        f"event: {event['type']}\ndata: {json.dumps({**event, 'sequence_number': n})}\n\n".encode()
        for n, event in enumerate(sequence)
    ]
