"""A Responses request at the edge: its fields checked (400 naming the first one that cannot be
honoured), its conversation as items, and the same conversation as a chat completions body for
the providers that are reached through the chat adapters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.inbound import ProxyError

# What the front honours on every provider; OpenAI's own Responses API takes anything else.
FIELDS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "text",
        "reasoning",
        "max_output_tokens",
        "temperature",
        "top_p",
        "metadata",
        "store",
        "previous_response_id",
        "stream",
        "parallel_tool_calls",
        "user",
        "truncation",
        "include",
    }
)
ROLES = frozenset({"user", "assistant", "system", "developer"})
TEXT_PARTS = frozenset({"input_text", "output_text", "text"})
EFFORTS = frozenset({"minimal", "low", "medium", "high"})


def refuse(field: str, problem: str) -> ProxyError:
    return ProxyError(400, f"{field}: {problem}", param=field)


def checked_request(body: Any) -> dict[str, Any]:
    """The body, if it is a Responses request whose fields hold their shapes (else 400 naming
    the first field that does not)."""
    if not isinstance(body, dict):
        raise ProxyError(400, "invalid request body")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise refuse("model", "must be a non-empty string")
    value = body.get("input")
    if not isinstance(value, str | list) or not value:
        raise refuse("input", "must be a string or a non-empty list of items")
    for index, item in enumerate(value if isinstance(value, list) else ()):
        item_problem(item, f"input[{index}]")
    for name in ("stream", "store", "parallel_tool_calls"):
        if name in body and not isinstance(body[name], bool):
            raise refuse(name, "must be a boolean")
    for name in ("instructions", "previous_response_id", "user"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise refuse(name, "must be a string")
    limit = body.get("max_output_tokens")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise refuse("max_output_tokens", "must be an integer of at least 1")
    for name in ("temperature", "top_p"):
        number = body.get(name)
        if number is not None and (not isinstance(number, int | float) or number is True):
            raise refuse(name, "must be a number")
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        raise refuse("metadata", "must be an object")
    tools_problem(body.get("tools"))
    format_problem(body.get("text"))
    reasoning = body.get("reasoning")
    if reasoning is not None and (
        not isinstance(reasoning, dict) or reasoning.get("effort") not in EFFORTS | {None}
    ):
        raise refuse("reasoning.effort", "must be one of minimal, low, medium, high")
    choice = body.get("tool_choice")
    if choice is not None and not (
        choice in ("auto", "none", "required")
        or (isinstance(choice, dict) and choice.get("type") == "function" and choice.get("name"))
    ):
        raise refuse("tool_choice", "must be auto, none, required or a function by name")
    return body


def item_problem(item: Any, field: str) -> None:
    if isinstance(item, str):
        return
    if not isinstance(item, dict):
        raise refuse(field, "must be an item object")
    kind = item.get("type", "message")
    if kind == "message":
        if item.get("role") not in ROLES:
            raise refuse(f"{field}.role", "must be user, assistant, system or developer")
        content = item.get("content")
        if not isinstance(content, str | list):
            raise refuse(f"{field}.content", "must be a string or a list of parts")
        for index, part in enumerate(content if isinstance(content, list) else ()):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise refuse(f"{field}.content[{index}]", "must be a part with a type")
    elif kind == "function_call":
        for name in ("call_id", "name", "arguments"):
            if not isinstance(item.get(name), str):
                raise refuse(f"{field}.{name}", "must be a string")
    elif kind == "function_call_output":
        if not isinstance(item.get("call_id"), str):
            raise refuse(f"{field}.call_id", "must be a string")
        if not isinstance(item.get("output"), str | list):
            raise refuse(f"{field}.output", "must be a string or a list of parts")
    elif kind != "reasoning":
        raise refuse(f"{field}.type", f"items of type {kind!r} are not supported")


def tools_problem(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise refuse("tools", "must be a list of tools")
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise refuse(f"tools[{index}].type", "only function tools are supported")
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise refuse(f"tools[{index}].name", "must be a non-empty string")
        if tool.get("parameters") is not None and not isinstance(tool["parameters"], dict):
            raise refuse(f"tools[{index}].parameters", "must be a JSON Schema object")


def format_problem(text: Any) -> None:
    if text is None:
        return
    spec = text.get("format") if isinstance(text, dict) else None
    if spec is None and isinstance(text, dict):
        return
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise refuse("text.format", "must be of type text, json_object or json_schema")
    if kind == "json_schema" and not isinstance(spec.get("schema"), dict):
        raise refuse("text.format.schema", "must be a JSON Schema object")


def unsupported_on_chat(body: Mapping[str, Any]) -> str | None:
    """The first field a provider reached through the chat adapters cannot honour."""
    for name in body:
        if name not in FIELDS:
            return name
    if body.get("truncation") not in (None, "disabled"):
        return "truncation"
    if any(entry != "message.output_text.logprobs" for entry in body.get("include") or ()):
        return "include"
    return None


def input_items(body: Mapping[str, Any]) -> list[Any]:
    """The request's `input` as a list of items (a string is one user message)."""
    value = body["input"]
    return [{"role": "user", "content": value}] if isinstance(value, str) else list(value)


