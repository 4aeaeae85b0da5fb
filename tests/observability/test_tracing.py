"""Traces through a real gunicorn: spans decoded by a test collector (OTLP/HTTP, protobuf and
JSON), W3C context to the upstream, per-gateway exporters, a dead collector."""

from __future__ import annotations

import json
import os
import statistics
import time

import pytest
import requests

from tests.builders import routed_gateway
from tests.e2e.server import GatewayServer
from tests.e2e.services import wait_until
from tests.observability.collector import (
    CLIENT,
    INTERNAL,
    SERVER,
    STATUS_ERROR,
    BlackHole,
    Collector,
    one,
    traceparent,
)
from tests.openai_upstream import COMPLETION_TOKENS, PROMPT_TOKENS, OpenAIServer
from tests.upstream import UpstreamServer

pytestmark = pytest.mark.e2e

EMAIL = "john.doe@example.com"
CHAT = {"model": "m", "messages": [{"role": "user", "content": f"mail {EMAIL}"}]}
RATE_LIMITER = {
    "name": "rate_limiter",
    "stage": "pre_request",
    "priority": 1,
    "settings": {"limits": {"global": {"limit": 1000, "window": "1m"}}},
}
DATA_MASKING = {
    "name": "data_masking",
    "stage": "pre_request",
    "priority": 2,
    "settings": {"predefined_entities": [{"entity": "email"}]},
}


@pytest.fixture(scope="module")
def collector():
    server = Collector().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own_collector():
    server = Collector().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def black_hole():
    hole = BlackHole()
    yield hole
    hole.stop()


@pytest.fixture(scope="module")
def providers():
    servers = [OpenAIServer().start() for _ in range(2)]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def plain_upstream():
    server = UpstreamServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def traced(tmp_path_factory, collector):
    var_dir = tmp_path_factory.mktemp("traced")
    server = GatewayServer(
        var_dir,
        os.environ["TEST_REDIS_URL"],
        workers=2,
        PROMETHEUS_MULTIPROC_DIR=str(var_dir / "metrics"),
        GATEWAY_ACCESS_LOG=str(var_dir / "access.log"),
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_SERVICE_NAME="gateway-under-test",
        OTEL_BSP_SCHEDULE_DELAY="50",
        OTEL_BSP_MAX_QUEUE_SIZE="64",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE="32",
    ).start()
    yield server
    server.stop()


def chat(server: GatewayServer, subdomain: str, key: str, parent: str, **body) -> requests.Response:
    return server.proxy(
        subdomain,
        "/v1/chat/completions",
        method="POST",
        key=key,
        json={**CHAT, **body},
        headers={"traceparent": parent},
    )


def access_log_line(server: GatewayServer, request_id: str) -> dict:
    for line in (server.var_dir / "access.log").read_text().splitlines():
        entry = json.loads(line)
        if entry.get("request_id") == request_id:
            return entry
    raise AssertionError(f"no access-log line for {request_id}")


def test_a_chat_with_plugins_is_one_trace_with_genai_attributes(traced, collector, providers):
    gateway = routed_gateway(
        traced.post,
        subdomain="trace-chat",
        target_dicts=[providers[0].target("m")],
        path="/v1/*",
        required_plugins=[RATE_LIMITER, DATA_MASKING],
    )
    parent, trace_id, client_span = traceparent()
    response = chat(traced, "trace-chat", gateway.key, parent, max_tokens=50, temperature=0.5)
    assert response.status_code == 200, response.text

    spans = collector.await_trace(trace_id, 4)
    server = one(spans, SERVER)
    assert server.parent_id == client_span  # the client's context is continued
    assert server.name == "POST /v1/*"
    attributes = server.attributes
    assert attributes["http.request.method"] == "POST"
    assert attributes["url.path"] == "/v1/chat/completions"
    assert attributes["http.route"] == "/v1/*"
    assert attributes["http.response.status_code"] == 200
    assert attributes["gateway.id"] == gateway.id
    assert attributes["gateway.rule.id"] == gateway.rule["id"]
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "m"
    assert attributes["gen_ai.usage.input_tokens"] == PROMPT_TOKENS
    assert attributes["gen_ai.usage.output_tokens"] == COMPLETION_TOKENS
    assert attributes["gen_ai.request.max_tokens"] == 50
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert not any(EMAIL in str(value) for value in attributes.values())
    assert "gen_ai.input.messages" not in attributes  # not opted in

    plugins = {s.attributes["gateway.plugin.name"]: s for s in spans if s.kind == INTERNAL}
    assert {"rate_limiter", "data_masking"} <= plugins.keys()
    for plugin in plugins.values():
        assert plugin.parent_id == server.span_id
        assert plugin.attributes["gateway.plugin.verdict"] == "continue"
    assert plugins["rate_limiter"].attributes["gateway.plugin.stage"] == "pre_request"

    client = one(spans, CLIENT)
    assert client.parent_id == server.span_id
    assert client.attributes["gateway.attempt"] == 1
    assert client.attributes["http.response.status_code"] == 200
    assert client.attributes["gen_ai.provider.name"] == "openai"
    assert "url.full" not in client.attributes  # a provider URL may carry credentials

    line = access_log_line(traced, response.headers["X-Request-ID"])
    assert (line["trace_id"], line["span_id"]) == (trace_id, server.span_id)


