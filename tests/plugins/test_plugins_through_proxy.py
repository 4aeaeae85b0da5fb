"""The traffic-control plugins on the real proxy path: status codes, headers, upstream untouched."""

from __future__ import annotations

import json

import pytest

from tests.builders import provider_target

HOST = "api.localhost"


def one(name: str, **settings) -> list[dict]:
    return [{"name": name, "stage": "pre_request", "priority": 1, "settings": settings}]


def test_cors_preflight_is_answered_without_calling_the_upstream(route, upstream, proxy_client):
    gateway = route(
        required_plugins=one(
            "cors",
            allowed_origins=["https://app.example.com"],
            allowed_methods=["GET", "POST"],
            max_age=600,
        )
    )
    preflight = proxy_client.options(
        "/x",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert upstream.seen == []
    simple = proxy_client.get(
        "/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key, HTTP_ORIGIN="https://app.example.com"
    )
    assert simple.status_code == 200
    assert simple["Access-Control-Allow-Origin"] == "https://app.example.com"
    evil = proxy_client.get(
        "/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key, HTTP_ORIGIN="https://evil.example"
    )
    assert evil.status_code == 403
    assert proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key).status_code == 200


def test_ip_whitelist_uses_the_socket_peer_not_headers(route, proxy_client):
    gateway = route(required_plugins=one("ip_whitelist", cidrs=["10.0.0.0/8"]))
    refused = proxy_client.get(
        "/x",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
        HTTP_X_REAL_IP="10.9.9.9",
        HTTP_X_FORWARDED_FOR="10.9.9.9",
    )
    assert refused.status_code == 403
    assert json.loads(refused.content)["error"] == "forbidden"
    allowed = route(
        subdomain="local", required_plugins=one("ip_whitelist", ips=["127.0.0.1", "::1"])
    )
    assert (
        proxy_client.get("/x", HTTP_HOST="local.localhost", HTTP_X_API_KEY=allowed.key).status_code
        == 200
    )


@pytest.mark.parametrize(("trusted", "status"), [(["127.0.0.0/8", "::1/128"], 200), ([], 403)])
def test_ip_whitelist_reads_x_real_ip_only_from_a_trusted_proxy(
    route, proxy_client, settings, trusted, status
):
    settings.GATEWAY = {**settings.GATEWAY, "TRUSTED_PROXIES": trusted}
    gateway = route(required_plugins=one("ip_whitelist", enabled=True, ips=["10.9.9.9"]))
    response = proxy_client.get(
        "/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key, HTTP_X_REAL_IP="10.9.9.9"
    )
    assert response.status_code == status


def test_request_size_limiter_refuses_large_bodies(route, upstream, proxy_client):
    gateway = route(
        required_plugins=one("request_size_limiter", allowed_payload_size=10, size_unit="bytes")
    )
    small = proxy_client.post(
        "/x", b"tiny", content_type="text/plain", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key
    )
    assert small.status_code == 200
    assert (small["X-Request-Size-Bytes"], small["X-Size-Limit-Bytes"]) == ("4", "10")
    large = proxy_client.post(
        "/x", b"x" * 11, content_type="text/plain", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key
    )
    assert large.status_code == 413
    assert json.loads(large.content)["error"] == "Request size limit exceeded. Received: 11 bytes"
    assert len(upstream.seen) == 1


def test_token_limiter_reserves_then_refuses(route, upstream, proxy_client):
    gateway = route(
        targets=[provider_target(upstream.port)],
        required_plugins=one("token_rate_limiter", limit=1000, window="1m"),
    )
    body = json.dumps(
        {"model": "m", "max_tokens": 600, "messages": [{"role": "user", "content": "hi"}]}
    )
    first = proxy_client.post(
        "/v1/chat/completions",
        body,
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
    )
    assert first.status_code == 200
    assert first["x-ratelimit-limit-tokens"] == "1000"
    second = proxy_client.post(
        "/v1/chat/completions",
        body,
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
    )
    assert second.status_code == 429
    assert "Retry-After" in second
