"""Forwarding through the proxy in-process: what the upstream sees and what the client gets."""

from __future__ import annotations

import json

import pytest

HOST = "api.localhost"


def test_upstream_sees_method_path_query_body_and_headers(route, upstream, proxy_client):
    gateway = route()
    response = proxy_client.post(
        "/v1/things?x=1&y=two",
        data=b'{"hello": "world"}',
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
        HTTP_X_CUSTOM="kept",
        HTTP_CONNECTION="keep-alive, X-Drop-Me",
        HTTP_X_DROP_ME="hop",
    )
    assert response.status_code == 200
    assert response["X-Upstream"] == "echo"
    seen = upstream.seen[-1]
    assert (seen.method, seen.path, seen.query) == ("POST", "/v1/things", "x=1&y=two")
    assert seen.body == b'{"hello": "world"}'
    assert seen.headers["X-Custom"] == "kept"
    assert seen.headers["Content-Type"] == "application/json"
    assert "X-API-Key" not in seen.headers
    assert "X-Drop-Me" not in seen.headers
    assert seen.headers["X-Forwarded-For"] == "127.0.0.1"
    assert seen.headers["X-Forwarded-Host"] == HOST
    assert seen.headers["X-Forwarded-Proto"] == "http"
    assert seen.headers["Host"] == f"127.0.0.1:{upstream.port}"
    assert seen.headers["X-Request-Id"] == response["X-Request-ID"]
    body = b"".join(response.streaming_content)
    assert json.loads(body)["path"] == "/v1/things"
    assert float(response["X-Gateway-Latency-Ms"]) >= 0
    assert float(response["X-Upstream-Latency-Ms"]) > 0


def test_sent_request_id_is_kept(route, upstream, proxy_client):
    gateway = route()
    response = proxy_client.get(
        "/x", HTTP_HOST=HOST, HTTP_X_TG_API_KEY=gateway.key, HTTP_X_REQUEST_ID="abc-123"
    )
    assert response["X-Request-ID"] == "abc-123"
    assert upstream.seen[-1].headers["X-Request-Id"] == "abc-123"


def test_preserve_host_and_rule_headers(route, upstream, proxy_client):
    gateway = route(preserve_host=True, headers={"X-From-Rule": "yes"})
    proxy_client.get("/x", HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Bearer {gateway.key}")
    seen = upstream.seen[-1]
    assert seen.headers["Host"] == HOST
    assert seen.headers["X-From-Rule"] == "yes"
    assert "Authorization" not in seen.headers


def test_strip_path_and_path_params(route, upstream, proxy_client):
    gateway = route(
        path="/users/{user_id}/*", strip_path=True, upstream_extra={"path": "/accounts/{user_id}"}
    )
    proxy_client.get("/users/42/orders/7", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert upstream.seen[-1].path == "/accounts/42/orders/7"


def test_without_strip_path_the_full_path_follows_the_target_path(route, upstream, proxy_client):
    gateway = route(path="/api/*", upstream_extra={"path": "/base"})
    proxy_client.get("/api/items", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert upstream.seen[-1].path == "/base/api/items"


def test_upstream_errors_pass_through_unchanged(route, proxy_client):
    gateway = route()
    response = proxy_client.get("/status/503", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 503
    assert json.loads(b"".join(response.streaming_content)) == {"status": "as asked"}


def test_target_credentials_are_injected(route, upstream, proxy_client):
    gateway = route(
        upstream_extra={"credentials": {"header_name": "X-Secret", "header_value": "s3"}}
    )
    proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert upstream.seen[-1].headers["X-Secret"] == "s3"


def test_query_credentials_are_appended(route, upstream, proxy_client):
    gateway = route(upstream_extra={"credentials": {"param_name": "token", "param_value": "t1"}})
    proxy_client.get("/x?a=1", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert upstream.seen[-1].query == "a=1&token=t1"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_methods_are_forwarded(route, upstream, proxy_client, method):
    gateway = route()
    response = proxy_client.generic(
        method, "/thing", b"payload", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key
    )
    assert response.status_code == 200
    assert (upstream.seen[-1].method, upstream.seen[-1].body) == (method, b"payload")


def test_each_upstream_cookie_stays_its_own_header(route, proxy_client):
    gateway = route()
    response = proxy_client.get("/cookies", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert response.cookies["a"].value == "1"
    assert response.cookies["a"]["httponly"] is True
    assert response.cookies["b"]["max-age"] == "60"
    assert "Set-Cookie" not in response.headers
