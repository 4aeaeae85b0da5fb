"""Where spans go: OTLP/HTTP (protobuf) or OTLP/JSON over HTTP, each behind a bounded queue
exported in the background; spans lost on the way are counted (gateway_trace_spans_dropped)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

import orjson
import requests
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from observability.metrics import spans_dropped
from observability.tracing.config import Exporter, traces_url

logger = logging.getLogger(__name__)

EXPORT_TIMEOUT = 10.0  # seconds a gateway's exporter waits for its collector (in the background)
ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})  # hex in OTLP/JSON, not base64


class CountedExporter(SpanExporter):
    """An exporter whose failed batches are counted as dropped spans (`export_failed`)."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.exporter.export(spans)
        except Exception:
            logger.warning("trace export failed", exc_info=True)
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            spans_dropped("export_failed", len(spans))
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


class BoundedBatchProcessor(BatchSpanProcessor):
    """BatchSpanProcessor (a bounded queue, exported by a background greenlet: a request only
    appends) whose spans dropped on a full queue are counted (`queue_full`)."""

    def __init__(self, exporter: SpanExporter) -> None:
        super().__init__(CountedExporter(exporter))  # sizes and delays: OTEL_BSP_* variables

    def on_end(self, span: ReadableSpan) -> None:
        batch = self._batch_processor
        if len(batch._queue) >= batch._max_queue_size:
            spans_dropped("queue_full", 1)
        super().on_end(span)

    def shutdown(self, timeout_millis: int = 30000) -> None:
        """Export what is queued, waiting at most `timeout_millis` for it."""
        self._batch_processor.shutdown(timeout_millis)


class JSONSpanExporter(SpanExporter):
    """Spans as OTLP/JSON (the protobuf's JSON mapping, ids in hex) POSTed to `endpoint`."""

    def __init__(self, endpoint: str, headers: dict[str, str], timeout: float) -> None:
        self.endpoint = endpoint
        self.headers = {**headers, "Content-Type": "application/json"}
        self.timeout = timeout
        self.session = requests.Session()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        body = orjson.dumps(otlp_json(encode_spans(spans)))
        try:
            response = self.session.post(
                self.endpoint, data=body, headers=self.headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            logger.warning("trace export to %s failed: %s", self.endpoint, type(exc).__name__)
            return SpanExportResult.FAILURE
        response.close()
        return SpanExportResult.SUCCESS if response.ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.session.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def otlp_json(message: Any) -> dict[str, Any]:
    """An ExportTraceServiceRequest in OTLP/JSON: camelCase names, enums as integers, trace and
    span ids as hex strings."""
    return _hex_ids(MessageToDict(message, use_integers_for_enums=True))


def _hex_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: base64.b64decode(item).hex() if key in ID_FIELDS else _hex_ids(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids(item) for item in value]
    return value


def new_exporter(exporter: Exporter) -> SpanExporter:
    """The exporter of one of a gateway's `telemetry.exporters`."""
    headers = dict(exporter.headers)
    if exporter.name == "http":
        return JSONSpanExporter(exporter.endpoint, headers, EXPORT_TIMEOUT)
    url = traces_url(exporter.endpoint)
    return OTLPSpanExporter(endpoint=url, headers=headers, timeout=EXPORT_TIMEOUT)
