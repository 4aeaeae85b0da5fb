"""The edge of the OpenAI-compatible front of a rule with provider targets: which endpoint a
request is, whether its body is a request of that endpoint, the model list it answers itself."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from plugins.sdk.context import RequestContext
from proxy.inbound import ProxyError
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
    return None


def valid_chat(body: Any) -> bool:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return False
    messages = body["messages"]
    return bool(messages) and all(
        isinstance(m, dict) and m.get("role") in MESSAGE_ROLES for m in messages
    )


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
    details)."""
    valid = valid_chat(body) if endpoint == CHAT else valid_embeddings(body)
    if not valid or ("model" in body and not isinstance(body["model"], str)):
        raise ProxyError(400, INVALID_BODY)
    if "stream" in body and not isinstance(body["stream"], bool):
        raise ProxyError(400, INVALID_BODY)
    return body


def refuse_unknown_model(route: LLMRoute, model: str) -> None:
    """A model no target of the rule serves: 400 naming the models that are."""
    if not route.serves(model):
        allowed = ", ".join(route.models)
        raise ProxyError(400, f"model {model!r} is not available; allowed models: {allowed}")


def models_response(route: LLMRoute) -> HttpResponse:
    """GET .../models: the models of the rule's targets, in OpenAI's list shape."""
    return HttpResponse(route.models_answer, content_type="application/json")
