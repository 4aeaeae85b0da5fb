"""Anthropic's Messages API: `/v1/messages`, JSON answers and the streamed event sequence."""

from __future__ import annotations

import json
from typing import Any

from tests.llm_mocks.replies import (
    API_KEY,
    CACHE_WRITE_TOKENS,
    CACHED_TOKENS,
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    THOUGHT,
    TOOL_ARGUMENTS,
    reply,
    streamed_arguments,
)
from tests.llm_mocks.schemas import anthropic_problem


def error(handler, status: int, kind: str, message: str) -> None:
    handler.send_json(status, {"type": "error", "error": {"type": kind, "message": message}})


def problem(body: dict) -> str | None:
    """What the real API would refuse in this body (the checks the gateway must satisfy)."""
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = body.get("messages") or []
    if not messages or messages[0]["role"] != "user":
        return "messages: first message must use the user role"
    for before, after in zip(messages, messages[1:], strict=False):
        if before["role"] == after["role"]:
            return "messages: roles must alternate between user and assistant"
    if any(m["role"] not in ("user", "assistant") for m in messages):
        return "messages: unexpected role"
    if "system" in body and not isinstance(body["system"], str | list):
        return "system: must be a string or a list of text blocks"
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        if not 1024 <= thinking["budget_tokens"] < body["max_tokens"]:
            return "thinking.budget_tokens: must be >= 1024 and less than max_tokens"
        if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
            return "Thinking may not be enabled when tool_choice forces tool use."
        answers = [blocks(m["content"]) for m in messages if m["role"] == "assistant"]
        last = answers[-1] if answers else []
        if any(b["type"] == "tool_use" for b in last) and last[0]["type"] != "thinking":
            return "a final assistant message with tool_use must start with a thinking block"
    return None


def usage(body: dict, output_tokens: int) -> dict:
    """The usage of an answer: prompt-cache reads and writes counted apart when it marks the
    prompt for the cache."""
    counts = {"input_tokens": PROMPT_TOKENS, "output_tokens": output_tokens}
    if '"cache_control"' in json.dumps(body):
        counts["cache_read_input_tokens"] = CACHED_TOKENS
        counts["cache_creation_input_tokens"] = CACHE_WRITE_TOKENS
    return counts


def offered_tools(body: dict) -> list[str]:
    """The tools the model may call: the one tool_choice forces, else all of them."""
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        return [choice["name"]]
    return [t["name"] for t in body.get("tools") or []] if choice.get("type") != "none" else []


def blocks(content: Any) -> list[dict]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def messages(handler, groups: list[str], body: dict) -> None:
    headers = handler.seen.headers
    if headers.get("x-api-key") != API_KEY:
        error(handler, 401, "authentication_error", "invalid x-api-key")
        return
    if not headers.get("anthropic-version"):
        error(handler, 400, "invalid_request_error", "anthropic-version: header is required")
        return
    version = headers["anthropic-version"]
    if (found := problem(body) or anthropic_problem(body, version)) is not None:
        error(handler, 400, "invalid_request_error", found)
        return
    last = blocks(body["messages"][-1]["content"])
    results = [b["content"] for b in last if b.get("type") == "tool_result"]
    texts = "".join(b.get("text", "") for b in last if b.get("type") == "text")
    tools = offered_tools(body)
    json_asked = bool((body.get("output_config") or {}).get("format"))
    answer = reply("anthropic", texts, tools, results[0] if results else None, json_asked)
    if body.get("stream"):
        handler.send_stream("text/event-stream; charset=utf-8", stream(body, answer))
        return
    if answer.tool:
        content = [
            {"type": "tool_use", "id": "toolu_mock", "name": answer.tool, "input": TOOL_ARGUMENTS}
        ]
    else:
        content = [{"type": "text", "text": answer.text}]
    if (body.get("thinking") or {}).get("type") == "enabled":
        content.insert(0, {"type": "thinking", "thinking": THOUGHT, "signature": "sig-mock"})
    handler.send_json(
        200,
        {
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": "tool_use" if answer.tool else "end_turn",
            "stop_sequence": None,
            "usage": usage(body, COMPLETION_TOKENS),
        },
    )


def event(kind: str, data: dict) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def stream(body: dict, answer) -> list[bytes]:
    message = {
        "id": "msg_mock",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": body["model"],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage(body, 1),
    }
    events = [event("message_start", {"message": message})]
    index = 0
    if (body.get("thinking") or {}).get("type") == "enabled":
        block = {"type": "thinking", "thinking": "", "signature": ""}
        events.append(event("content_block_start", {"index": 0, "content_block": block}))
        for piece in (THOUGHT[:9], THOUGHT[9:]):
            delta = {"type": "thinking_delta", "thinking": piece}
            events.append(event("content_block_delta", {"index": 0, "delta": delta}))
        delta = {"type": "signature_delta", "signature": "sig-mock"}
        events.append(event("content_block_delta", {"index": 0, "delta": delta}))
        events.append(event("content_block_stop", {"index": 0}))
        index = 1
    if answer.tool:
        block = {"type": "tool_use", "id": "toolu_mock", "name": answer.tool, "input": {}}
        events.append(event("content_block_start", {"index": index, "content_block": block}))
        events.append(event("ping", {}))
        for piece in streamed_arguments():
            delta = {"type": "input_json_delta", "partial_json": piece}
            events.append(event("content_block_delta", {"index": index, "delta": delta}))
    else:
        block = {"type": "text", "text": ""}
        events.append(event("content_block_start", {"index": index, "content_block": block}))
        events.append(event("ping", {}))
        for piece in answer.pieces():
            delta = {"type": "text_delta", "text": piece}
            events.append(event("content_block_delta", {"index": index, "delta": delta}))
    events.append(event("content_block_stop", {"index": index}))
    stop = {"stop_reason": "tool_use" if answer.tool else "end_turn", "stop_sequence": None}
    events.append(
        event("message_delta", {"delta": stop, "usage": {"output_tokens": COMPLETION_TOKENS}})
    )
    events.append(event("message_stop", {}))
    return events