def test_a_fallback_has_a_client_span_per_attempt(traced, collector, providers):
    failing, backup = providers
    failing.behaviour.status = 503
    try:
        gateway = routed_gateway(
            traced.post,
            subdomain="trace-fallback",
            target_dicts=[failing.target("m"), backup.target("m", priority=1)],
            path="/v1/*",
            retry_attempts=1,
        )
        parent, trace_id, _ = traceparent()
        response = chat(traced, "trace-fallback", gateway.key, parent)
    finally:
        failing.behaviour.status = 200
    assert response.status_code == 200, response.text
    spans = collector.await_trace(trace_id, 3)
    first, second = sorted(
        (s for s in spans if s.kind == CLIENT), key=lambda s: s.attributes["gateway.attempt"]
    )
    assert first.attributes["error.type"] == "503"
    assert first.status == STATUS_ERROR
    assert second.attributes["gateway.attempt"] == 2
    assert second.attributes["http.response.status_code"] == 200
    assert "error.type" not in second.attributes
    assert first.attributes["gateway.target"] != second.attributes["gateway.target"]


def test_a_stream_has_a_first_token_event(traced, collector, providers):
    gateway = routed_gateway(
        traced.post,
        subdomain="trace-stream",
        target_dicts=[providers[0].target("m")],
        path="/v1/*",
    )
    parent, trace_id, _ = traceparent()
    response = chat(
        traced,
        "trace-stream",
        gateway.key,
        parent,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert response.status_code == 200
    assert b"[DONE]" in response.content
    server = one(collector.await_trace(trace_id, 2), SERVER)
    assert server.events == ["gen_ai.first_token"]
    assert server.attributes["gateway.stream"] == "complete"
    assert server.attributes["gen_ai.usage.output_tokens"] == COMPLETION_TOKENS


def test_a_blocked_request_has_the_verdict_and_no_client_span(traced, collector, plain_upstream):
    limiter = {**RATE_LIMITER, "settings": {"limits": {"global": {"limit": 1, "window": "1m"}}}}
    gateway = routed_gateway(
        traced.post,
        subdomain="trace-blocked",
        targets=[("127.0.0.1", plain_upstream.port)],
        required_plugins=[limiter],
    )
    assert traced.proxy("trace-blocked", "/x", key=gateway.key).status_code == 200
    parent, trace_id, _ = traceparent()
    response = traced.proxy("trace-blocked", "/x", key=gateway.key, headers={"traceparent": parent})
    assert response.status_code == 429
    spans = collector.await_trace(trace_id, 2)
    assert one(spans, SERVER).attributes["http.response.status_code"] == 429
    plugin = one(spans, INTERNAL)
    assert plugin.attributes["gateway.plugin.name"] == "rate_limiter"
    assert plugin.attributes["gateway.plugin.verdict"] == "reject"
    assert [s for s in spans if s.kind == CLIENT] == []


def test_the_client_context_reaches_the_upstream(traced, collector, plain_upstream):
    gateway = routed_gateway(
        traced.post, subdomain="trace-upstream", targets=[("127.0.0.1", plain_upstream.port)]
    )
    parent, trace_id, _ = traceparent()
    response = traced.proxy(
        "trace-upstream",
        "/hello?secret=1",
        key=gateway.key,
        headers={"traceparent": parent, "tracestate": "vendor=abc"},
    )
    assert response.status_code == 200
    spans = collector.await_trace(trace_id, 2)
    client = one(spans, CLIENT)
    seen = [s for s in plain_upstream.seen if s.path.startswith("/hello")][-1]
    assert seen.headers["traceparent"] == f"00-{trace_id}-{client.span_id}-01"
    assert seen.headers["tracestate"] == "vendor=abc"
    assert one(spans, SERVER).attributes["url.path"] == "/hello"  # never the query


def test_a_gateway_exports_to_its_own_collectors(traced, collector, own_collector, plain_upstream):
    telemetry = {
        "exporters": [
            {
                "name": "otlp",
                "settings": {"endpoint": own_collector.url, "headers": {"X-Token": "t0k"}},
            },
            {"name": "http", "settings": {"endpoint": own_collector.url + "/json"}},
        ],
        "enable_plugin_traces": False,
        "extra_params": {"team": "ml", "tier": 2},
        "header_mapping": {"conversation_id": "X-Conversation-ID"},
    }
    gateway = routed_gateway(
        traced.post,
        subdomain="trace-own",
        targets=[("127.0.0.1", plain_upstream.port)],
        required_plugins=[RATE_LIMITER],
        gateway_extra={"telemetry": telemetry},
    )
    shown = traced.admin.get(f"{traced.base_url}/api/v1/gateways/{gateway.id}", timeout=10)
    assert shown.json()["telemetry"]["exporters"][0]["settings"]["headers"] == {
        "X-Token": "********"
    }
    parent, trace_id, _ = traceparent()
    headers = {"traceparent": parent, "X-Conversation-ID": "conv-7"}
    assert traced.proxy("trace-own", "/x", key=gateway.key, headers=headers).status_code == 200

    for path in ("/v1/traces", "/json"):  # OTLP protobuf, and OTLP/JSON
        spans = own_collector.await_trace(trace_id, 2, path)
        assert {s.kind for s in spans} == {SERVER, CLIENT}  # no plugin spans: turned off
        server = one(spans, SERVER)
        assert server.attributes["gen_ai.conversation.id"] == "conv-7"
        assert (server.attributes["team"], server.attributes["tier"]) == ("ml", 2)
    assert {h["x-token"] for h in own_collector.headers_of(trace_id, "/v1/traces")} == {"t0k"}
    collector.await_trace(trace_id, 2)  # the environment's collector gets them too


def test_telemetry_exporters_are_validated(traced):
    def refused(exporter: dict) -> dict:
        payload = {
            "name": "t",
            "subdomain": "trace-refused",
            "telemetry": {"exporters": [exporter]},
        }
        response = traced.admin.post(f"{traced.base_url}/api/v1/gateways", json=payload, timeout=10)
        assert response.status_code == 400, response.text
        return response.json()

    kafka = refused({"name": "kafka", "settings": {"endpoint": "http://127.0.0.1:9092"}})
    assert "kafka exporter is not supported" in json.dumps(kafka)
    assert "telemetry" in json.dumps(kafka)
    assert "endpoint" in json.dumps(refused({"name": "otlp", "settings": {"endpoint": "ftp://x"}}))


def test_a_dead_collector_slows_no_request(traced, black_hole, plain_upstream):
    telemetry = {"exporters": [{"name": "otlp", "settings": {"endpoint": black_hole.url}}]}
    baseline = routed_gateway(
        traced.post, subdomain="trace-alive", targets=[("127.0.0.1", plain_upstream.port)]
    )
    dead = routed_gateway(
        traced.post,
        subdomain="trace-dead",
        targets=[("127.0.0.1", plain_upstream.port)],
        gateway_extra={"telemetry": telemetry},
    )
    session = requests.Session()
    assert traced.proxy("trace-dead", "/x", key=dead.key).status_code == 200
    assert black_hole.accepted.wait(20)

    def timed(subdomain: str, key: str) -> float:
        started = time.perf_counter()
        response = traced.proxy(subdomain, "/x", key=key, session=session)
        assert response.status_code == 200
        return time.perf_counter() - started

    alive = [timed("trace-alive", baseline.key) for _ in range(20)]
    held = [timed("trace-dead", dead.key) for _ in range(80)]
    assert max(held) < 1.0, max(held)
    assert statistics.median(held) < statistics.median(alive) * 3 + 0.02, (alive, held)

    def dropped() -> float:
        text = requests.get(traced.base_url + "/metrics", timeout=10).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith('gateway_trace_spans_dropped_total{reason="queue_full"}')
        )

    wait_until(lambda: dropped() > 0, timeout=10)
