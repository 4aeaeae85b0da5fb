"""Chat requests to an openai target whose `provider_options.api` is `responses` (TrustGate E2):
the chat request sent to OpenAI's Responses API, its answer and events mapped back to a chat
completion and its chunks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from plugins.sdk.sse import SSEEvent
from proxy.llm.adapters import ADAPTERS
from proxy.llm.base import Adapter
from proxy.llm.openai import OpenAIAdapter
from proxy.llm.streams import SSETranslator
from proxy.llm.wire import (
    CHAT,
    Call,
    InvalidRequest,
    ProviderRequest,
    Settle,
    TargetOptions,
    api_path,
    choice,
    completion,
    image_url_of,
    max_tokens_of,
    parts_of,
    text_of,
    tool_call,
    usage_of,
)

# Chat fields the Responses API has no counterpart for (400 naming them, rather than dropped).
REFUSED = (
    "n",
    "stop",
    "logprobs",
    "top_logprobs",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "seed",
    "audio",
    "modalities",
    "prediction",
)


class ResponsesAPIAdapter(OpenAIAdapter):
    """OpenAI's Responses API behind the chat front (errors are OpenAI's, passed unchanged)."""

    def translates_answer(self, call: Call) -> bool:
        return True

    def chat_request(self, call: Call) -> ProviderRequest:
        body = call.body
        for name in REFUSED:
            if body.get(name) is not None and not (name == "n" and body[name] == 1):
                raise InvalidRequest(f"{name}: not supported by the Responses API")
        out: dict[str, Any] = {"model": call.model, "input": input_of(body["messages"])}
        out["store"] = False  # the client asked for a chat completion: nothing kept
        if call.stream:
            out["stream"] = True
        if tools := [responses_tool(tool) for tool in body.get("tools") or ()]:
            out["tools"] = tools
        chosen = body.get("tool_choice")
        if isinstance(chosen, dict):
            out["tool_choice"] = {"type": "function", "name": chosen["function"]["name"]}
        elif chosen is not None:
            out["tool_choice"] = chosen
        if (text_format := format_of(body.get("response_format"))) is not None:
            out["text"] = {"format": text_format}
        if (limit := max_tokens_of(body)) is not None:
            out["max_output_tokens"] = limit
        if isinstance(body.get("reasoning_effort"), str):
            out["reasoning"] = {"effort": body["reasoning_effort"]}
        for name in ("temperature", "top_p", "parallel_tool_calls", "user", "metadata"):
            if body.get(name) is not None:
                out[name] = body[name]
        path = api_path(call.target, "/v1", "/responses")
        return ProviderRequest(path, json.dumps(out).encode())

    def chat_answer(self, data: Any, call: Call) -> dict[str, Any]:
        texts, calls = [], []
        for item in data.get("output") or ():
            if item.get("type") == "message":
                texts += [p.get("text", "") for p in item.get("content") or () if "text" in p]
            elif item.get("type") == "function_call":
                calls.append(
                    tool_call(
                        item.get("call_id", ""), item.get("name", ""), item.get("arguments") or "{}"
                    )
                )
        finish = finish_of(data, bool(calls))
        text = "".join(texts) if texts or not calls else None
        usage = data.get("usage") or {}
        prompt, output = usage.get("input_tokens"), usage.get("output_tokens")
        return completion(call, [choice(0, text, calls, finish)], usage_of(prompt, output))

    def chat_stream(self, call: Call, settle: Settle) -> ResponsesToChunks:
        return ResponsesToChunks(call, settle)


VIA_RESPONSES = ResponsesAPIAdapter()


def adapter_for(provider: str, options: TargetOptions | None, endpoint: str) -> Adapter:
    """The adapter of a request to a target: its provider's, but chat requests to an openai
    target set to `provider_options.api: responses` go to the Responses API."""
    responses = options is not None and options.api == "responses"
    if endpoint == CHAT and provider == "openai" and responses:
        return VIA_RESPONSES
    return ADAPTERS[provider]


def finish_of(data: Mapping[str, Any], called: bool) -> str:
    details = data.get("incomplete_details") or {}
    if data.get("status") == "incomplete" and details.get("reason") == "max_output_tokens":
        return "length"
    if data.get("status") == "incomplete":
        return "content_filter"
    return "tool_calls" if called else "stop"


def input_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages as Responses input items."""
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        if role == "tool":
            output = text_of(message.get("content"))
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.get("tool_call_id", ""),
                    "output": output,
                }
            )
        elif role == "assistant":
            if text := text_of(message.get("content")):
                items.append({"role": "assistant", "content": text})
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call.get("id", ""),
                        "name": function.get("name", ""),
                        "arguments": function.get("arguments") or "{}",
                    }
                )
        elif role in ("system", "developer", "user"):
            items.append({"role": role, "content": input_content(message.get("content"))})
    return items


