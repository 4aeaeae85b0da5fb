"""In process: prompts reach a span only when opted in, and then masked; the settled call's
cached and reasoning tokens and finish reasons reach it; untraced requests carry no trace ids;
a worker exiting exports the spans it holds."""

from __future__ import annotations

import pytest

from gateway_project.worker_hooks import worker_exiting
from observability.tracing.providers import tracers
from tests.builders import in_process_post, llm_chat, provider_target, routed_gateway
from tests.llm_mocks import replies
from tests.llm_mocks.server import LLMMockServer
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
def llm_mock(transactional_db):
    server = LLMMockServer().start()
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


@pytest.mark.parametrize(
    ("provider", "model", "body", "reasoning"),
    [
        ("openai", "gpt-4o-mini", {}, None),  # its own answer, metered as it is
        ("openai", "gpt-4o-mini", {"stream": True}, None),  # finish reasons from the chunks
        ("google", "gemini-flash", {"reasoning_effort": "low"}, replies.THOUGHT_TOKENS),
    ],
)
def test_the_span_has_cached_and_reasoning_tokens_and_finish_reasons(
    monkeypatch, collector, fresh_tracers, llm_mock, api, proxy_client, provider, model, body,
    reasoning,
):  # fmt: skip
    target = provider_target(
        llm_mock.port, model=model, provider=provider, credentials={"api_key": replies.API_KEY}
    )
    gateway = routed_gateway(
        in_process_post(api), subdomain="llm", target_dicts=[target], path="/v1/*"
    )
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
    parent, trace_id, _ = traceparent()
    text = f"{replies.CACHED}: hello"
    chat = {"model": model, "messages": [{"role": "user", "content": text}], **body}
    response = finished(llm_chat(proxy_client, gateway, chat, HTTP_TRACEPARENT=parent))
    assert response.status_code == 200, response.content
    attributes = one(collector.await_trace(trace_id, 2), SERVER).attributes
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    if not body.get("stream"):  # the mock's stream reports no usage unless asked
        assert attributes["gen_ai.usage.cache_read.input_tokens"] == replies.CACHED_TOKENS
    assert attributes.get("gen_ai.usage.reasoning.output_tokens") == reasoning


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
