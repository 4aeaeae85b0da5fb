"""What an LLM request may do once routed: the models its key, rule and gateway allow, and the
dollar budgets of the key and the gateway, whose largest possible cost is reserved at admission
and settled when the request ends. (The key's rules, its `policies`, are checked where it is
authenticated: proxy.inbound.)"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import re2
from redis import RedisError

from gateways.governance import ModelPatterns
from keys.budgets import (
    NANOS,
    Budget,
    Reservation,
    budgets_reserve,
    spend_field,
    spend_settle,
)
from keys.selectors import VerifiedKey
from plugins.sdk.context import RequestContext
from plugins.sdk.llm_content import completion_limit, positive_int, prompt_tokens_estimate
from proxy.inbound import ProxyError
from proxy.llm.exchange import LLMExchange
from proxy.llm.front import MODELS
from proxy.llm.routes import PASSTHROUGH
from proxy.llm.wire import EMBEDDINGS
from proxy.snapshot import GatewaySnapshot, Route

logger = logging.getLogger(__name__)

# A model named in a provider's URL: Gemini's `/models/{model}:generateContent`, Azure's
# `/deployments/{deployment}/...`, Bedrock's `/model/{model id}/converse`.
MODEL_IN_PATH = re2.compile(r"/(?:models|tunedModels|deployments)/([^/:]+)|/model/([^/]+)")
DEFAULT_MAX_OUTPUT_TOKENS = 4096  # reserved when a request sets no completion limit
RESERVATION = "_budget"  # the request's reservation, in its metadata until it ends
REMAINING_HEADER = "x-gateway-budget-remaining-usd"


@dataclass(frozen=True)
class ModelScope:
    """The allow-lists a request's model must pass: its key's, its rule's, its gateway's."""

    lists: tuple[ModelPatterns, ...]

    def require(self, model: str) -> None:
        """403 `model_not_allowed` naming `model` unless every list allows it."""
        if not all(patterns.allows(model) for patterns in self.lists):
            raise ProxyError(
                403,
                f"model {model!r} is not allowed for this API key",
                param="model",
                code="model_not_allowed",
            )

    def allows(self, model: str) -> bool:
        return all(patterns.allows(model) for patterns in self.lists)


def model_scope(
    snapshot: GatewaySnapshot, route: Route, key: VerifiedKey | None
) -> ModelScope | None:
    lists = tuple(p for p in (key.models if key else None, route.models, snapshot.models) if p)
    return ModelScope(lists) if lists else None


def models_named(llm: LLMExchange, context: RequestContext) -> list[str]:
    """The models a request names: its body's, and in passthrough its URL's."""
    named = [llm.model] if llm.model else []
    if llm.endpoint == PASSTHROUGH:
        for found in MODEL_IN_PATH.finditer(context.path):
            named.append(found.group(1) or found.group(2))
    return named


def admit(
    snapshot: GatewaySnapshot,
    route: Route,
    key: VerifiedKey | None,
    llm: LLMExchange | None,
    context: RequestContext,
) -> None:
    """Once the LLM request is routed: refuse a model outside the allow-lists (403), then reserve
    its largest cost on the key's and the gateway's budgets (402 when it cannot fit)."""
    if llm is None:
        return
    scope = model_scope(snapshot, route, key)
    if scope is not None:
        llm.allowed = scope.require  # each translated attempt's model (a fallback's default too)
        named = models_named(llm, context)
        for model in named:
            scope.require(model)
        if not named and llm.endpoint != MODELS and passes_through(llm):
            raise ProxyError(
                403,
                "this API key may use only some models: name one in the request",
                param="model",
                code="model_not_allowed",
            )
    if llm.endpoint == MODELS:
        return
    budgets = [budget for budget in (key.budget if key else None, snapshot.budget) if budget]
    if budgets:
        reserve(snapshot.id, route, budgets, llm, context)


def passes_through(llm: LLMExchange) -> bool:
    """Whether the client's body may reach a provider as it is (its model not set by us)."""
    return llm.endpoint == PASSTHROUGH or any(
        options.mode == PASSTHROUGH for options in llm.route.options.values()
    )


def largest_cost_nanos(route: Route, llm: LLMExchange, context: RequestContext) -> int:
    """The most the request can cost on any provider target of its rule: the prompt estimate
    at the input price plus its completion limit (else DEFAULT_MAX_OUTPUT_TOKENS) at the output
    price, times `n`. 403 when a target has no pricing: its cost could not be counted."""
    targets = [target for target in route.balancer.targets if target.provider]
    if any(target.pricing is None for target in targets):
        raise ProxyError(
            403,
            "this API key has a budget, but this rule's targets have no pricing",
            code="budget_unpriced",
        )
    body = context.json_body()
    prompt = prompt_tokens_estimate(body, len(context.body))
    completion = 0
    if llm.endpoint != EMBEDDINGS:
        choices = (positive_int(body.get("n")) if isinstance(body, dict) else None) or 1
        completion = (completion_limit(body) or DEFAULT_MAX_OUTPUT_TOKENS) * choices
    costs = [target.pricing.cost(prompt, completion) for target in targets]
    return math.ceil(max(costs, default=0) * NANOS)


def reserve(
    gateway_id: str,
    route: Route,
    budgets: list[Budget],
    llm: LLMExchange,
    context: RequestContext,
) -> None:
    nanos = largest_cost_nanos(route, llm, context)
    try:
        admission, reservation = budgets_reserve(
            gateway_id=gateway_id, budgets=budgets, nanos=nanos
        )
    except RedisError as exc:  # a budget that cannot be counted admits nothing
        raise ProxyError(503, "budget unavailable") from exc
    remaining = {REMAINING_HEADER: usd(admission.remaining_nanos)}
    if reservation is None:
        refused = admission.refused
        whose = "gateway" if refused and refused.scope.startswith("gateway:") else "key"
        raise ProxyError(
            402,
            f"budget exceeded: the {whose}'s budget has {usd(admission.remaining_nanos)} USD "
            f"left, this request may cost up to {usd(nanos)} USD",
            remaining,
            code="budget_exceeded",
        )
    context.metadata[RESERVATION] = reservation
    context.response_headers.update(remaining)


def usd(nanos: int) -> str:
    return f"{nanos / NANOS:.6f}"


def settle(context: RequestContext | None, *, answered: bool, status: int) -> None:
    """The request ended: its reservation becomes what the call cost (nothing when no provider
    answered or one refused without usage; the whole reservation when an answer reported no
    usage), and a provider's answer adds its cost to the day's spend."""
    if context is None:
        return
    reservation: Reservation | None = context.metadata.pop(RESERVATION, None)
    call = context.llm
    answered = answered and call is not None
    if reservation is None and not answered:
        return
    cost = call.cost if answered and call is not None else None
    if cost is not None:
        cost_nanos: int | None = round(cost * NANOS)
    elif not answered or status >= 400:
        cost_nanos = 0
    else:
        cost_nanos = None
    field = spend_field(context.api_key_id, call.provider, call.model) if call else ""
    try:
        spend_settle(
            gateway_id=context.gateway_id,
            reservation=reservation,
            cost_nanos=cost_nanos,
            field=field,
            answered=answered,
        )
    except RedisError as exc:  # accounting only: never fail an answered request
        logger.warning("cannot settle the spend of request %s: %s", context.request_id, exc)
