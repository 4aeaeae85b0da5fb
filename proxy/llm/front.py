"""The edge of the OpenAI-compatible front of a rule with provider targets: which endpoint a
request is, whether its body is a request of that endpoint, the model list it answers itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse

from plugins.sdk.context import RequestContext
from proxy.inbound import ProxyError
from proxy.llm.responses.request import checked_request
from proxy.llm.responses.turn import RESPONSES, responses_endpoint
from proxy.llm.routes import LLMRoute
from proxy.llm.wire import CHAT, EMBEDDINGS

MODELS = "models"
ENDPOINTS = (("/chat/completions", "POST", CHAT), ("/embeddings", "POST", EMBEDDINGS))
INVALID_BODY = "invalid request body"
JSON_ONLY = "Content-Type must be application/json"
MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def endpoint_of(method: str, path: str) -> str | None:
    for suffix, wanted, endpoint in ENDPOINTS:
        if path.endswith(suffix) and method == wanted:
            return endpoint
    if path.endswith("/models") and method in ("GET", "HEAD"):
        return MODELS
    return responses_endpoint(method, path)


def valid_chat(body: Any) -> bool:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return False
    messages = body["messages"]
    return bool(messages) and all(
        isinstance(m, dict) and m.get("role") in MESSAGE_ROLES for m in messages
    )


def chat_problem(body: dict[str, Any]) -> tuple[str, str] | None:
    """The first field of a chat request whose shape no provider takes, and what is wrong with
    it (None when the shapes hold): tools, tool calls, contents and token limits the
    translators would otherwise turn into an invalid provider request or a crash."""
    for index, message in enumerate(body["messages"]):
        if found := message_problem(message, f"messages[{index}]"):
            return found
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        return "tools", "must be a list of tools"
    for index, tool in enumerate(tools or ()):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict):
            return f"tools[{index}].function", "must be an object"
        if not isinstance(function.get("name"), str) or not function["name"]:
            return f"tools[{index}].function.name", "must be a non-empty string"
        if function.get("parameters") is not None and not isinstance(function["parameters"], dict):
            return f"tools[{index}].function.parameters", "must be a JSON Schema object"
    choice = body.get("tool_choice")
    if choice is not None and not isinstance(choice, str | dict):
        return "tool_choice", "must be a string or an object"
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return name, "must be an integer"
        if value is not None and value < 1:
            return name, "must be at least 1"
    return None


def message_problem(message: dict[str, Any], field: str) -> tuple[str, str] | None:
    content = message.get("content")
    if content is None and message["role"] not in ("assistant", "function"):
        return f"{field}.content", "is required"
    if content is not None and not isinstance(content, str | list):
        return f"{field}.content", "must be a string or a list of parts"
    for index, part in enumerate(content if isinstance(content, list) else ()):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            return f"{field}.content[{index}]", "must be a part with a type"
    calls = message.get("tool_calls")
    if calls is not None and not isinstance(calls, list):
        return f"{field}.tool_calls", "must be a list of tool calls"
    for index, call in enumerate(calls or ()):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            return f"{field}.tool_calls[{index}].function", "must be an object"
        if not isinstance(function.get("name"), str) or not function["name"]:
            return f"{field}.tool_calls[{index}].function.name", "must be a non-empty string"
        if not isinstance(function.get("arguments", ""), str):
            return f"{field}.tool_calls[{index}].function.arguments", "must be a JSON string"
        if not isinstance(call.get("id", ""), str):
            return f"{field}.tool_calls[{index}].id", "must be a string"
    if not isinstance(message.get("tool_call_id", ""), str):
        return f"{field}.tool_call_id", "must be a string"
    return None


def valid_embeddings(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    value = body.get("input")
    return bool(value) and isinstance(value, str | list)


def require_json(context: RequestContext) -> None:
    """The body is JSON for the front and the plugins alike: one labelled otherwise is 415 (a
    plugin skips an image or a form the front would read as JSON); one without a Content-Type
    is taken as JSON, and labelled so for the plugins and the upstream."""
    if not context.body:
        return
    media = context.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if not media:
        context.headers["Content-Type"] = "application/json"
    elif media != "application/json" and not media.endswith("+json"):
        raise ProxyError(415, JSON_ONLY, code="unsupported_media_type")


def checked_body(endpoint: str, body: Any) -> dict[str, Any]:
    """The request's JSON `body`, if it is a request of `endpoint` (else 400, no parser
    details; a Responses request's names its field)."""
    if endpoint == RESPONSES:
        return checked_request(body)
    valid = valid_chat(body) if endpoint == CHAT else valid_embeddings(body)
    if not valid or ("model" in body and not isinstance(body["model"], str)):
        raise ProxyError(400, INVALID_BODY)
    if "stream" in body and not isinstance(body["stream"], bool):
        raise ProxyError(400, INVALID_BODY)
    if endpoint == CHAT and (found := chat_problem(body)):
        field, problem = found
        raise ProxyError(400, f"{field}: {problem}", param=field)
    return body


def refuse_unknown_model(route: LLMRoute, model: str) -> None:
    """A model no target of the rule serves: 400 naming the models that are."""
    if not route.serves(model):
        allowed = ", ".join(route.models)
        message = f"model {model!r} is not available; allowed models: {allowed}"
        raise ProxyError(400, message, param="model", code="model_not_found")


def models_response(route: LLMRoute, allowed: Callable[[str], None] | None = None) -> HttpResponse:
    """GET .../models: the models of the rule's targets, in OpenAI's list shape; only those
    `allowed` lets through (it raises for the others) when the key's models are limited."""
    if allowed is None:
        return HttpResponse(route.models_answer, content_type="application/json")
    listing = json.loads(route.models_answer)
    listing["data"] = [entry for entry in listing["data"] if permitted(allowed, entry["id"])]
    return HttpResponse(json.dumps(listing), content_type="application/json")


def permitted(allowed: Callable[[str], None], model: str) -> bool:
    try:
        allowed(model)
    except ProxyError:
        return False
    return True
