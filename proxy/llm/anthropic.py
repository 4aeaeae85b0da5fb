"""Anthropic's Messages API (`/v1/messages`): requests, answers and streamed events."""

from __future__ import annotations

import json
from typing import Any

from gateways.providers import PROVIDERS
from plugins.sdk.sse import SSEEvent
from proxy.llm.base import Adapter
from proxy.llm.caps import (
    apart_cache_counts,
    cache_control_of,
    claude_budget,
    part_marks,
    single_answer,
    thinking_limits,
    with_details,
    with_reasoning,
)
from proxy.llm.parts import FILE, PDF, pdf_of
from proxy.llm.streams import SSETranslator
from proxy.llm.wire import (
    JSON_TOOL,
    JSON_TOOL_DESCRIPTION,
    Call,
    InvalidRequest,
    ProviderRequest,
    Settle,
    api_path,
    arguments_of,
    choice,
    completion,
    conversation_required,
    data_url,
    image_url_of,
    json_schema_of,
    max_tokens_of,
    parts_of,
    stop_of,
    text_of,
    tool_call,
    usage_of,
)

DEFAULT_MAX_TOKENS = 4096
FINISH_REASONS = PROVIDERS["anthropic"].finish_reasons
CACHE_FIELDS = PROVIDERS["anthropic"].cache_fields


def merged(messages: list[dict[str, Any]], role: str, content: list[dict[str, Any]]) -> None:
    """Append a message, joining it to the previous one of the same role (tool results follow
    the assistant's turn in one user message)."""
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(content)
    else:
        messages.append({"role": role, "content": content})


def user_blocks(content: Any) -> list[dict[str, Any]]:
    blocks = []
    for part in parts_of(content):
        if part.get("type") == "text":
            blocks.append({"type": "text", "text": str(part.get("text", ""))})
        elif part.get("type") == "image_url":
            blocks.append({"type": "image", "source": image_source(image_url_of(part))})
        elif part.get("type") == FILE:
            blocks.append(document_block(part))
        else:
            raise InvalidRequest(f"content parts of type {part.get('type')!r} are not supported")
    return blocks


def image_source(url: str) -> dict[str, str]:
    inline = data_url(url)
    if inline is None:
        return {"type": "url", "url": url}
    return {"type": "base64", "media_type": inline[0], "data": inline[1]}


def document_block(part: dict[str, Any]) -> dict[str, Any]:
    """A `file` part's PDF as a document block (its file name as the title)."""
    data, name = pdf_of(part)
    block: dict[str, Any] = {"type": "document", "source": {"type": "base64"}}
    block["source"] |= {"media_type": PDF, "data": data}
    if name:
        block["title"] = name
    return block


def assistant_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    text = text_of(message.get("content"))
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id", ""),
                "name": function.get("name", ""),
                "input": arguments_of(function),
            }
        )
    return blocks


def messages_of(body: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The system texts (hoisted) and the conversation as Anthropic messages."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for message in body["messages"]:
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(text_of(message.get("content")))
        elif role == "user":
            merged(messages, "user", marked(user_blocks(message.get("content")), message))
        elif role == "assistant" and (blocks := assistant_blocks(message)):  # none: left out
            merged(messages, "assistant", marked(blocks, message))
        elif role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id", ""),
                "content": text_of(message.get("content")),
            }
            merged(messages, "user", marked([result], message))
    conversation_required(messages)
    return system, messages


def marked(blocks: list[dict[str, Any]], message: dict[str, Any]) -> list[dict[str, Any]]:
    """The blocks of `message` with the prompt-cache marks (`cache_control`) of its parts (one
    block each), or its own mark on its last block."""
    content = message.get("content")
    if "cache_control" not in message and not (
        isinstance(content, list) and any("cache_control" in part for part in content)
    ):
        return blocks
    marks = part_marks(message, "messages")
    if len(marks) != len(blocks):  # an assistant's tool calls, a tool result: the last mark
        marks = [None] * (len(blocks) - 1) + marks[-1:]
    for block, mark in zip(blocks, marks, strict=False):
        if mark is not None:
            block["cache_control"] = mark
    return blocks