def input_content(content: Any) -> list[dict[str, Any]]:
    parts = []
    for part in parts_of(content):
        if part.get("type") == "text":
            parts.append({"type": "input_text", "text": str(part.get("text", ""))})
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            detail = image.get("detail") if isinstance(image, dict) else None
            parts.append(
                {"type": "input_image", "image_url": image_url_of(part), "detail": detail or "auto"}
            )
        else:
            raise InvalidRequest(f"content parts of type {part.get('type')!r} are not supported")
    return parts


def responses_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    function = tool.get("function") or {}
    out = {
        "type": "function",
        "name": function.get("name", ""),
        "parameters": function.get("parameters") or {"type": "object", "properties": {}},
        "strict": bool(function.get("strict", False)),
    }
    if isinstance(function.get("description"), str):
        out["description"] = function["description"]
    return out


def format_of(response_format: Any) -> dict[str, Any] | None:
    if not isinstance(response_format, dict) or response_format.get("type") == "text":
        return None
    if response_format.get("type") == "json_object":
        return {"type": "json_object"}
    spec = response_format.get("json_schema") or {}
    out = {"type": "json_schema", "name": spec.get("name") or "response"}
    out["schema"] = spec.get("schema") or {}
    if isinstance(spec.get("strict"), bool):
        out["strict"] = spec["strict"]
    return out


class ResponsesToChunks(SSETranslator):
    """Responses events in, `chat.completion.chunk` events out: text deltas, function calls
    (their arguments streamed), the finish reason and usage from `response.completed`."""

    def __init__(self, call: Call, settle: Settle) -> None:
        super().__init__(call, settle)
        self.tools: dict[str, int] = {}  # function call item id -> tool call index

    def event(self, event: SSEEvent) -> bytes:
        data = event.json()
        if not isinstance(data, dict):
            return b""
        kind = data.get("type") or event.event
        if kind == "response.output_text.delta":
            return self.start() + self.out.text(str(data.get("delta", "")))
        if kind == "response.output_item.added":
            item = data.get("item") or {}
            if item.get("type") != "function_call":
                return self.start()
            self.tools[item.get("id", "")] = index = len(self.tools)
            return self.start() + self.out.tool_start(
                index, item.get("call_id", ""), item.get("name", ""), item.get("arguments") or ""
            )
        if kind == "response.function_call_arguments.delta":
            index = self.tools.get(data.get("item_id", ""))
            if index is None:
                return b""
            return self.out.tool_arguments(index, str(data.get("delta", "")))
        if kind in ("response.completed", "response.incomplete"):
            response = data.get("response") or {}
            usage = response.get("usage") or {}
            self.usage = usage_of(usage.get("input_tokens"), usage.get("output_tokens"))
            return self.end(finish_of(response, bool(self.tools))) + self.close()
        if kind in ("response.failed", "error"):
            error = (data.get("response") or {}).get("error") or data.get("error") or data
            return self.fail(str(error.get("message", "upstream error")))
        return b""
