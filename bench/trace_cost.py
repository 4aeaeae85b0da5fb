"""CPU per request of tracing at full sampling: `python -m bench.trace_cost`.

One process: a request's four spans (SERVER with GenAI attributes, two plugin runs, one
upstream attempt with its traceparent injected) through the bounded batch queue to an exporter
that encodes them as OTLP protobuf (or not: the spans' own cost) and sends nothing (the export
greenlet's CPU is counted: it runs in the same process). And the cost when no exporter is
configured (tracing off).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from bench.observe_cost import prepare

REQUESTS = 10_000
SPANS_PER_REQUEST = 4
CHAT = json.dumps(
    {"model": "gpt-4o-mini", "max_tokens": 64, "temperature": 0.2, "messages": [{"role": "user"}]}
).encode()


def counting_exporter(encode: bool) -> tuple:
    """An exporter that counts the spans, encoding every batch (OTLP protobuf bytes) or not."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    exported = [0]

    class Counting(SpanExporter):
        def export(self, spans):
            if encode:
                encode_spans(spans).SerializeToString()
            exported[0] += len(spans)
            return SpanExportResult.SUCCESS

    return Counting(), exported


def one_request(start_trace, tracer_of, parts) -> None:
    """What a traced request asks of the tracer, in the order the proxy asks it."""
    from observability.tracing.spans import RequestTrace

    request, context, plugins, target, outgoing = parts
    tracer = tracer_of()
    if tracer is None:
        start_trace(request, "/v1/chat/completions", "g", None, time.perf_counter())
        return
    trace = RequestTrace(tracer, None, request, "/v1/chat/completions", "g", time.perf_counter())
    trace.routed("/v1/*")
    for plugin in plugins:
        trace.plugin_ran(plugin, "pre_request", "continue", time.time_ns())
    outgoing.headers.pop("traceparent", None)
    trace.attempt(target, 1, outgoing).answered(200)
    trace.finish(200, "rule", context, "")


def parts() -> tuple:
    from requests.structures import CaseInsensitiveDict

    from plugins.sdk.context import LLMCall, RequestContext

    request = SimpleNamespace(
        method="POST",
        scheme="http",
        headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    )
    context = RequestContext(
        request_id="r",
        method="POST",
        path="/v1/chat/completions",
        query_string="",
        headers=CaseInsensitiveDict(),
        body=CHAT,
        client_ip="127.0.0.1",
        gateway_id="g",
        llm=LLMCall("openai", "gpt-4o-mini", 9, 12, 21, 0.0001),
    )
    plugins = [SimpleNamespace(name=n, instance_id=n) for n in ("rate_limiter", "data_masking")]
    target = SimpleNamespace(key="upstream:0", provider="openai")
    outgoing = SimpleNamespace(method="POST", headers=CaseInsensitiveDict())
    return request, context, plugins, target, outgoing


def cpu_per_request(traced: bool, encode: bool = True) -> tuple[float, int]:
    """Microseconds of CPU per request (the queue's export included), and spans exported."""
    from opentelemetry.sdk.trace import TracerProvider

    from observability.tracing.exporters import BoundedBatchProcessor
    from observability.tracing.providers import tracers
    from observability.tracing.spans import start_trace

    tracers.reset()
    exported = [0]
    if traced:
        exporter, exported = counting_exporter(encode)
        processor = BoundedBatchProcessor(exporter)
        provider = TracerProvider()
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("bench")
        tracer_of = lambda: tracer  # noqa: E731
    else:
        tracer_of = lambda: None  # noqa: E731
    request_parts = parts()
    started = time.process_time()
    for _ in range(REQUESTS):
        one_request(start_trace, tracer_of, request_parts)
    if traced:
        processor.shutdown(60_000)  # every queued span exported
    return (time.process_time() - started) / REQUESTS * 1e6, exported[0]


def main() -> int:
    from gateway_project.embedded_redis import stop_embedded_redis

    os.environ.update(OTEL_BSP_SCHEDULE_DELAY="100", OTEL_BSP_MAX_QUEUE_SIZE="8192")
    with tempfile.TemporaryDirectory(prefix="trace-cost-") as name:
        tmp = Path(name)
        prepare(tmp)
        try:
            cpu_per_request(True)  # warm: imports, first spans
            off, _ = cpu_per_request(False)
            spans, _ = cpu_per_request(True, encode=False)
            on, exported = cpu_per_request(True)
        finally:
            stop_embedded_redis(tmp / "redis")
    print(f"tracing CPU per request ({REQUESTS} requests, load {os.getloadavg()[0]:.2f}):")
    print(f"  {'off (no exporter configured)':44s} {off:7.1f} µs")
    print(f"  {'full sampling, 4 spans, not encoded':44s} {spans:7.1f} µs")
    print(f"  {'full sampling, 4 spans, OTLP encoded':44s} {on:7.1f} µs")
    print(f"  spans exported {exported} of {REQUESTS * SPANS_PER_REQUEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