def system_blocks(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The system texts as text blocks when one of them is marked for the prompt cache (None
    otherwise: they go as one string)."""
    blocks, any_mark = [], False
    for message in body["messages"]:
        if message.get("role") in ("system", "developer"):
            for part, mark in zip(
                parts_of(message.get("content")), part_marks(message, "messages"), strict=True
            ):
                if part.get("type") == "text" and part.get("text"):
                    blocks.append({"type": "text", "text": str(part["text"])})
                    if mark is not None:
                        blocks[-1]["cache_control"], any_mark = mark, True
    return blocks if any_mark else None


def tool_marks(tools: list[dict[str, Any]], body: dict[str, Any]) -> None:
    """The prompt-cache mark of each tool (on the tool, or on its function)."""
    for index, (tool, asked) in enumerate(zip(tools, body.get("tools") or [], strict=False)):
        field = f"tools[{index}]"
        mark = cache_control_of(asked, field) or cache_control_of(asked.get("function"), field)
        if mark is not None:
            tool["cache_control"] = mark


def tools_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = []
    for tool in body.get("tools") or []:
        function = tool.get("function") or {}
        tools.append(
            {
                "name": function.get("name", ""),
                "description": function.get("description", ""),
                "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
            }
        )
    return tools


def tool_choice_of(body: dict[str, Any]) -> dict[str, Any] | None:
    chosen = body.get("tool_choice")
    if chosen == "none":
        return {"type": "none"}
    if chosen == "required":
        return {"type": "any"}
    if isinstance(chosen, dict) and isinstance(chosen.get("function"), dict):
        return {"type": "tool", "name": chosen["function"].get("name", "")}
    return {"type": "auto"} if chosen == "auto" else None


def json_tool(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": JSON_TOOL,
        "description": JSON_TOOL_DESCRIPTION,
        "input_schema": schema or {"type": "object"},
    }


class AnthropicAdapter(Adapter):
    name = "anthropic"
    content_parts = frozenset({"text", "image_url", FILE})

    def chat_request(self, call: Call) -> ProviderRequest:
        body = dict(call.body)
        single_answer(body, self.name)
        system, messages = messages_of(body)
        out: dict[str, Any] = {
            "model": call.model,
            "messages": messages,
            "max_tokens": max_tokens_of(body) or DEFAULT_MAX_TOKENS,
        }
        if system:
            out["system"] = system_blocks(body) or "\n\n".join(system)
        if budget := claude_budget(body):
            budget, out["max_tokens"] = thinking_limits(
                budget, max_tokens_of(body), DEFAULT_MAX_TOKENS
            )
            out["thinking"] = {"type": "enabled", "budget_tokens": budget}
        for name in ("temperature", "top_p"):
            if isinstance(body.get(name), int | float):
                out[name] = body[name]
        if stop := stop_of(body):
            out["stop_sequences"] = stop
        if call.stream:
            out["stream"] = True
        if tools := tools_of(body):
            tool_marks(tools, body)
            out["tools"] = tools
        if (tool_choice := tool_choice_of(body)) is not None:
            out["tool_choice"] = tool_choice
        if body.get("parallel_tool_calls") is False and tools:
            out["tool_choice"] = {
                **out.get("tool_choice", {"type": "auto"}),
                "disable_parallel_tool_use": True,
            }
        if (schema := json_schema_of(body)) is not None:
            out["tools"] = [*out.get("tools", []), json_tool(schema)]
            if not tools and "thinking" not in out:  # else beside them, the user tools callable
                out["tool_choice"] = {"type": "tool", "name": JSON_TOOL}
        if isinstance(body.get("user"), str):
            out["metadata"] = {"user_id": body["user"]}
        return ProviderRequest(api_path(call.target, "/v1", "/messages"), out)

    def chat_answer(self, data: Any, call: Call) -> dict[str, Any]:
        texts, tool_calls, thoughts = [], [], []
        for block in data.get("content") or []:
            if block.get("type") == "thinking":
                thoughts.append(block.get("thinking", ""))
            elif block.get("type") == "text":
                texts.append(block.get("text", ""))
            elif block.get("type") == "tool_use" and block.get("name") == JSON_TOOL:
                texts.append(json.dumps(block.get("input")))
            elif block.get("type") == "tool_use":
                tool_calls.append(
                    tool_call(block.get("id", ""), block.get("name", ""), block.get("input"))
                )
        finish = FINISH_REASONS.get(data.get("stop_reason"), "stop")
        if finish == "tool_calls" and not tool_calls:
            finish = "stop"  # the forced JSON tool answered
        usage = data.get("usage") or {}
        answer = completion(
            call,
            [choice(0, "".join(texts) if texts or not tool_calls else None, tool_calls, finish)],
            usage_of(input_tokens(usage), usage.get("output_tokens")),
            data.get("id"),
        )
        with_details(answer["usage"], **cache_counts(usage))
        with_reasoning(answer, 0, "".join(thoughts))
        return answer

    def chat_stream(self, call: Call, settle: Settle) -> AnthropicStream:
        return AnthropicStream(call, settle)


def input_tokens(usage: dict[str, Any]) -> int:
    """Prompt tokens, cached ones included (Anthropic counts them apart)."""
    keys = ("input_tokens", *CACHE_FIELDS)
    return sum(value for key in keys if isinstance(value := usage.get(key), int))


def cache_counts(usage: dict[str, Any]) -> dict[str, int]:
    """Tokens read from (`cached`) and written to (`cache_write`) the prompt cache."""
    counts = apart_cache_counts(usage, CACHE_FIELDS)
    return {
        "cached": counts.get("cached_tokens", 0),
        "cache_write": counts.get("cache_write_tokens", 0),
    }


class AnthropicStream(SSETranslator):
    """message_start, content_block_start/delta/stop, message_delta (stop reason, usage),
    message_stop; pings ignored; an error event ends the stream with an OpenAI error event."""

    def __init__(self, call: Call, settle: Settle) -> None:
        super().__init__(call, settle)
        self.tools: dict[int, int] = {}  # content block index -> tool call index
        self.json_blocks: set[int] = set()
        self.prompt_tokens = 0
        self.cache: dict[str, int] = {}

    def event(self, event: SSEEvent) -> bytes:
        data = event.json()
        if not isinstance(data, dict):
            return b""
        kind = data.get("type")
        if kind == "content_block_delta":
            return self.delta(data.get("index"), data.get("delta") or {})
        if kind == "content_block_start":
            return self.block_start(data.get("index"), data.get("content_block") or {})
        if kind == "message_start":
            usage = (data.get("message") or {}).get("usage") or {}
            self.prompt_tokens = input_tokens(usage)
            self.cache = cache_counts(usage)
            self.usage = usage_of(self.prompt_tokens, usage.get("output_tokens"))  # if cut off
            with_details(self.usage, **self.cache)
            return self.start()
        if kind == "message_delta":
            usage = data.get("usage") or {}
            self.usage = usage_of(
                self.prompt_tokens or input_tokens(usage), usage.get("output_tokens")
            )
            with_details(self.usage, **(self.cache or cache_counts(usage)))
            reason = FINISH_REASONS.get((data.get("delta") or {}).get("stop_reason"), "stop")
            return self.end("stop" if reason == "tool_calls" and not self.tools else reason)
        if kind == "message_stop":
            return self.close()
        if kind == "error":
            error = data.get("error") or {}
            return self.fail(
                str(error.get("message", "upstream error")), str(error.get("type", ""))
            )
        return b""

    def block_start(self, index: Any, block: dict[str, Any]) -> bytes:
        out = self.start()
        if block.get("type") == "tool_use" and block.get("name") == JSON_TOOL:
            self.json_blocks.add(index)
        elif block.get("type") == "tool_use":
            self.tools[index] = len(self.tools)
            out += self.out.tool_start(
                self.tools[index], block.get("id", ""), block.get("name", "")
            )
        elif block.get("type") == "text":
            out += self.out.text(block.get("text", ""))
        return out

    def delta(self, index: Any, delta: dict[str, Any]) -> bytes:
        if delta.get("type") == "text_delta":
            return self.out.text(delta.get("text", ""))
        if delta.get("type") == "thinking_delta":
            return self.out.reasoning(delta.get("thinking", ""))
        if delta.get("type") == "input_json_delta":
            partial = delta.get("partial_json", "")
            if index in self.json_blocks:
                return self.out.text(partial)
            if index in self.tools:
                return self.out.tool_arguments(self.tools[index], partial)
        return b""
