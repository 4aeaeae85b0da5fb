"""The texts of an LLM request: OpenAI chat `messages`, Anthropic `messages`/`system`, Responses
`input`, and the tool calls they carry; and of an MCP `tools/call` (its arguments, its result's
content); detectors check these rather than the whole JSON body."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from gateway_project.json_strings import iter_strings, located_strings

TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})
PROMPT_KEYS = ("messages", "system", "prompt", "input")
COMPLETION_LIMITS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class MessageText:
    """One text of a request: the role that wrote it, and where it sits in the body (a path of
    keys and indexes, so a plugin can write a changed text back with `set_at`)."""

    role: str
    text: str
    path: tuple[str | int, ...]


def is_llm_request(body: Any) -> bool:
    """Whether a parsed body is a chat/messages/responses request, or an MCP tools/call."""
    if not isinstance(body, dict):
        return False
    if isinstance(body.get("messages"), list) or is_tool_call(body):
        return True
    return "model" in body and isinstance(body.get("input"), str | list)


def is_tool_call(body: Any) -> bool:
    """Whether a parsed body is an MCP (JSON-RPC 2.0) `tools/call` request."""
    return (
        isinstance(body, dict)
        and body.get("jsonrpc") == "2.0"
        and body.get("method") == "tools/call"
        and isinstance(body.get("params"), dict)
    )


def message_texts(body: Any, roles: Iterable[str] | None = None) -> list[MessageText]:
    """Texts of an LLM request body, of the given roles (all when None), in body order.

    A system prompt (Anthropic `system`, Responses `instructions`) has the role "system"."""
    if not is_llm_request(body):
        return []
    wanted = None if roles is None else frozenset(roles)
    return [item for item in _all_texts(body) if wanted is None or item.role in wanted]


def _all_texts(body: dict[str, Any]) -> Iterator[MessageText]:
    if is_tool_call(body):  # every string of its arguments, as the client's
        where = ("params", "arguments")
        for at, text in located_strings(body["params"].get("arguments"), where):
            yield MessageText("user", text, at)
        return
    for key in ("system", "instructions"):
        yield from _content_texts(body.get(key), "system", (key,))
    messages = body.get("messages")
    if isinstance(messages, list):
        yield from _messages(messages, ("messages",))
    value = body.get("input")
    if isinstance(value, str):
        yield MessageText("user", value, ("input",))
    elif isinstance(value, list):
        yield from _messages(value, ("input",))


def _messages(messages: list[Any], path: tuple[str | int, ...]) -> Iterator[MessageText]:
    for index, message in enumerate(messages):
        if isinstance(message, str):  # Responses: a bare string item
            yield MessageText("user", message, (*path, index))
        elif isinstance(message, dict):
            role = message.get("role") if isinstance(message.get("role"), str) else "user"
            yield from _content_texts(message.get("content"), role, (*path, index, "content"))


def _content_texts(content: Any, role: str, path: tuple[str | int, ...]) -> Iterator[MessageText]:
    """A content that is a string, or a list of parts (`{"type": "text", "text": ...}`)."""
    if isinstance(content, str):
        yield MessageText(role, content, path)
    elif isinstance(content, list):
        for index, part in enumerate(content):
            if isinstance(part, str):
                yield MessageText(role, part, (*path, index))
            elif (
                isinstance(part, dict)
                and part.get("type", "text") in TEXT_PART_TYPES
                and isinstance(part.get("text"), str)
            ):
                yield MessageText(role, part["text"], (*path, index, "text"))
            elif isinstance(part, dict) and part.get("type") == "tool_result":
                yield from _content_texts(part.get("content"), role, (*path, index, "content"))


def set_at(body: Any, path: tuple[str | int, ...], value: Any) -> None:
    """Write `value` at `path` (from a MessageText) in a parsed body."""
    holder = body
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value


def answer_texts(body: Any) -> list[MessageText]:
    """Texts of an LLM answer: OpenAI chat `choices[].message.content` (or completions'
    `choices[].text`), Anthropic `content[]` text blocks, Responses `output[].content[]`."""
    if not isinstance(body, dict):
        return []
    found: list[MessageText] = []
    for index, choice in enumerate(_list(body.get("choices"))):
        if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
            content = choice["message"].get("content")
            found += _content_texts(content, "assistant", ("choices", index, "message", "content"))
        elif isinstance(choice, dict) and isinstance(choice.get("text"), str):
            found.append(MessageText("assistant", choice["text"], ("choices", index, "text")))
    if body.get("type") == "message":
        found += _content_texts(body.get("content"), "assistant", ("content",))
    if body.get("jsonrpc") == "2.0" and isinstance(body.get("result"), dict):
        found += _tool_result_texts(body["result"])
    for index, item in enumerate(_list(body.get("output"))):
        if isinstance(item, dict) and item.get("type") == "message":
            found += _content_texts(item.get("content"), "assistant", ("output", index, "content"))
    return found


def _tool_result_texts(result: dict[str, Any]) -> list[MessageText]:
    """An MCP tool result's texts (role "tool"): its text content parts (embedded resources'
    text too) and every string of its `structuredContent` (the same answer, structured)."""
    found = []
    for index, part in enumerate(_list(result.get("content"))):
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            found.append(MessageText("tool", part["text"], ("result", "content", index, "text")))
        resource = part.get("resource")
        if isinstance(resource, dict) and isinstance(resource.get("text"), str):
            at = ("result", "content", index, "resource", "text")
            found.append(MessageText("tool", resource["text"], at))
    where = ("result", "structuredContent")
    found += [
        MessageText("tool", text, at)
        for at, text in located_strings(result.get("structuredContent"), where)
    ]
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def call_texts(body: Any, roles: Iterable[str] | None = None) -> list[MessageText]:
    """The texts of the tool calls an LLM request carries (the model reads them back), of the
    given roles (all when None): OpenAI chat `tool_calls[].function.arguments` and
    `function_call.arguments` (role of their message), Anthropic `tool_use` input strings,
    Responses `function_call` arguments (assistant) and `function_call_output` output (tool)."""
    if not is_llm_request(body):
        return []
    wanted = None if roles is None else frozenset(roles)
    return [item for item in _call_texts(body) if wanted is None or item.role in wanted]


def _call_texts(body: dict[str, Any]) -> Iterator[MessageText]:
    for key in ("messages", "input"):
        for index, item in enumerate(_list(body.get(key))):
            if isinstance(item, dict):
                yield from _item_calls(item, (key, index))


def _item_calls(item: dict[str, Any], path: tuple[str | int, ...]) -> Iterator[MessageText]:
    role = item.get("role") if isinstance(item.get("role"), str) else "assistant"
    for index, call in enumerate(_list(item.get("tool_calls"))):
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            arguments = (*path, "tool_calls", index, "function", "arguments")
            yield MessageText(role, function["arguments"], arguments)
    function_call = item.get("function_call")
    if isinstance(function_call, dict) and isinstance(function_call.get("arguments"), str):
        arguments = (*path, "function_call", "arguments")
        yield MessageText(role, function_call["arguments"], arguments)
    kind = item.get("type")
    if kind == "function_call" and isinstance(item.get("arguments"), str):
        yield MessageText("assistant", item["arguments"], (*path, "arguments"))
    elif kind == "function_call_output" and isinstance(item.get("output"), str):
        yield MessageText("tool", item["output"], (*path, "output"))
    for index, part in enumerate(_list(item.get("content"))):
        if isinstance(part, dict) and part.get("type") == "tool_use":
            where = (*path, "content", index, "input")
            for at, text in located_strings(part.get("input"), where):
                yield MessageText(role, text, at)


def prompt_length(body: dict[str, Any]) -> int:
    """Characters of prompt text: the request's messages, system prompt and input (the shared
    extractor's texts), and a completions `prompt` (a string or a list of them)."""
    texts = sum(len(item.text) for item in message_texts(body))
    return texts + sum(len(text) for text in iter_strings(body.get("prompt")))


def prompt_tokens_estimate(body: Any, raw_length: int) -> int:
    """The prompt at ~4 characters a token: its text when the JSON names it, else the whole
    body (`raw_length` bytes)."""
    if isinstance(body, dict) and any(key in body for key in PROMPT_KEYS):
        return math.ceil(prompt_length(body) / CHARS_PER_TOKEN)
    return math.ceil(raw_length / CHARS_PER_TOKEN)


def positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def completion_limit(body: Any) -> int | None:
    """The completion tokens a request allows itself (max_tokens, max_completion_tokens,
    Responses' max_output_tokens, Gemini's generationConfig.maxOutputTokens), else None."""
    if not isinstance(body, dict):
        return None
    for key in COMPLETION_LIMITS:
        if limit := positive_int(body.get(key)):
            return limit
    config = body.get("generationConfig")
    return positive_int(config.get("maxOutputTokens")) if isinstance(config, dict) else None
