"""What every provider adapter shares: the call it translates, the OpenAI shapes it answers
with (completions, embeddings, errors) and the content helpers."""

from __future__ import annotations

import base64
import json
import sys
import time
import uuid
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from proxy.balancer import Target

CHAT = "chat"
EMBEDDINGS = "embeddings"


class InvalidRequest(ValueError):
    """The client's request cannot be expressed for this provider (400, with this message;
    `param` names the field)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class TargetOptions:
    """The LLM settings of one provider target, compiled with the snapshot."""

    mode: str = "translate"
    deployments: Mapping[str, str] = field(default_factory=dict)
    api_version: str = ""
    api: str = ""  # openai's provider_options.api: "completions", "responses" ("" when unset)


@dataclass(frozen=True)
class Call:
    """One client request (OpenAI shape) as it goes to one target, with the model it gets there."""

    endpoint: str
    body: Mapping[str, Any]
    model: str
    target: Target
    options: TargetOptions
    raw: bytes = b""  # the client's body as sent, for providers that take it unchanged

    @property
    def stream(self) -> bool:
        return self.endpoint != EMBEDDINGS and self.body.get("stream") is True

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True


@dataclass
class ProviderRequest:
    """What an adapter sends: a path (under the target's base URL), query, JSON body, headers."""

    path: str
    body: Any
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def api_path(target: Target, default_prefix: str, endpoint: str) -> str:
    """The path after the target's base URL: `endpoint` right under a base URL with a path of
    its own (`https://host/openai/v1`), else under the provider's usual prefix (`/v1`)."""
    has_path = bool(target.base_url.split("://", 1)[-1].partition("/")[2])
    return endpoint if has_path else default_prefix + endpoint


def usage_of(prompt: Any, completion: Any, total: Any = None) -> dict[str, int]:
    prompt = prompt if isinstance(prompt, int) else 0
    completion = completion if isinstance(completion, int) else 0
    total = total if isinstance(total, int) else prompt + completion
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


# Takes the normalised usage a translated answer reports (the exchange settles tokens and cost).
Settle = Callable[[Mapping[str, Any] | None], None]


def completion_id(provider_id: Any = None) -> str:
    return provider_id if isinstance(provider_id, str) and provider_id else new_id("chatcmpl-")


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def completion(
    call: Call,
    choices: list[dict[str, Any]],
    usage: dict[str, int] | None,
    provider_id: Any = None,
) -> dict[str, Any]:
    """A `chat.completion` object."""
    return {
        "id": completion_id(provider_id),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model,
        "choices": choices,
        "usage": usage,
    }


def choice(
    index: int, text: str | None, tool_calls: list[dict[str, Any]], finish_reason: str
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"index": index, "message": message, "logprobs": None, "finish_reason": finish_reason}


def tool_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {})
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def embeddings_list(call: Call, vectors: list[list[float]], prompt_tokens: Any = 0) -> dict:
    """An embeddings `list`, each vector as floats or (the client's `encoding_format: base64`,
    the OpenAI SDK's default) as base64 of little-endian float32s."""
    as_base64 = call.body.get("encoding_format") == "base64"
    data = [
        {"object": "embedding", "index": index, "embedding": _encoded(vector, as_base64)}
        for index, vector in enumerate(vectors)
    ]
    usage = usage_of(prompt_tokens, 0)
    return {"object": "list", "data": data, "model": call.model, "usage": usage}


def _encoded(vector: list[float], as_base64: bool) -> list[float] | str:
    if not as_base64:
        return vector
    floats = array("f", vector)
    if sys.byteorder != "little":
        floats.byteswap()
    return base64.b64encode(floats.tobytes()).decode()


def openai_error(status: int, data: Any, fallback: str = "") -> dict[str, Any]:
    """A provider's error answer as OpenAI's `{"error": {message, type, code}}`."""
    error = data.get("error") if isinstance(data, dict) else None
    source = error if isinstance(error, dict) else (data if isinstance(data, dict) else {})
    message = source.get("message") or source.get("Message") or fallback or f"status {status}"
    kind = source.get("type") or source.get("status") or "upstream_error"
    return {"error": {"message": str(message), "type": str(kind), "param": None, "code": status}}


def text_of(content: Any) -> str:
    """The text of an OpenAI message `content` (a string, or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def parts_of(content: Any) -> list[dict[str, Any]]:
    """An OpenAI message `content` as a list of parts."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [part for part in content if isinstance(part, dict)]
    return []


def image_url_of(part: Mapping[str, Any]) -> str:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise InvalidRequest("an image_url part needs a url")
    return url


def data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:<type>;base64,<data>` URL; None for other URLs."""
    if not url.startswith("data:"):
        return None
    header, _, data = url[5:].partition(",")
    media_type, _, encoding = header.partition(";")
    if encoding != "base64" or not data:
        raise InvalidRequest("image data URLs must be base64-encoded")
    return media_type or "application/octet-stream", data


def arguments_of(function: Any) -> Any:
    """The parsed JSON arguments of an assistant message's tool call (its input elsewhere)."""
    arguments = function.get("arguments") if isinstance(function, dict) else None
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        return json.loads(arguments)
    except ValueError as exc:
        raise InvalidRequest("tool call arguments must be JSON") from exc


def conversation_required(messages: list[Any]) -> None:
    """Providers take no conversation made of system texts alone (OpenAI does)."""
    if not messages:
        raise InvalidRequest(
            "messages: a user or assistant message is required besides system ones"
        )


def max_tokens_of(body: Mapping[str, Any]) -> int | None:
    value = body.get("max_completion_tokens") or body.get("max_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def stop_of(body: Mapping[str, Any]) -> list[str]:
    stop = body.get("stop")
    if isinstance(stop, str):
        return [stop]
    return [item for item in stop if isinstance(item, str)] if isinstance(stop, list) else []


# Providers without a JSON mode get a `response_format` as this tool, forced: its input is the
# answer, given to the client as the message's content.
JSON_TOOL = "json_response"
JSON_TOOL_DESCRIPTION = "Answer with this tool: its input is the whole answer."


def json_schema_of(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The schema a `response_format` asks the answer to follow ({} for `json_object`), or
    None when it asks for plain text."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict):
        return None
    if response_format.get("type") == "json_object":
        return {}
    if response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return schema if isinstance(schema, dict) else {}
    return None
