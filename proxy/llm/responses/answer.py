"""The Responses shapes of an answer: the `response` object, its output items and usage, made
from a chat completion (what every chat adapter answers with)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from proxy.llm.wire import new_id

ECHOED = ("instructions", "max_output_tokens", "previous_response_id", "user")


def response_object(
    request: Mapping[str, Any],
    response_id: str,
    model: str,
    output: list[dict[str, Any]],
    usage: Mapping[str, Any] | None,
    status: str = "completed",
) -> dict[str, Any]:
    """A `response` object echoing the request's settings, as OpenAI's API answers it."""
    text = request.get("text") if isinstance(request.get("text"), dict) else {}
    reasoning = request.get("reasoning") if isinstance(request.get("reasoning"), dict) else {}
    answer: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "reasoning": {"effort": reasoning.get("effort"), "summary": None},
        "store": request.get("store", True),
        "temperature": request.get("temperature", 1.0),
        "text": {"format": text.get("format") or {"type": "text"}},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools") or [],
        "top_p": request.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": response_usage(usage) if usage is not None else None,
        "metadata": request.get("metadata") or {},
    }
    for name in ECHOED:
        answer[name] = request.get(name)
    return answer


def response_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """Chat usage (prompt/completion tokens) as Responses usage (input/output tokens)."""
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": usage.get("total_tokens") or prompt + completion,
    }


def message_item(text: str, item_id: str | None = None, status: str = "completed") -> dict:
    part = {"type": "output_text", "text": text, "annotations": []}
    return {
        "id": item_id or new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [part] if status == "completed" else [],
    }


def function_call_item(
    call_id: str, name: str, arguments: str, item_id: str | None = None, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": item_id or new_id("fc_"),
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def output_of(completion: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """The output items of a chat completion's first choice, and its finish reason."""
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    output: list[dict[str, Any]] = []
    if isinstance(message.get("content"), str) and message["content"]:
        output.append(message_item(message["content"]))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        call_id = call.get("id") or new_id("call_")
        output.append(
            function_call_item(call_id, function.get("name", ""), function.get("arguments") or "{}")
        )
    return output, choice.get("finish_reason")


def finished(answer: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    """A response cut by the token limit is `incomplete`, as OpenAI reports it."""
    if finish_reason == "length":
        answer["status"] = "incomplete"
        answer["incomplete_details"] = {"reason": "max_output_tokens"}
    return answer
