"""In process: prompts reach a span only when opted in, and then masked; untraced requests carry
no trace ids; a worker exiting exports the spans it holds."""

from __future__ import annotations

import pytest

from gateway_project.worker_hooks import worker_exiting
from observability.tracing.providers import tracers
from tests.builders import in_process_post, llm_chat, routed_gateway
from tests.observability.collector import SERVER, Collector, one, traceparent
from tests.observability.conftest import finished, lines
from tests.openai_upstream import OpenAIServer

EMAIL = "john.doe@example.com"
CHAT = {"model": "m", "messages": [{"role": "user", "content": f"mail {EMAIL}"}]}
DATA_MASKING = {
    "name": "data_masking",
    "stage": "pre_request",
    "priority": 1,
    "settings": {"predefined_entities": [{"entity": "email"}]},
}


@pytest.fixture
def provider():
    server = OpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def collector():
    server = Collector().start()
    yield server
    server.stop()


@pytest.fixture
def fresh_tracers():
    """Tracers made again from this test's environment, and forgotten after it."""
    tracers.reset()
    yield tracers
    tracers.reset()


@pytest.fixture
def masked_chat(transactional_db, api, provider):
    return routed_gateway(
        in_process_post(api),
        subdomain="llm",
        target_dicts=[provider.target("m")],
        path="/v1/*",
        required_plugins=[DATA_MASKING],
    )


def traced_chat(monkeypatch, collector, proxy_client, gateway, capture: str, delay: str = "20"):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", delay)
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", capture)
    parent, trace_id, _ = traceparent()
    response = finished(llm_chat(proxy_client, gateway, CHAT, HTTP_TRACEPARENT=parent))
    assert response.status_code == 200
    if delay != "20":  # held in the queue: what a worker's exit exports (gunicorn.conf.py)
        assert collector.of(trace_id) == []
        worker_exiting()
    return one(collector.await_trace(trace_id, 3), SERVER)  # masking, attempt, request


def test_prompts_are_recorded_only_when_opted_in_and_only_masked(
    monkeypatch, collector, fresh_tracers, masked_chat, proxy_client, provider
):
    server = traced_chat(monkeypatch, collector, proxy_client, masked_chat, "true")
    messages = server.attributes["gen_ai.input.messages"]
    assert "[MASKED_EMAIL]" in messages
    assert EMAIL not in messages
    assert EMAIL not in str(server.attributes)


def test_prompts_are_not_recorded_by_default(
    monkeypatch, collector, fresh_tracers, masked_chat, proxy_client
):
    server = traced_chat(monkeypatch, collector, proxy_client, masked_chat, "")
    assert "gen_ai.input.messages" not in server.attributes
    assert server.attributes["gen_ai.request.model"] == "m"


def test_without_a_collector_no_request_is_traced(
    monkeypatch, fresh_tracers, masked_chat, proxy_client, access_log_file
):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    parent, _, _ = traceparent()
    response = finished(llm_chat(proxy_client, masked_chat, CHAT, HTTP_TRACEPARENT=parent))
    assert response.status_code == 200
    (line,) = [entry for entry in lines(access_log_file) if entry["type"] == "request"]
    assert "trace_id" not in line
    assert "span_id" not in line
    assert fresh_tracers.tracer(masked_chat.id, None) is None


def test_a_worker_exiting_exports_the_spans_it_holds(
    monkeypatch, collector, fresh_tracers, masked_chat, proxy_client
):
    server = traced_chat(monkeypatch, collector, proxy_client, masked_chat, "", delay="600000")
    assert server.attributes["http.response.status_code"] == 200
