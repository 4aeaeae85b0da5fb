"""OpenAI's chat completions (JSON and SSE chunks), embeddings; Azure OpenAI's deployments."""

from __future__ import annotations

import base64
import json
import struct
import time
from typing import Any

from tests.llm_mocks.replies import (
    API_KEY,
    CACHED,
    CACHED_TOKENS,
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    TOOL_ARGUMENTS,
    reply,
    streamed_arguments,
)
from tests.llm_mocks.schemas import openai_problem

VECTOR = [0.25, -0.5, 0.75]
USAGE = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": COMPLETION_TOKENS,
    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
}


def unauthorized(handler) -> None:
    error = {"message": "Incorrect API key provided", "type": "invalid_request_error"}
    handler.send_json(401, {"error": {**error, "param": None, "code": "invalid_api_key"}})


def text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if p.get("type") == "text")
    return content or ""


def chat(handler, groups: list[str], body: dict, provider: str = "openai") -> None:
    if handler.seen.headers.get("Authorization") != f"Bearer {API_KEY}":
        unauthorized(handler)
        return
    answer_chat(handler, body, provider)


def mistral_chat(handler, groups: list[str], body: dict) -> None:
    """Mistral: OpenAI's format, no `stream_options`; a stream's usage is in its last chunk."""
    if "stream_options" in body:
        detail = [{"type": "extra_forbidden", "loc": ["body", "stream_options"]}]
        handler.send_json(422, {"object": "error", "message": {"detail": detail}})
        return
    chat(handler, groups, body, "mistral")


def azure_chat(handler, groups: list[str], body: dict) -> None:
    if handler.seen.headers.get("api-key") != API_KEY or "api-version" not in handler.query:
        unauthorized(handler)
        return
    answer_chat(handler, body, f"azure:{groups[0]}")


def answer_chat(handler, body: dict, provider: str) -> None:
    if (found := openai_problem(body)) is not None:
        error = {"message": found, "type": "invalid_request_error", "param": None, "code": None}
        handler.send_json(400, {"error": error})
        return
    messages = body["messages"]
    last = messages[-1]
    users = [m for m in messages if m["role"] == "user"]
    tools = [t["function"]["name"] for t in body.get("tools") or []]
    result = text_of(last.get("content")) if last["role"] == "tool" else None
    json_asked = (body.get("response_format") or {}).get("type") in ("json_schema", "json_object")
    said = text_of(users[-1]["content"]) if users else ""
    answer = reply(provider, said, tools, result, json_asked)
    if body.get("stream"):
        handler.send_stream("text/event-stream", stream(body, answer, provider))
        return
    message: dict[str, Any] = {"role": "assistant", "content": answer.text or None}
    if answer.tool:
        function = {"name": answer.tool, "arguments": json.dumps(TOOL_ARGUMENTS)}
        message["tool_calls"] = [{"id": "call_mock", "type": "function", "function": function}]
    handler.send_json(
        200,
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": index,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if answer.tool else "stop",
                }
                for index in range(body.get("n") or 1)
            ],
            "usage": usage(body),
        },
    )


def usage(body: dict) -> dict:
    """Prompt tokens read from the cache (within the prompt's) when the text holds CACHED."""
    if CACHED not in json.dumps(body["messages"]):
        return USAGE
    prompt = PROMPT_TOKENS + CACHED_TOKENS
    details = {"prompt_tokens_details": {"cached_tokens": CACHED_TOKENS, "audio_tokens": 0}}
    return {**USAGE, "prompt_tokens": prompt, "total_tokens": prompt + COMPLETION_TOKENS, **details}


def stream(body: dict, answer, provider: str) -> list[bytes]:
    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": body["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    if answer.tool:
        function = {"name": answer.tool, "arguments": ""}
        start = {"index": 0, "id": "call_mock", "type": "function", "function": function}
        chunks.append(chunk({"tool_calls": [start]}))
        for piece in streamed_arguments():
            chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    else:
        chunks += [chunk({"content": piece}) for piece in answer.pieces()]
    chunks.append(chunk({}, "tool_calls" if answer.tool else "stop"))
    if provider == "mistral":
        chunks[-1]["usage"] = USAGE
    elif (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**chunk({}), "choices": [], "usage": usage(body)})
    return [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]


def embeddings(handler, groups: list[str], body: dict) -> None:
    if handler.seen.headers.get("Authorization") != f"Bearer {API_KEY}":
        unauthorized(handler)
        return
    answer_embeddings(handler, body)


def azure_embeddings(handler, groups: list[str], body: dict) -> None:
    if handler.seen.headers.get("api-key") != API_KEY:
        unauthorized(handler)
        return
    answer_embeddings(handler, body)


def answer_embeddings(handler, body: dict) -> None:
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    vector: Any = VECTOR
    if body.get("encoding_format") == "base64":
        vector = base64.b64encode(struct.pack(f"<{len(VECTOR)}f", *VECTOR)).decode()
    data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(len(inputs))]
    usage = {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS}
    handler.send_json(200, {"object": "list", "data": data, "model": body["model"], "usage": usage})
