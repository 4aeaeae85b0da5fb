"""The tracers: the environment's (the standard OTEL_* variables) and each gateway's (its
`telemetry` exporters, plus the environment's collector), made in the worker on first use and
flushed when it exits. No exporter configured: no tracer, and a request makes no tracer call."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, Tracer, TracerProvider

from gateway_project import env
from gateway_project.worker_hooks import on_worker_exit
from observability.tracing.config import Telemetry
from observability.tracing.exporters import BoundedBatchProcessor, CountedExporter, new_exporter

logger = logging.getLogger(__name__)

SCOPE = "ai-gateway"  # the instrumentation scope of every span
EXIT_FLUSH_MS = 5000  # a worker's last export waits at most this (gunicorn's graceful_timeout: 20)


@dataclass
class GatewayTracer:
    telemetry: Telemetry
    tracer: Tracer | None
    processors: list[SpanProcessor] = field(default_factory=list)  # its own exporters' only


class Tracers:
    """Tracers by gateway, each built once per distinct `telemetry`."""

    def __init__(self) -> None:
        self._started = False
        self._resource: Resource | None = None
        self._env_processor: SpanProcessor | None = None
        self._env_tracer: Tracer | None = None
        self._gateways: dict[str, GatewayTracer] = {}
        self._lock = threading.Lock()

    def tracer(self, gateway_id: str, telemetry: Telemetry | None) -> Tracer | None:
        """The tracer of a gateway's requests; None when they are not traced."""
        if not self._started:
            self._start()
        if telemetry is None:
            return self._env_tracer
        entry = self._gateways.get(gateway_id)
        if entry is None or (entry.telemetry is not telemetry and entry.telemetry != telemetry):
            entry = self._gateway(gateway_id, telemetry)
        return entry.tracer

    def _start(self) -> None:
        """The environment's exporter, when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT names one."""
        with self._lock:
            if self._started:
                return
            self._resource = Resource.create({"service.name": env.read("OTEL_SERVICE_NAME")})
            on_worker_exit(self.flush)
            endpoint = env.read("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.read(
                "OTEL_EXPORTER_OTLP_ENDPOINT"
            )
            if endpoint and env.read("OTEL_TRACES_EXPORTER") != "none" and not disabled():
                exporter = CountedExporter(OTLPSpanExporter())  # endpoint, headers: OTEL_*
                self._env_processor = BoundedBatchProcessor(exporter)
                self._env_tracer = self._provider([self._env_processor]).get_tracer(SCOPE)
            self._started = True

    def _provider(self, processors: list[SpanProcessor]) -> TracerProvider:
        provider = TracerProvider(resource=self._resource)  # sampler: OTEL_TRACES_SAMPLER
        for processor in processors:
            provider.add_span_processor(processor)
        return provider

    def _gateway(self, gateway_id: str, telemetry: Telemetry) -> GatewayTracer:
        """A gateway's tracer for its (new) telemetry; the previous one's exporters flush and
        close in the background."""
        with self._lock:
            own: list[SpanProcessor] = []
            if telemetry.request_traces and not disabled():
                own = [BoundedBatchProcessor(new_exporter(e)) for e in telemetry.exporters]
            shared = [self._env_processor] if self._env_processor is not None else []
            traced = telemetry.request_traces and (own or shared)
            tracer = self._provider([*own, *shared]).get_tracer(SCOPE) if traced else None
            entry = GatewayTracer(telemetry, tracer, own)
            previous = self._gateways.get(gateway_id)
            self._gateways[gateway_id] = entry
        if previous is not None and previous.processors:
            threading.Thread(target=_shutdown, args=(previous.processors,), daemon=True).start()
        return entry

    def flush(self, timeout_millis: int = EXIT_FLUSH_MS) -> None:
        """Export every queued span (a worker exiting), each exporter waiting at most
        `timeout_millis`; no span is taken after."""
        with self._lock:
            processors = [p for entry in self._gateways.values() for p in entry.processors]
            if self._env_processor is not None:
                processors.append(self._env_processor)
        _shutdown(processors, timeout_millis)

    def reset(self) -> None:
        """Forget every tracer (tests change the environment and gateways between cases)."""
        self.flush(0)
        self.__init__()


def disabled() -> bool:
    return env.read("OTEL_SDK_DISABLED")


def _shutdown(processors: list[SpanProcessor], timeout_millis: int = EXIT_FLUSH_MS) -> None:
    for processor in processors:
        try:
            processor.shutdown(timeout_millis)
        except Exception:
            logger.warning("trace exporter did not shut down cleanly", exc_info=True)


tracers = Tracers()
