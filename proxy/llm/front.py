"""The OpenAI-compatible front of a rule with provider targets: which endpoint a request is,
its validation, the model's targets first, and the request built for each target tried."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse

from plugins.base import LLMCall, RequestContext
from proxy.balancer import Target
from proxy.inbound import ProxyError
from proxy.llm.adapters import ADAPTERS
from proxy.llm.base import Adapter
from proxy.llm.routes import PASSTHROUGH, LLMRoute
from proxy.llm.wire import CHAT, EMBEDDINGS, Call, InvalidRequest
from proxy.matching import RouteMatch
from proxy.outgoing import (
    OutgoingRequest,
    build_outgoing,
    inject_credentials,
    outgoing_headers,
    route_timeouts,
    upstream_url,
)

MODELS = "models"
ENDPOINTS = (("/chat/completions", "POST", CHAT), ("/embeddings", "POST", EMBEDDINGS))
INVALID_BODY = "invalid request body"
JSON_ONLY = "Content-Type must be application/json"
MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# The client's negotiation headers are for the front, not for the provider.
FRONT_HEADERS = ("Content-Length", "Content-Type", "Accept", "Accept-Encoding", "Authorization")


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


def checked_body(endpoint: str, context: RequestContext) -> dict[str, Any]:
    """The request's JSON body, if it is a request of `endpoint` (else 400, no parser details)."""
    body = context.json_body()
    valid = valid_chat(body) if endpoint == CHAT else valid_embeddings(body)
    if not valid or ("model" in body and not isinstance(body["model"], str)):
        raise ProxyError(400, INVALID_BODY)
    if "stream" in body and not isinstance(body["stream"], bool):
        raise ProxyError(400, INVALID_BODY)
    return body


@dataclass
class Exchange:
    """What one attempt sent, for translating its answer back."""

    adapter: Adapter
    call: Call


class LLMRequest:
    """A request on a rule with provider targets, from the front's validation to the attempt
    that answered (`exchange`, None when the answer needs no translation)."""

    def __init__(self, route: LLMRoute, endpoint: str, model: str | None) -> None:
        self.route = route
        self.endpoint = endpoint
        self.model = model
        self.exchange: Exchange | None = None

    def model_for(self, target: Target) -> str:
        """The requested model where the target serves it, else the target's default."""
        return self.model if self.model in target.models else target.default_model

    def balancer(self, balancer: Any) -> Any:
        """The rule's balancer, with the targets serving the requested model tried first."""
        if not self.model or all(self.model in t.models for t in balancer.targets):
            return balancer
        return ModelFirst(balancer, self.model)

    def build(
        self, match: RouteMatch, context: RequestContext, target: Target, client: HttpRequest
    ) -> OutgoingRequest:
        """The request for `target` (again for each target tried): translated for the provider,
        or, on passthrough targets, the client's own with the provider's credentials."""
        model = self.model_for(target) if target.provider else ""
        context.llm = LLMCall(target.provider, model) if target.provider else None
        self.exchange = None
        options = self.route.options.get(target.key)
        if options is None or options.mode == PASSTHROUGH or self.endpoint == PASSTHROUGH:
            return build_outgoing(match, context, target, client)
        adapter = ADAPTERS[target.provider]
        body = checked_body(self.endpoint, context)  # plugins may have rewritten it
        call = Call(self.endpoint, body, model, target, options, raw=context.body)
        try:
            provider_request = (
                adapter.chat_request(call)
                if self.endpoint == CHAT
                else adapter.embeddings_request(call)
            )
        except InvalidRequest as exc:
            raise ProxyError(400, str(exc)) from exc
        headers = outgoing_headers(match, context, target, client)
        for name in FRONT_HEADERS:
            headers.pop(name, None)
        headers["Content-Type"] = "application/json"
        headers["Accept"] = adapter.stream_content_type if call.stream else "application/json"
        headers["Accept-Encoding"] = "identity"  # streams are translated as they are read
        headers.update(provider_request.headers)
        payload = provider_request.body
        payload = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        payload = inject_credentials(target, headers, payload)
        url = upstream_url(target, provider_request.path, urlencode(provider_request.query))
        adapter.sign(target, url, headers, payload)
        if adapter.translates_answer(call):
            self.exchange = Exchange(adapter, call)
        return OutgoingRequest("POST", url, headers, payload, route_timeouts(match.route))


class ModelFirst:
    """A balancer whose attempts try the targets serving `model` before the others (which then
    answer with their own default model: a fallback across providers). Everything else is the
    wrapped balancer's."""

    def __init__(self, balancer: Any, model: str) -> None:
        self.balancer = balancer
        self.model = model

    def attempts(self, retry_attempts: int) -> list[Target]:
        return self.balancer.attempts(retry_attempts, self.model)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.balancer, name)


def front_request(route: LLMRoute | None, context: RequestContext) -> LLMRequest | None:
    """The LLM request of a rule with provider targets (None for other rules), validated at the
    edge: an endpoint the front does not serve is 404, a body that is not a request of its
    endpoint 400, a model no target serves 400 naming the models that are; a body not labelled
    JSON 415."""
    if route is None:
        return None
    if not route.translates:
        require_json(context)
        body = context.json_body()
        if context.body and body is None:  # the provider's APIs all take JSON
            raise ProxyError(400, INVALID_BODY)
        model = body.get("model") if isinstance(body, dict) else None
        request = LLMRequest(route, PASSTHROUGH, model if isinstance(model, str) else None)
    else:
        endpoint = endpoint_of(context.method, context.path)
        if endpoint is None:
            raise ProxyError(404, "not an endpoint of this OpenAI-compatible API")
        if endpoint == MODELS:
            return LLMRequest(route, MODELS, None)
        require_json(context)
        model = checked_body(endpoint, context).get("model")
        if model is not None and not route.serves(model):
            allowed = ", ".join(route.models)
            raise ProxyError(400, f"model {model!r} is not available; allowed models: {allowed}")
        request = LLMRequest(route, endpoint, model)
    context.llm = LLMCall(route.provider_of(request.model), request.model or "")
    return request


def models_response(route: LLMRoute) -> HttpResponse:
    """GET .../models: the models of the rule's targets, in OpenAI's list shape."""
    return HttpResponse(route.models_answer, content_type="application/json")
