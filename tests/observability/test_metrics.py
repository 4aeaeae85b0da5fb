"""Prometheus series move by exactly the traffic proxied; /metrics on the admin plane only."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.observability.conftest import finished, sample

HOST = "api.localhost"


def finished_call(method, *args, **kwargs):
    return finished(method(*args, **kwargs))


def test_requests_and_durations_count_exactly_what_was_proxied(route, proxy_client):
    gateway = route()
    rule = gateway.rule["id"]
    labels = {"gateway": "api", "rule": rule}
    before_ok = sample("gateway_requests_total", **labels, method="GET", status="200")
    before_post = sample("gateway_requests_total", **labels, method="POST", status="200")
    before_hist = sample("gateway_request_duration_seconds_count", **labels)
    for _ in range(7):
        assert (
            finished_call(
                proxy_client.get, "/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key
            ).status_code
            == 200
        )
    for _ in range(3):
        response = finished_call(
            proxy_client.post,
            "/x",
            b"ping",
            content_type="text/plain",
            HTTP_HOST=HOST,
            HTTP_X_API_KEY=gateway.key,
        )
        assert response.status_code == 200
    assert sample("gateway_requests_total", **labels, method="GET", status="200") - before_ok == 7
    assert (
        sample("gateway_requests_total", **labels, method="POST", status="200") - before_post == 3
    )
    assert sample("gateway_request_duration_seconds_count", **labels) - before_hist == 10
    upstream = gateway.upstream["id"]
    assert (
        sample(
            "gateway_upstream_duration_seconds_count",
            gateway="api",
            upstream=upstream,
            target="0",
        )
        >= 10
    )


def test_refusals_are_counted_with_their_status_and_unknown_hosts_get_no_label(route, proxy_client):
    gateway = route()
    labels = {"gateway": "api", "rule": gateway.rule["id"], "method": "GET"}
    before = sample("gateway_requests_total", **labels, status="401")
    assert (
        finished_call(proxy_client.get, "/x", HTTP_HOST=HOST, HTTP_X_API_KEY="wrong").status_code
        == 401
    )
    assert sample("gateway_requests_total", **labels, status="401") - before == 1
    assert finished_call(proxy_client.get, "/x", HTTP_HOST="nosuch.localhost").status_code == 404
    assert finished_call(proxy_client.get, "/metrics").status_code == 200
    scraped = finished_call(proxy_client.get, "/metrics").content.decode()
    assert 'gateway="nosuch"' not in scraped
    assert gateway.key not in scraped


def test_rate_limit_rejections_are_counted_by_scope_and_plugin_decision(route, proxy_client):
    limiter = {
        "name": "rate_limiter",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"limits": {"per_key": {"limit": 2, "window": "1m"}}},
    }
    gateway = route(subdomain="limited", required_plugins=[limiter])
    before = sample("gateway_rate_limit_rejections_total", gateway="limited", scope="per_key")
    rejected = sample(
        "gateway_plugin_decisions_total",
        gateway="limited",
        plugin="rate_limiter",
        decision="rejected",
    )
    allowed = sample(
        "gateway_plugin_decisions_total",
        gateway="limited",
        plugin="rate_limiter",
        decision="allowed",
    )
    statuses = [
        finished_call(
            proxy_client.get, "/x", HTTP_HOST="limited.localhost", HTTP_X_API_KEY=gateway.key
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 429, 429, 429]
    assert sample("gateway_rate_limit_rejections_total", gateway="limited", scope="per_key") == (
        before + 3
    )
    assert (
        sample(
            "gateway_plugin_decisions_total",
            gateway="limited",
            plugin="rate_limiter",
            decision="rejected",
        )
        == rejected + 3
    )
    assert (
        sample(
            "gateway_plugin_decisions_total",
            gateway="limited",
            plugin="rate_limiter",
            decision="allowed",
        )
        == allowed + 2
    )


def test_a_stream_is_counted_once_it_has_ended(route, proxy_client):
    gateway = route(subdomain="streams")
    labels = {"gateway": "streams", "rule": gateway.rule["id"], "method": "GET", "status": "200"}
    before = sample("gateway_requests_total", **labels)
    active = sample("gateway_active_streams")
    response = proxy_client.get("/sse", HTTP_HOST="streams.localhost", HTTP_X_API_KEY=gateway.key)
    assert response.streaming
    iterator = iter(response.streaming_content)
    assert next(iterator)
    assert sample("gateway_active_streams") == active + 1
    assert sample("gateway_requests_total", **labels) == before
    body = b"".join(iterator)
    assert body
    assert sample("gateway_active_streams") == active
    assert sample("gateway_requests_total", **labels) == before + 1


def test_metrics_are_served_on_the_admin_plane_never_on_a_gateway_host(route, upstream, client):
    gateway = route()
    assert finished(client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)).status_code == 200
    scrape = client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(scrape.content.decode())}
    for name in (
        "gateway_requests",
        "gateway_request_duration_seconds",
        "gateway_upstream_duration_seconds",
        "gateway_plugin_decisions",
        "gateway_active_streams",
        "gateway_config_reloads",
    ):
        assert name in families, name
    seen_before = len(upstream.seen)
    proxied = finished(client.get("/metrics", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key))
    assert len(upstream.seen) == seen_before + 1  # the gateway's own /metrics route
    assert b"gateway_requests_total" not in proxied.content_read


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong", 401),
        ("Basic s3cret-metrics", 401),
        ("Bearer s3cret-metrics", 200),
    ],
)
def test_a_metrics_token_protects_the_scrape(client, settings, authorization, status):
    settings.GATEWAY = {**settings.GATEWAY, "METRICS_TOKEN": "s3cret-metrics"}
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.get("/metrics", **headers)
    assert response.status_code == status
    if status == 401:
        assert response.json() == {"error": "metrics token required"}


def test_a_proxy_only_node_serves_metrics_on_other_hosts(client, settings):
    settings.GATEWAY = {**settings.GATEWAY, "ROLE": "proxy"}
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/v1/gateways").status_code == 404


def test_target_health_follows_passive_health(route, upstream, proxy_client):
    from tests.upstream import free_port

    dead = free_port()
    gateway = route(
        subdomain="health",
        targets=[("127.0.0.1", dead), ("127.0.0.1", upstream.port)],
        health_checks={"passive": True, "threshold": 1, "interval": 60},
        retry_attempts=1,
    )
    for _ in range(2):
        response = finished(
            proxy_client.get("/x", HTTP_HOST="health.localhost", HTTP_X_API_KEY=gateway.key)
        )
        assert response.status_code == 200
    upstream_id = gateway.upstream["id"]
    assert (
        sample(
            "gateway_upstream_target_healthy",
            upstream=upstream_id,
            target="0",
        )
        == 0
    )
    assert (
        sample(
            "gateway_upstream_target_healthy",
            upstream=upstream_id,
            target="1",
        )
        == 1
    )


def test_config_reloads_are_counted(route, api, proxy_client):
    gateway = route(subdomain="reloaded")
    before = sample("gateway_config_reloads_total")
    finished(proxy_client.get("/x", HTTP_HOST="reloaded.localhost", HTTP_X_API_KEY=gateway.key))
    built = sample("gateway_config_reloads_total")
    assert built == before + 1
    rule = f"/api/v1/gateways/{gateway.id}/rules/{gateway.rule['id']}"
    assert api.patch(rule, {"path": "/y"}, format="json").status_code == 200
    finished(proxy_client.get("/y", HTTP_HOST="reloaded.localhost", HTTP_X_API_KEY=gateway.key))
    assert sample("gateway_config_reloads_total") == built + 1
