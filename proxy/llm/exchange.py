"""One LLM call of a proxied request, from the front's validation to its settled usage and cost:
the only writer of which provider and model answer, of the tokens used and of their cost."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse

from plugins.sdk.context import LLMCall, RequestContext, ResponseContext
from plugins.sdk.llm_content import prompt_tokens_estimate
from proxy.balancer import Target
from proxy.inbound import ProxyError
from proxy.llm.answers import openai_answer
from proxy.llm.base import Adapter
from proxy.llm.front import (
    INVALID_BODY,
    MODELS,
    checked_body,
    endpoint_of,
    models_response,
    refuse_unknown_model,
    require_json,
)
from proxy.llm.parts import refuse_parts
from proxy.llm.passthrough import metered_stream
from proxy.llm.responses.turn import RESPONSES, STORED, ResponsesTurn, stored_answer
from proxy.llm.responses.via_responses import adapter_for
from proxy.llm.routes import PASSTHROUGH, LLMRoute
from proxy.llm.streams import StreamTranslator
from proxy.llm.usage import (
    FINISH_REASONS,
    StreamMeter,
    finish_reasons,
    merge_usage,
    parse_json,
    settle_usage,
)
from proxy.llm.wire import CHAT, Call, InvalidRequest
from proxy.matching import RouteMatch
from proxy.outgoing import OutgoingRequest, Translated, build_outgoing
from proxy.upstream import UpstreamResult


def open_exchange(route: LLMRoute | None, context: RequestContext) -> LLMExchange | None:
    """The LLM exchange of a rule with provider targets (None for other rules), its request
    validated at the edge: an endpoint the front does not serve is 404, a body not labelled JSON
    415, one that is not a request of its endpoint 400, a model no target serves 400 naming the
    models that are. The request's `llm` (what plugins read) is the exchange's call from here
    on."""
    if route is None:
        return None
    endpoint = endpoint_of(context.method, context.path) if route.translates else PASSTHROUGH
    if endpoint is None:
        raise ProxyError(404, "not an endpoint of this OpenAI-compatible API")
    if endpoint not in (MODELS, STORED):
        require_json(context)
    body = context.json_body()
    model, checked = None, None
    if endpoint == PASSTHROUGH:
        if context.body and body is None:  # the provider's APIs all take JSON
            raise ProxyError(400, INVALID_BODY)
        model = body.get("model") if isinstance(body, dict) else None
        model = model if isinstance(model, str) else None
    elif endpoint not in (MODELS, STORED):
        model = checked_body(endpoint, body).get("model")
        if model is not None:
            refuse_unknown_model(route, model)
        checked = context.body
    exchange = LLMExchange(route, endpoint, model, checked)
    if endpoint == RESPONSES:
        exchange.turn = ResponsesTurn(context, body)  # the conversation it continues
    context.llm = exchange.call
    return exchange


class LLMExchange:
    """A request on a rule with provider targets: the endpoint and model asked for, the target
    each attempt goes to (translated for its provider, or passed through), and the call plugins
    read (`call`: provider, model, tokens, cost), settled from the answer that came back."""

    def __init__(
        self, route: LLMRoute, endpoint: str, model: str | None, checked: bytes | None = None
    ) -> None:
        self.route = route
        self.endpoint = endpoint
        self.model = model
        self.call = LLMCall(route.provider_of(model), model or "")
        self.target: Target | None = None  # the target of the latest attempt
        self.translation: tuple[Adapter, Call] | None = None  # when its answer is translated
        self.turn: ResponsesTurn | None = None  # a Responses request
        self.allowed: Callable[[str], None] | None = None  # refuses a model outside the key's
        self.checked = checked  # the body open_exchange checked (until a plugin replaces it)

    def own_answer(self, context: RequestContext) -> HttpResponse | None:
        """The answer of an endpoint the gateway serves itself (the model list, stored
        responses); None for the others."""
        if self.endpoint == MODELS:
            return models_response(self.route, self.allowed)
        return stored_answer(context) if self.endpoint == STORED else None

    def model_for(self, target: Target) -> str:
        """The requested model where the target serves it, else the target's default."""
        return self.model if self.model in target.models else target.default_model

    def balancer(self, balancer: Any) -> Any:
        """The rule's balancer, with the targets serving the requested model tried first."""
        if not self.model or all(self.model in t.models for t in balancer.targets):
            return balancer
        return ModelFirst(balancer, self.model)

    def attempt(self, target: Target, context: RequestContext) -> None:
        """An attempt goes to `target` (and, once it answered, the answer came from it): the
        call names its provider and the model it is asked for."""
        self.target, self.translation = target, None
        if target.provider:
            self.call.provider, self.call.model = target.provider, self.model_for(target)
            context.llm = self.call
        else:  # a plain target beside the providers: no LLM call to meter
            context.llm = None

    def build(
        self, match: RouteMatch, context: RequestContext, target: Target, client: HttpRequest
    ) -> OutgoingRequest:
        """The request for `target` (again for each target tried): translated for the provider,
        or, on passthrough targets, the client's own with the provider's credentials."""
        self.attempt(target, context)
        options = self.route.options.get(target.key)
        if options is None or options.mode == PASSTHROUGH or self.endpoint == PASSTHROUGH:
            outgoing = build_outgoing(match, context, target, client)
            if options is not None:  # a stream of OpenAI's format is metered as translated
                self.translation = metered_stream(
                    target, options, self.call.model, context, outgoing
                )
            return outgoing
        if self.allowed is not None:
            self.allowed(self.call.model)  # the model sent, a fallback target's default too
        adapter = adapter_for(target.provider, options, self.endpoint)
        body = context.json_body()
        if context.body is not self.checked:  # a plugin rewrote it: checked again
            body = checked_body(self.endpoint, body)
        if self.endpoint == CHAT:
            refuse_parts(adapter, body)
        call = Call(self.endpoint, body, self.call.model, target, options, raw=context.body)
        try:
            if self.turn is not None:
                provider_request, call = self.turn.request(adapter, call)
            elif self.endpoint == CHAT:
                provider_request = adapter.chat_request(call)
            else:
                provider_request = adapter.embeddings_request(call)
        except InvalidRequest as exc:
            raise ProxyError(400, str(exc), param=exc.param) from exc
        payload = provider_request.body
        payload = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        translated = Translated(
            provider_request.path,
            urlencode(provider_request.query),
            payload,
            adapter.stream_content_type if call.stream else "application/json",
            provider_request.headers,
            adapter.sign,
        )
        if self.turn is not None or adapter.translates_answer(call):
            self.translation = (adapter, call)
        return build_outgoing(match, context, target, client, translated)

    def answer(
        self, result: UpstreamResult, response_context: ResponseContext
    ) -> StreamTranslator | None:
        """The answer before any plugin sees it: labelled with who answered, and, translated,
        in OpenAI's shapes: the translator of a stream, or the JSON answer translated whole into
        `response_context.body` (None)."""
        self.label(response_context.headers)  # over any upstream header of the name
        if self.translation is None:
            return None
        adapter, call = self.translation
        if self.turn is not None:
            return self.turn.answer(adapter, call, result, response_context, self.settle)
        return openai_answer(adapter, call, result, response_context, self.settle)

    def settle(self, usage: Mapping[str, Any] | None) -> None:
        """Usage the answer reported: the call's tokens, and its cost at the target's prices."""
        if self.target is not None and self.target.provider:
            settle_usage(self.call, usage, self.target.pricing)

    def meter_body(self, body: bytes | None) -> None:
        """Usage and cost of a whole answer the provider sent in its own shape (passthrough, or
        OpenAI's already), before plugins may rewrite it; translated answers settle their own."""
        if body and self.translation is None:
            usage: dict[str, Any] = {}
            answer = parse_json(body)
            merge_usage(usage, answer)
            if reasons := finish_reasons(answer):
                usage[FINISH_REASONS] = reasons
            self.settle(usage)

    def stream_meter(self, context: RequestContext) -> StreamMeter | None:
        """The meter of a streamed answer from a provider target (None from a plain target)."""
        if self.target is None or not self.target.provider:
            return None

        def prompt_tokens() -> int:  # reported already (a translated stream's start), or guessed
            if self.call.prompt_tokens is not None:
                return self.call.prompt_tokens
            return prompt_tokens_estimate(context.json_body(), len(context.body))

        return StreamMeter(self.settle, prompt_tokens)

    def label(self, headers: MutableMapping[str, str]) -> None:
        """`X-Gateway-Provider` (and TrustGate's `X-Selected-Provider`) and `X-Gateway-Model`:
        which provider and model answered."""
        if self.target is not None and self.target.provider:
            headers["X-Gateway-Provider"] = self.call.provider
            headers["X-Selected-Provider"] = self.call.provider
            headers["X-Gateway-Model"] = self.call.model


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
