"""The spans of one proxied request: SERVER for the request (HTTP conventions, the gateway's
ids, GenAI attributes of its LLM call), INTERNAL per plugin run and per MCP tool call, CLIENT per
upstream attempt."""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping
from typing import Any

import orjson
from opentelemetry.propagators.textmap import DefaultGetter
from opentelemetry.sdk.trace import Tracer
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway_project import env
from gateways.providers import PROVIDERS
from observability.tracing.config import Telemetry
from observability.tracing.providers import tracers

W3C = TraceContextTextMapPropagator()  # traceparent and tracestate
HEADERS = DefaultGetter()
MAX_HEADER_VALUE = 256  # a mapped header's value on a span
FAILED_VERDICTS = frozenset({"fail", "fail_open"})


def start_trace(
    request: Any, path: str, gateway_id: str, telemetry: Telemetry | None, started: float
) -> RequestTrace | None:
    """The trace of a request to a resolved gateway (None when the gateway is not traced: no
    exporter configured). `started` is the request's time.perf_counter() on arrival."""
    tracer = tracers.tracer(gateway_id, telemetry)
    if tracer is None:
        return None
    return RequestTrace(tracer, telemetry, request, path, gateway_id, started)


class Attempt:
    """The CLIENT span of one upstream attempt, ended by its outcome."""

    __slots__ = ("span",)

    def __init__(self, span: Span) -> None:
        self.span = span

    def answered(self, status: int) -> None:
        """The target answered (the span covers the time to the answer's head)."""
        self.span.set_attribute("http.response.status_code", status)
        if status >= 400:
            self.span.set_attribute("error.type", str(status))
            self.span.set_status(Status(StatusCode.ERROR))
        self.span.end()

    def failed(self, error_type: str) -> None:
        """Nothing usable came back: `error_type` says why (a timeout, an exception's name)."""
        self.span.set_attribute("error.type", error_type)
        self.span.set_status(Status(StatusCode.ERROR))
        self.span.end()


