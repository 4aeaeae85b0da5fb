"""Resilient routing's two late pieces in process: a gateway's own `session_config` (a rule's
wins), and Retry-After honoured on an upstream of one target (its rest kept in every process's
memory through the rest news, not read from Redis per request)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.builders import created, in_process_post
from tests.e2e.services import wait_until
from tests.gateways.test_routing_api import field_errors
from tests.proxy.test_resilient_routing import HOST, answered_by, call, switchable, targets_of

__all__ = ["switchable"]  # the fixture, shared with the resilient-routing tests

STICKY = {"enabled": True, "header_name": "X-Session", "ttl": 60}


# --- a gateway's session_config ---


def test_a_gateway_session_config_keeps_a_session_on_its_target(route, switchable, proxy_client):
    servers = [switchable(), switchable()]
    gateway = route(targets=targets_of(*servers), gateway_extra={"session_config": STICKY})
    assert gateway.gateway["session_config"] == STICKY
    for session in ("a", "b", "c"):
        ports = {answered_by(call(proxy_client, gateway, HTTP_X_SESSION=session)) for _ in "xyz"}
        assert len(ports) == 1
    unnamed = {answered_by(call(proxy_client, gateway)) for _ in range(4)}
    assert len(unnamed) == 2  # round-robin as before


def test_a_rule_session_config_wins_over_the_gateway_one(route, switchable, proxy_client):
    servers = [switchable(), switchable()]
    gateway = route(
        targets=targets_of(*servers),
        gateway_extra={"session_config": {"enabled": True, "header_name": "X-Gateway-Session"}},
        session_config=STICKY,
    )
    ports = {answered_by(call(proxy_client, gateway, HTTP_X_SESSION="s")) for _ in range(4)}
    assert len(ports) == 1
    by_gateway = {
        answered_by(call(proxy_client, gateway, HTTP_X_GATEWAY_SESSION="s")) for _ in range(4)
    }
    assert len(by_gateway) == 2  # the gateway's header names no session on this rule


def test_a_gateway_session_config_change_reaches_the_proxy(route, switchable, api, proxy_client):
    servers = [switchable(), switchable()]
    gateway = route(targets=targets_of(*servers))
    url = f"/api/v1/gateways/{gateway.id}"
    response = api.patch(url, {"session_config": STICKY}, format="json")
    assert response.status_code == 200, response.json()
    ports = {answered_by(call(proxy_client, gateway, HTTP_X_SESSION="s")) for _ in range(4)}
    assert len(ports) == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"enabled": True}, "session_config.header_name"),
        ({"enabled": True, "header_name": "X", "ttl": 0}, "session_config.ttl"),
        ({"mapping_field": "x"}, "session_config.mapping_field"),
        ({"body_param_name": "a..b"}, "session_config.body_param_name"),
        ("on", "session_config.non_field_errors"),
    ],
)
def test_a_gateway_session_config_is_validated_naming_the_field(route, api, payload, field):
    gateway = route()
    response = api.patch(f"/api/v1/gateways/{gateway.id}", {"session_config": payload}, "json")
    assert field_errors(response, field)


def test_a_partial_update_of_a_gateway_stores_a_whole_session_config(route, api):
    gateway = route()
    url = f"/api/v1/gateways/{gateway.id}"
    response = api.patch(url, {"session_config": {"header_name": "X-S"}}, format="json")
    assert response.status_code == 200, response.json()
    expected = {"enabled": False, "header_name": "X-S", "ttl": 3600}
    assert response.json()["session_config"] == expected
    assert api.get(url).json()["session_config"] == expected


def test_a_gateway_session_config_is_in_the_openapi_schema(anonymous_api, db):
    response = anonymous_api.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    components = response.json()["components"]["schemas"]
    assert components["Gateway"]["properties"]["session_config"] == {
        "$ref": "#/components/schemas/SessionConfig"
    }


def test_the_django_admin_validates_a_gateway_session_config(route, admin_client):
    from gateways.models import Gateway

    gateway = Gateway.objects.get(pk=route().id)
    data = {
        "name": gateway.name,
        "subdomain": gateway.subdomain,
        "status": gateway.status,
        "security_config": "{}",
        "telemetry": "{}",
        "allowed_models": "[]",
        "budget_duration": "",
        "session_config": json.dumps({"enabled": True}),
        "required_plugins-TOTAL_FORMS": "0",
        "required_plugins-INITIAL_FORMS": "0",
    }
    page = admin_client.post(f"/admin/gateways/gateway/{gateway.pk}/change/", data)
    assert b"A session needs header_name or body_param_name." in page.content
    data["session_config"] = json.dumps({"enabled": True, "header_name": "X-Session"})
    page = admin_client.post(f"/admin/gateways/gateway/{gateway.pk}/change/", data)
    assert page.status_code == 302, page.content
    gateway.refresh_from_db()
    assert gateway.session_config == {"enabled": True, "header_name": "X-Session", "ttl": 3600}


# --- Retry-After on an upstream of one target ---


@contextmanager
def commands_on(redis_conn, what: str) -> Iterator[list[str]]:
    """The commands Redis runs meanwhile (MONITOR) that name `what`, collected at the end up
    to a sentinel command."""
    seen: list[str] = []
    with redis_conn.monitor() as monitor:
        yield seen
        sentinel = f"sentinel:{uuid.uuid4().hex}"
        redis_conn.exists(sentinel)
        while sentinel not in (command := monitor.next_command()["command"]):
            if what in command:
                seen.append(command)


def scope_of(gateway) -> str:
    from gateways.models import Upstream
    from proxy.health import health_scope

    upstream = Upstream.objects.get(pk=gateway.upstream["id"])
    return health_scope(upstream.id, upstream.updated_at)


def listening() -> None:
    """Wait until this process hears the rest news (its listener subscribed)."""
    from proxy.health_news import News

    wait_until(lambda: News.subscriptions > 0, timeout=5, interval=0.01)


def test_a_single_target_resting_beyond_the_cap_is_not_called_without_redis_reads(
    route, switchable, proxy_client, redis_conn
):
    only = switchable()
    gateway = route(targets=targets_of(only))
    assert call(proxy_client, gateway).status_code == 200
    listening()
    tag = "lbh:" + gateway.upstream["id"]
    with commands_on(redis_conn, tag) as happy:
        assert {call(proxy_client, gateway).status_code for _ in range(5)} == {200}
    assert happy == []  # the happy path reads nothing from Redis
    only.status, only.headers = 429, {"Retry-After": "30"}
    assert call(proxy_client, gateway).status_code == 429  # its answer, as it is
    with commands_on(redis_conn, tag) as resting:
        for _ in range(5):
            response = call(proxy_client, gateway)
            assert response.status_code == 503
            assert 28 <= int(response["Retry-After"]) <= 30
            assert json.loads(response.content) == {"error": "upstream busy"}
    assert resting == []  # kept in memory
    assert len(only.calls()) == 1 + 5 + 1
    (key,) = redis_conn.keys("{" + tag + ":*}:wait:0")
    assert 28000 < redis_conn.pttl(key) <= 30000  # shared with every worker and node


def test_a_single_target_resting_under_the_cap_is_waited_for(route, switchable, proxy_client):
    only = switchable()
    only.status, only.headers = 503, {"Retry-After": "1"}
    gateway = route(targets=targets_of(only))
    assert call(proxy_client, gateway).status_code == 503
    only.status, only.headers = 200, {}
    assert call(proxy_client, gateway).status_code == 200
    first, second = (arrival.at for arrival in only.calls())
    assert second - first >= 0.99  # waited out its rest


def test_a_later_attempt_on_a_single_target_waits_out_its_retry_after(
    route, switchable, proxy_client
):
    only = switchable()
    only.status, only.headers = 429, {"Retry-After": "1"}
    gateway = route(targets=targets_of(only), retry_attempts=1)
    assert call(proxy_client, gateway).status_code == 429
    first, second = (arrival.at for arrival in only.calls())
    assert second - first >= 0.99


def test_a_rest_another_process_told_is_kept(route, switchable, proxy_client, redis_conn):
    from proxy.health import wait_key
    from proxy.health_news import CHANNEL, rest_news

    only = switchable()
    gateway = route(targets=targets_of(only))
    assert call(proxy_client, gateway).status_code == 200
    listening()
    scope, until = scope_of(gateway), time.time() + 30
    redis_conn.set(wait_key(scope, 0), f"{until:.3f}", px=30000)  # as its process does
    redis_conn.publish(CHANNEL, rest_news(scope, 0, until))
    wait_until(lambda: call(proxy_client, gateway).status_code == 503, timeout=5, interval=0)
    called = len(only.calls())
    assert {call(proxy_client, gateway).status_code for _ in range(3)} == {503}
    assert len(only.calls()) == called


def test_a_rest_told_before_the_process_routed_there_is_read_once(
    route, switchable, proxy_client, redis_conn
):
    from proxy.health import wait_key

    only = switchable()
    gateway = route(targets=targets_of(only))
    scope, until = scope_of(gateway), time.time() + 30
    redis_conn.set(wait_key(scope, 0), f"{until:.3f}", px=30000)
    assert call(proxy_client, gateway).status_code == 503
    assert not only.calls()


def test_an_endpoint_service_resting_is_not_called(transactional_db, api, switchable, proxy_client):
    only = switchable()
    post = in_process_post(api)
    base = (
        "/api/v1/gateways/"
        + created(post, "/api/v1/gateways", {"name": "e", "subdomain": "api"})["id"]
    )
    endpoint = {"name": "s", "type": "endpoint", "host": "127.0.0.1", "port": only.port}
    service = created(post, f"{base}/services", endpoint)
    created(post, f"{base}/rules", {"path": "/*", "methods": ["GET"], "service_id": service["id"]})
    key = created(post, f"{base}/keys", {"name": "k"})["key"]
    only.status, only.headers = 429, {"Retry-After": "30"}
    assert proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=key).status_code == 429
    response = proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=key)
    assert response.status_code == 503
    assert 28 <= int(response["Retry-After"]) <= 30
    assert len(only.calls()) == 1


@pytest.mark.usefixtures("redis_down")
def test_with_redis_down_a_single_target_rest_is_kept_by_its_process(
    route, switchable, proxy_client
):
    only = switchable()
    gateway = route(targets=targets_of(only))
    assert call(proxy_client, gateway).status_code == 200  # routed as if none rests
    only.status, only.headers = 429, {"Retry-After": "30"}
    assert call(proxy_client, gateway).status_code == 429
    assert call(proxy_client, gateway).status_code == 503  # not shared, but kept here
    assert len(only.calls()) == 2