def chat_body(body: Mapping[str, Any], items: list[Any]) -> dict[str, Any]:
    """The conversation `items` (the history, then the request's input) with the request's
    settings as an OpenAI chat completions body, which every chat adapter translates."""
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        messages.append({"role": "system", "content": body["instructions"]})
    for index, item in enumerate(items):
        add_item(messages, item, f"input[{index}]")
    out: dict[str, Any] = {"model": body["model"], "messages": messages}
    if body.get("stream") is True:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    if tools := [chat_tool(tool) for tool in body.get("tools") or ()]:
        out["tools"] = tools
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    elif choice is not None:
        out["tool_choice"] = choice
    if (response_format := response_format_of(body.get("text"))) is not None:
        out["response_format"] = response_format
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is not None:
        out["reasoning_effort"] = effort
    if body.get("max_output_tokens") is not None:
        out["max_tokens"] = body["max_output_tokens"]
    for name in ("temperature", "top_p", "parallel_tool_calls", "user"):
        if body.get(name) is not None:
            out[name] = body[name]
    return out


def add_item(messages: list[dict[str, Any]], item: Any, field: str) -> None:
    if isinstance(item, str):
        messages.append({"role": "user", "content": item})
        return
    kind = item.get("type", "message")
    if kind == "message":
        content = chat_content(item["content"], field)
        messages.append({"role": item["role"], "content": content})
    elif kind == "function_call":
        call = {
            "id": item["call_id"],
            "type": "function",
            "function": {"name": item["name"], "arguments": item["arguments"]},
        }
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        output = item["output"]
        text = output if isinstance(output, str) else parts_text(output)
        messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": text})


def chat_content(content: Any, field: str) -> Any:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        kind = part["type"]
        if kind in TEXT_PARTS or kind == "refusal":
            parts.append({"type": "text", "text": str(part.get("text", part.get("refusal", "")))})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            image = {"url": part["image_url"]}
            if part.get("detail") in ("low", "high", "auto"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        elif kind == "input_file" and isinstance(part.get("file_data"), str):
            file = {"file_data": part["file_data"], "filename": part.get("filename") or "file"}
            parts.append({"type": "file", "file": file})
        else:
            where = f"{field}.content[{index}]"
            raise refuse(where, f"parts of type {kind!r} need a file the gateway cannot resolve")
    return parts


def parts_text(parts: list[Any]) -> str:
    return "".join(
        str(part.get("text", "")) for part in parts if isinstance(part, dict) and "text" in part
    )


def chat_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool["name"]}
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    function["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
    if isinstance(tool.get("strict"), bool):
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def response_format_of(text: Any) -> dict[str, Any] | None:
    spec = text.get("format") if isinstance(text, dict) else None
    if not isinstance(spec, dict) or spec.get("type") == "text":
        return None
    if spec["type"] == "json_object":
        return {"type": "json_object"}
    schema: dict[str, Any] = {"name": spec.get("name") or "response", "schema": spec["schema"]}
    if isinstance(spec.get("strict"), bool):
        schema["strict"] = spec["strict"]
    return {"type": "json_schema", "json_schema": schema}