class RequestTrace:
    """The spans of one request: its SERVER span, continued from the client's `traceparent`,
    and the children the phases report (plugins.sdk.tracing.Trace)."""

    def __init__(
        self,
        tracer: Tracer,
        telemetry: Telemetry | None,
        request: Any,
        path: str,
        gateway_id: str,
        started: float,
    ) -> None:
        self.tracer = tracer
        self.plugin_traces = telemetry is None or telemetry.plugin_traces
        self.start_ns = time.time_ns() - int((time.perf_counter() - started) * 1e9)
        method = request.method
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.path": path,  # normalised, never the query
            "url.scheme": request.scheme,
            "gateway.id": gateway_id,
        }
        if telemetry is not None:
            attributes.update(telemetry.extra)
            for attribute, header in telemetry.header_mapping:
                value = request.headers.get(header)
                if value:
                    attributes[attribute] = value[:MAX_HEADER_VALUE]
        self.span = tracer.start_span(
            method,
            context=W3C.extract(request.headers, getter=HEADERS),
            kind=SpanKind.SERVER,
            attributes=attributes,
            start_time=self.start_ns,
        )
        self.context = set_span_in_context(self.span)
        span_context = self.span.get_span_context()
        self.trace_id = format(span_context.trace_id, "032x")
        self.span_id = format(span_context.span_id, "016x")

    def routed(self, route: str) -> None:
        """The rule's path pattern is the request's route."""
        self.span.update_name(f"{self.span.name} {route}")
        self.span.set_attribute("http.route", route)

    def plugin_ran(self, plugin: Any, stage: str, verdict: str, started_ns: int) -> None:
        if not self.plugin_traces:
            return
        span = self.tracer.start_span(
            f"{stage} {plugin.name}",
            context=self.context,
            kind=SpanKind.INTERNAL,
            start_time=started_ns,
            attributes={
                "gateway.plugin.name": plugin.name,
                "gateway.plugin.id": plugin.instance_id,
                "gateway.plugin.stage": stage,
                "gateway.plugin.verdict": verdict,
            },
        )
        if verdict in FAILED_VERDICTS:
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def attempt(self, target: Any, attempt: int, outgoing: Any) -> Attempt:
        """A CLIENT span for an attempt at `target`, its context put in the outgoing headers
        (`traceparent`, `tracestate`: over any the client sent)."""
        attributes: dict[str, Any] = {
            "http.request.method": outgoing.method,
            "gateway.target": target.key,
            "gateway.attempt": attempt,
        }
        if target.provider:
            attributes["gen_ai.provider.name"] = genai_provider(target.provider)
        span = self.tracer.start_span(
            outgoing.method, context=self.context, kind=SpanKind.CLIENT, attributes=attributes
        )
        W3C.inject(outgoing.headers, context=set_span_in_context(span))
        return Attempt(span)

    def first_chunk(self, chunks: Generator[bytes, None, Any]) -> Generator[bytes, None, Any]:
        """`chunks` as they are; the first one adds the `gen_ai.first_token` event."""
        try:
            first = next(chunks)
        except StopIteration as end:
            return end.value
        self.span.add_event(
            "gen_ai.first_token",
            {"gen_ai.server.time_to_first_token": (time.time_ns() - self.start_ns) / 1e9},
        )
        try:
            yield first
        except GeneratorExit:
            chunks.close()
            raise
        return (yield from chunks)

    def finish(self, status: int, rule: str, context: Any, stream: str) -> None:
        """End the request's span: its answer's status and, on LLM routes, its call."""
        span = self.span
        span.set_attribute("http.response.status_code", status)
        if rule:
            span.set_attribute("gateway.rule.id", rule)
        if stream:
            span.set_attribute("gateway.stream", stream)
        if status >= 500:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        if context is not None and context.llm is not None:
            span.set_attributes(genai_attributes(context))
        if context is not None and context.tool_call is not None:
            self._tool_call(context.tool_call)
        span.end()

    def _tool_call(self, call: Any) -> None:
        """An INTERNAL span of an MCP tools/call (GenAI's `execute_tool`), from the call read
        to its answer."""
        span = self.tracer.start_span(
            f"execute_tool {call.name}",
            context=self.context,
            kind=SpanKind.INTERNAL,
            start_time=call.started_ns,
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": call.name,
                "gateway.mcp.server": call.server,
                "gateway.mcp.outcome": call.outcome,
            },
        )
        if call.outcome == "error":
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=call.started_ns + int(call.duration_ms * 1e6))


def genai_provider(provider: str) -> str:
    """The provider's `gen_ai.provider.name` (the provider table's, else its own name)."""
    record = PROVIDERS.get(provider)
    return (record.genai_name if record is not None else "") or provider


def genai_attributes(context: Any) -> dict[str, Any]:
    """GenAI conventions of the request's LLM call (the exchange settled it: provider, model,
    tokens, cached and reasoning ones among them, finish reasons, cost), and what the request
    asked for; the messages only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT opts
    in, as forwarded (after masking)."""
    llm = context.llm
    try:
        body = context.json_body()  # parsed once per body: the exchange parsed it already
    except Exception:  # refused as too deep, after a plugin rewrote it: no request fields
        body = None
    body = body if isinstance(body, Mapping) else {}
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "embeddings" if context.path.endswith("embeddings") else "chat",
        "gen_ai.provider.name": genai_provider(llm.provider),
        "gen_ai.request.model": body.get("model") or llm.model,
        "gen_ai.response.model": llm.model,
    }
    for attribute, value in (
        ("gen_ai.usage.input_tokens", llm.prompt_tokens),
        ("gen_ai.usage.output_tokens", llm.completion_tokens),
        ("gen_ai.usage.cache_read.input_tokens", llm.cached_tokens),
        ("gen_ai.usage.reasoning.output_tokens", llm.reasoning_tokens),
        ("gateway.llm.cost", llm.cost),
        ("gen_ai.request.max_tokens", body.get("max_tokens", body.get("max_completion_tokens"))),
        ("gen_ai.request.temperature", body.get("temperature")),
    ):
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[attribute] = value
    if llm.finish_reasons:
        attributes["gen_ai.response.finish_reasons"] = llm.finish_reasons
    if env.read("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"):
        messages = body.get("messages", body.get("input"))
        if messages is not None:
            attributes["gen_ai.input.messages"] = orjson.dumps(messages).decode()
    return attributes
