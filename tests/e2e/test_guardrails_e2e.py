"""Guardrails through gunicorn's gevent workers: two parallel guardrails of one priority call
their services at the same time (one round trip, not two); sequential ones do not."""

from __future__ import annotations

import json
import time

import pytest

from tests.builders import routed_gateway
from tests.guardrail_mocks import GuardrailMock
from tests.plugins.test_guardrails import KEY, azure_settings, chat, openai_settings, plugin

pytestmark = pytest.mark.e2e

DELAY = 0.5


@pytest.fixture
def services():
    started = [GuardrailMock(key=KEY).start(), GuardrailMock(key=KEY).start()]
    for service in started:
        service.delay = DELAY
    yield started
    for service in started:
        service.stop()


def guarded_gateway(gateway_server, upstream, services, subdomain: str, parallel: bool):
    openai, azure = services
    return routed_gateway(
        gateway_server.post,
        subdomain=subdomain,
        targets=[("127.0.0.1", upstream.port)],
        required_plugins=[
            plugin("toxicity_openai", openai_settings(openai.url), parallel=parallel),
            plugin("toxicity_azure", azure_settings(azure.url), parallel=parallel),
        ],
    )


def timed_post(gateway_server, subdomain: str, key: str) -> tuple[int, float]:
    started = time.monotonic()
    response = gateway_server.proxy(
        subdomain,
        "/v1/chat/completions",
        method="POST",
        key=key,
        data=chat("hello"),
        headers={"Content-Type": "application/json"},
    )
    return response.status_code, time.monotonic() - started


def overlapping(services) -> bool:
    first, second = (service.calls[-1] for service in services)
    return first.arrived < second.answered and second.arrived < first.answered


def test_parallel_guardrails_cost_one_round_sequential_ones_two(
    gateway_server, e2e_upstream, services
):
    """Proved by the services' clocks (each call arrived while the other was being answered);
    the fastest of a few requests (the machine is shared) is under two rounds as well."""
    parallel = guarded_gateway(gateway_server, e2e_upstream, services, "e2e-guard-par", True)
    timings = []
    for _ in range(3):
        status, elapsed = timed_post(gateway_server, "e2e-guard-par", parallel.key)
        assert status == 200
        assert overlapping(services)
        timings.append(elapsed)
    assert min(timings) < 2 * DELAY - 0.1
    sequential = guarded_gateway(gateway_server, e2e_upstream, services, "e2e-guard-seq", False)
    status, elapsed = timed_post(gateway_server, "e2e-guard-seq", sequential.key)
    assert status == 200
    assert not overlapping(services)
    assert elapsed >= 2 * DELAY


def test_a_flagged_prompt_is_refused_by_either_parallel_guardrail(
    gateway_server, e2e_upstream, services
):
    gateway = guarded_gateway(gateway_server, e2e_upstream, services, "e2e-guard-flag", True)
    seen = len(e2e_upstream.seen)
    response = gateway_server.proxy(
        "e2e-guard-flag",
        "/v1/chat/completions",
        method="POST",
        key=gateway.key,
        data=json.dumps({"model": "m", "messages": [{"role": "user", "content": "murder"}]}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 403
    assert len(e2e_upstream.seen) == seen
