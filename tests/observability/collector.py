"""A test collector of OTLP/HTTP traces (protobuf and JSON bodies decoded with
opentelemetry-proto), a collector that never answers, and W3C context helpers."""

from __future__ import annotations

import json
import secrets
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.upstream import BackgroundServer

INTERNAL, SERVER, CLIENT = 1, 2, 3  # OTLP's SpanKind
STATUS_ERROR = 2


@dataclass
class SeenSpan:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    status: int
    attributes: dict
    events: list[str] = field(default_factory=list)


def _value(any_value) -> object:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in any_value.array_value.values]
    return getattr(any_value, kind)


def from_protobuf(body: bytes) -> list[SeenSpan]:
    message = ExportTraceServiceRequest.FromString(body)
    return [
        SeenSpan(
            span.trace_id.hex(),
            span.span_id.hex(),
            span.parent_span_id.hex(),
            span.name,
            span.kind,
            span.status.code,
            {kv.key: _value(kv.value) for kv in span.attributes},
            [event.name for event in span.events],
        )
        for resource in message.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]


def _json_value(value: dict) -> object:
    ((kind, item),) = value.items()
    return int(item) if kind == "intValue" else item


def from_json(body: bytes) -> list[SeenSpan]:
    message = json.loads(body)
    return [
        SeenSpan(
            span["traceId"],
            span["spanId"],
            span.get("parentSpanId", ""),
            span["name"],
            span["kind"],
            span.get("status", {}).get("code", 0),
            {kv["key"]: _json_value(kv["value"]) for kv in span.get("attributes", [])},
            [event["name"] for event in span.get("events", [])],
        )
        for resource in message["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


class CollectorHandler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        json_body = self.headers["Content-Type"] == "application/json"
        spans = from_json(body) if json_body else from_protobuf(body)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.received(self.path, headers, spans)
        self.send_response(200)
        self.send_header("Content-Type", self.headers["Content-Type"])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class Collector(BackgroundServer):
    """An OTLP/HTTP receiver: every span it was sent, with the path and headers of its POST."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), CollectorHandler)
        self.spans: list[tuple[str, dict, SeenSpan]] = []
        self.changed = threading.Condition()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def received(self, path: str, headers: dict, spans: list[SeenSpan]) -> None:
        with self.changed:
            self.spans.extend((path, headers, span) for span in spans)
            self.changed.notify_all()

    def of(self, trace_id: str, path: str | None = None) -> list[SeenSpan]:
        with self.changed:
            return [s for p, _, s in self.spans if s.trace_id == trace_id and path in (None, p)]

    def await_trace(
        self, trace_id: str, count: int, path: str | None = None, timeout: float = 20
    ) -> list[SeenSpan]:
        """The spans of `trace_id` once `count` arrived (the server's span is ended last)."""
        with self.changed:
            arrived = self.changed.wait_for(
                lambda: len(self.of(trace_id, path)) >= count, timeout=timeout
            )
        assert arrived, (count, self.of(trace_id, path))
        return self.of(trace_id, path)

    def headers_of(self, trace_id: str, path: str) -> list[dict]:
        with self.changed:
            return [h for p, h, s in self.spans if s.trace_id == trace_id and p == path]


class BlackHole:
    """A collector that accepts connections and never answers (`accepted` once one came)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(connection)
            self.accepted.set()

    def stop(self) -> None:
        self.sock.close()
        for connection in self.connections:
            connection.close()


def traceparent() -> tuple[str, str, str]:
    """(header, trace id, span id) of a client's sampled W3C context."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def one(spans: list[SeenSpan], kind: int) -> SeenSpan:
    (found,) = [s for s in spans if s.kind == kind]
    return found
