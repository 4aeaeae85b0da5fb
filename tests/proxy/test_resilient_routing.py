"""Resilient routing in process: Retry-After, backoff and the retry budget, least-latency,
sticky sessions, service retries, active health probes, and their settings at the edge."""

from __future__ import annotations

import json
import random
import time

import pytest

from proxy.probes import Prober
from proxy.retries import BACKOFF_BASE, retry_after
from tests.gateways.test_routing_api import field_errors
from tests.routing_upstream import HEALTH_PATH, SwitchableServer
from tests.upstream import free_port

HOST = "api.localhost"


@pytest.fixture
def switchable():
    """`switchable()`: a started SwitchableServer; all stopped afterwards."""
    servers: list[SwitchableServer] = []

    def start() -> SwitchableServer:
        servers.append(SwitchableServer().start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def call(client, gateway, method="get", **headers):
    return getattr(client, method)("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key, **headers)


def answered_by(response) -> int:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return json.loads(body)["port"]


def targets_of(*servers: SwitchableServer) -> list[tuple[str, int]]:
    return [("127.0.0.1", server.port) for server in servers]


# --- Retry-After ---


def test_a_429_with_retry_after_tries_another_target_at_once_and_rests_the_first(
    route, switchable, proxy_client, redis_conn
):
    busy, free = switchable(), switchable()
    busy.status, busy.headers = 429, {"Retry-After": "2"}
    gateway = route(targets=targets_of(busy, free), retry_attempts=1)
    started = time.monotonic()
    for _ in range(6):
        response = call(proxy_client, gateway)
        assert (response.status_code, answered_by(response)) == (200, free.port)
    assert time.monotonic() - started < 1.5  # the other target at once: no waiting
    assert len(busy.calls()) == 1  # rested: not called again
    (key,) = redis_conn.keys(f"{{lbh:{gateway.upstream['id']}:*}}:wait:0")
    assert 1000 < redis_conn.pttl(key) <= 2000  # shared with every worker and node


def test_a_later_attempt_on_a_resting_target_waits_out_its_retry_after(
    route, switchable, proxy_client
):
    first, second = switchable(), switchable()
    for server in (first, second):
        server.status, server.headers = 503, {"Retry-After": "1"}
    gateway = route(targets=targets_of(first, second), retry_attempts=2)
    response = call(proxy_client, gateway)
    assert response.status_code == 503  # the last attempt's answer, as it is
    arrivals = sorted(first.calls() + second.calls(), key=lambda a: a.at)
    assert len(arrivals) == 3
    assert arrivals[2].at - arrivals[0].at >= 1.0  # the third waited for the first's rest


def test_a_target_resting_longer_than_the_cap_is_not_called_the_gateway_answers_503(
    route, switchable, proxy_client
):
    first, second = switchable(), switchable()
    for server in (first, second):
        server.status, server.headers = 429, {"Retry-After": "30"}
    gateway = route(targets=targets_of(first, second), retry_attempts=1)
    assert call(proxy_client, gateway).status_code == 429  # both asked to rest
    response = call(proxy_client, gateway)
    assert response.status_code == 503
    assert 28 <= int(response["Retry-After"]) <= 30
    assert json.loads(response.content) == {"error": "upstream busy"}
    assert len(first.calls()) + len(second.calls()) == 2


@pytest.mark.parametrize(
    ("status", "value", "expected"),
    [
        (429, "2", 2.0),
        (503, "120", 120.0),
        (429, "100000", 600.0),  # capped
        (500, "2", None),
        (429, "soon", None),
        (429, "0", None),
        (429, "Wed, 21 Oct 2015 07:28:00 GMT", None),  # in the past
    ],
)
def test_retry_after_values(status, value, expected):
    assert retry_after(status, value) == expected


def test_retry_after_as_an_http_date():
    from email.utils import formatdate

    seconds = retry_after(503, formatdate(time.time() + 30, usegmt=True))
    assert seconds is not None
    assert 28 <= seconds <= 30


# --- retry budget and backoff ---


def test_the_retry_budget_keeps_a_failing_upstream_from_multiplying_the_load(
    route, switchable, proxy_client
):
    dead = switchable()
    dead.drop = True
    gateway = route(targets=targets_of(dead), retry_attempts=3)
    statuses = [call(proxy_client, gateway, method="post").status_code for _ in range(10)]
    assert set(statuses) == {502}
    # Without a budget: 10 requests x 4 attempts = 40. With it: 10 retries, then about a fifth.
    assert 20 <= len(dead.calls()) <= 24


def test_a_target_tried_again_is_backed_off_from(route, switchable, proxy_client, monkeypatch):
    monkeypatch.setattr(random, "uniform", lambda low, high: high)  # the jitter's longest pause
    dead = switchable()
    dead.drop = True
    gateway = route(targets=targets_of(dead), retry_attempts=2)
    assert call(proxy_client, gateway, method="post").status_code == 502
    first, second, third = (a.at for a in dead.calls())
    assert second - first >= BACKOFF_BASE
    assert third - second >= 2 * BACKOFF_BASE  # the cap doubles with each repeat


# --- least-latency ---


def test_least_latency_prefers_the_fast_target_and_follows_a_swap(route, switchable, proxy_client):
    fast, slow = switchable(), switchable()
    fast.delay, slow.delay = 0.005, 0.05
    gateway = route(targets=targets_of(fast, slow), algorithm="least-latency")
    ports = [answered_by(call(proxy_client, gateway)) for _ in range(50)]
    assert ports[10:].count(fast.port) >= 0.8 * 40
    fast.delay, slow.delay = 0.05, 0.005
    started = time.monotonic()
    recent: list[int] = []
    while recent[-20:].count(slow.port) < 16:
        assert time.monotonic() - started < 10, recent
        recent.append(answered_by(call(proxy_client, gateway)))


# --- sticky sessions ---


def test_a_session_named_by_a_header_stays_on_its_target(route, switchable, proxy_client):
    servers = [switchable(), switchable()]
    gateway = route(
        targets=targets_of(*servers),
        session_config={"enabled": True, "header_name": "X-Session", "ttl": 60},
    )
    for session in ("a", "b", "c"):
        ports = {answered_by(call(proxy_client, gateway, HTTP_X_SESSION=session)) for _ in "xyz"}
        assert len(ports) == 1
    unnamed = {answered_by(call(proxy_client, gateway)) for _ in range(4)}
    assert len(unnamed) == 2  # round-robin as before


def test_a_session_named_by_a_body_field_stays_on_its_target(route, switchable, proxy_client):
    servers = [switchable(), switchable()]
    gateway = route(
        targets=targets_of(*servers),
        session_config={"enabled": True, "body_param_name": "metadata.session"},
    )
    body = json.dumps({"metadata": {"session": 42}})
    ports = {
        answered_by(
            proxy_client.post(
                "/x", body, "application/json", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key
            )
        )
        for _ in range(4)
    }
    assert len(ports) == 1


def test_a_session_leaves_a_target_that_rests(route, switchable, proxy_client):
    servers = [switchable(), switchable()]
    gateway = route(
        targets=targets_of(*servers),
        retry_attempts=1,
        session_config={"enabled": True, "header_name": "X-Session"},
    )
    port = answered_by(call(proxy_client, gateway, HTTP_X_SESSION="s"))
    pinned, other = servers if servers[0].port == port else servers[::-1]
    pinned.status, pinned.headers = 429, {"Retry-After": "5"}
    assert answered_by(call(proxy_client, gateway, HTTP_X_SESSION="s")) == other.port
    assert answered_by(call(proxy_client, gateway, HTTP_X_SESSION="s")) == other.port
    assert len(pinned.calls()) == 2


# --- service retries ---


def test_service_retries_try_the_next_target(route, switchable, proxy_client):
    live = switchable()
    targets = [("127.0.0.1", free_port()), ("127.0.0.1", live.port)]
    gateway = route(targets=targets, algorithm="round-robin", service_extra={"retries": 1})
    assert {call(proxy_client, gateway).status_code for _ in range(4)} == {200}


# --- active health checks ---


def test_active_probes_take_a_failing_target_out_until_it_passes(route, switchable, proxy_client):
    sick, well = switchable(), switchable()
    checks = {"path": HEALTH_PATH, "headers": {"X-Probe": "1"}, "interval": 1, "threshold": 2}
    gateway = route(targets=targets_of(sick, well), health_checks={**checks, "passive": False})
    prober = Prober("test-node")
    assert prober.holds_lease()
    assert not Prober("test-node").holds_lease()  # one prober per node
    sick.health_status = 500
    prober.run_once()
    prober.due.clear()
    prober.run_once()  # the second failure in a row: out
    assert len(sick.probes()) == 2
    _wait_fresh()
    ports = {answered_by(call(proxy_client, gateway)) for _ in range(4)}
    assert ports == {well.port}
    assert not sick.calls()
    sick.health_status = 200
    prober.due.clear()
    prober.run_once()  # one passing probe: back in
    _wait_fresh()
    ports = {answered_by(call(proxy_client, gateway)) for _ in range(4)}
    assert ports == {well.port, sick.port}


def _wait_fresh() -> None:
    """Let this process's cached read of the health (CACHE_SECONDS) lapse."""
    from proxy import health

    deadline = time.monotonic() + health.CACHE_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.01)


# --- settings at the edge ---


@pytest.mark.parametrize(
    ("kind", "payload", "field"),
    [
        ("upstreams", {"health_checks": {"path": "health"}}, "health_checks.path"),
        ("upstreams", {"health_checks": {"headers": {"X-A": "1"}}}, "health_checks.headers"),
        (
            "upstreams",
            {"health_checks": {"path": "/h", "headers": {"a b": "1"}}},
            "health_checks.headers.a b",
        ),
        ("upstreams", {"algorithm": "fastest"}, "algorithm"),
        ("services", {"retries": 11}, "retries"),
        ("rules", {"session_config": {"enabled": True}}, "session_config.header_name"),
        (
            "rules",
            {"session_config": {"enabled": True, "header_name": "X", "ttl": 0}},
            "session_config.ttl",
        ),
        ("rules", {"session_config": {"mapping_field": "x"}}, "session_config.mapping_field"),
        (
            "rules",
            {"session_config": {"body_param_name": "a..b"}},
            "session_config.body_param_name",
        ),
    ],
)
def test_routing_settings_are_validated_naming_the_field(route, api, kind, payload, field):
    gateway = route()
    url = f"/api/v1/gateways/{gateway.id}/{kind}/{getattr(gateway, kind[:-1])['id']}"
    response = api.patch(url, payload, format="json")
    assert response.status_code == 400
    assert field_errors(response, field)


def test_a_partial_update_of_a_rule_stores_a_whole_session_config(route, api):
    gateway = route()
    url = f"/api/v1/gateways/{gateway.id}/rules/{gateway.rule['id']}"
    response = api.patch(url, {"session_config": {"header_name": "X-S"}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["session_config"] == {
        "enabled": False,
        "header_name": "X-S",
        "ttl": 3600,
    }


def test_routing_settings_are_stored_and_shown(route, api):
    gateway = route(
        algorithm="least-latency",
        health_checks={"path": "/health", "headers": {"X-Probe": "1"}, "interval": 5},
        service_extra={"retries": 2},
        session_config={"enabled": True, "header_name": "X-Session", "ttl": 600},
    )
    assert gateway.upstream["algorithm"] == "least-latency"
    assert gateway.upstream["health_checks"] == {
        "passive": True,
        "threshold": 3,
        "interval": 5,
        "path": "/health",
        "headers": {"X-Probe": "1"},
    }
    assert gateway.service["retries"] == 2
    assert gateway.rule["session_config"] == {
        "enabled": True,
        "header_name": "X-Session",
        "ttl": 600,
    }


def test_routing_settings_are_in_the_openapi_schema(anonymous_api, db):
    response = anonymous_api.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    components = response.json()["components"]["schemas"]
    health = components["HealthChecks"]["properties"]
    assert {"path", "headers", "interval", "threshold", "passive"} <= set(health)
    assert "retries" in components["Service"]["properties"]
    assert {"enabled", "header_name", "body_param_name", "ttl"} <= set(
        components["SessionConfig"]["properties"]
    )
    assert "least-latency" in json.dumps(components)


def test_the_django_admin_validates_a_rule_session_config(route, admin_client):
    from gateways.models import Rule

    gateway = route()
    rule = Rule.objects.get(pk=gateway.rule["id"])
    data = {
        "gateway": rule.gateway_id,
        "service": rule.service_id,
        "path": rule.path,
        "methods": json.dumps(rule.methods),
        "headers": "{}",
        "retry_attempts": "0",
        "session_config": json.dumps({"enabled": True}),
        "active": "on",
        "plugin_chain-TOTAL_FORMS": "0",
        "plugin_chain-INITIAL_FORMS": "0",
    }
    page = admin_client.post(f"/admin/gateways/rule/{rule.pk}/change/", data)
    assert b"A session needs header_name or body_param_name." in page.content
    data["session_config"] = json.dumps({"enabled": True, "header_name": "X-Session"})
    assert admin_client.post(f"/admin/gateways/rule/{rule.pk}/change/", data).status_code == 302
    rule.refresh_from_db()
    assert rule.session_config == {"enabled": True, "header_name": "X-Session", "ttl": 3600}
