"""The LLM side of a request routed to provider targets: who answers, usage, cost, headers."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpResponseBase

from plugins.base import LLMCall, RequestContext
from plugins.builtin.llm_usage import UsageScanner, merge_usage, parse_json, record_usage
from proxy.balancer import Balancer, Target

Transform = Callable[[bytes], bytes]


def requested_model(context: RequestContext) -> str | None:
    body = context.json_body()
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def served_model(target: Target, requested: str | None) -> str:
    """The model `target` is asked for: the requested one if it serves it, else its default."""
    return requested if requested in target.models else target.default_model


def expect_llm_call(context: RequestContext, balancer: Balancer) -> None:
    """Before the plugins run: a request routed to provider targets gets its LLM call, naming
    the first provider by priority (`answered_by` corrects it once one has answered)."""
    if context.llm is not None or not balancer.serves_llm:
        return
    first = min((t for t in balancer.targets if t.provider), key=lambda t: t.priority)
    context.llm = LLMCall(first.provider, served_model(first, requested_model(context)))


def answered_by(context: RequestContext, target: Target) -> None:
    """The provider target that answered, on the request's LLM call (idempotent)."""
    if not target.provider:
        return
    model = served_model(target, requested_model(context))
    if context.llm is None:
        context.llm = LLMCall(target.provider, model)
    else:
        context.llm.provider, context.llm.model = target.provider, model


def meter_body(context: RequestContext, target: Target, body: bytes | None) -> None:
    """Usage and cost of a whole (buffered) answer, before plugins may rewrite it."""
    if context.llm is None or not body:
        return
    usage: dict[str, int] = {}
    merge_usage(usage, parse_json(body))
    record_usage(context.llm, usage, target.pricing)


class StreamMeter:
    """Usage and cost of a streamed answer: each chunk is scanned as it passes (SSE events or
    a chunked JSON body), the totals land on the LLM call when the stream ends."""

    def __init__(self, call: LLMCall, target: Target) -> None:
        self.call = call
        self.pricing = target.pricing
        self.scanner = UsageScanner()

    def wrap(self, transform: Transform | None) -> Transform:
        """`transform` (the chunk hooks), after the meter has seen the upstream's chunk."""
        feed = self.scanner.feed

        def metered(chunk: bytes) -> bytes:
            feed(chunk)
            return transform(chunk) if transform is not None else chunk

        return metered

    def finish(self) -> None:
        self.scanner.finish()
        record_usage(self.call, self.scanner.usage, self.pricing)


def label_response(response: HttpResponseBase, context: RequestContext, target: Target) -> None:
    """`X-Gateway-Provider` and `X-Gateway-Model`: which provider and model answered."""
    if target.provider and context.llm is not None:
        response["X-Gateway-Provider"] = context.llm.provider
        response["X-Gateway-Model"] = context.llm.model
