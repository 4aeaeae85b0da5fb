"""Forwarding through the proxy in-process: what the upstream sees and what the client gets."""

from __future__ import annotations

import json
from urllib.parse import urlencode

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


@pytest.mark.parametrize(
    ("path", "key", "status"),
    [
        ("/x", True, 200),  # forwarded
        ("/x", False, 401),  # refused by the proxy
        ("/status/500", True, 500),  # the upstream's error
    ],
)
def test_every_answer_carries_the_request_id_as_x_trace_id(route, proxy_client, path, key, status):
    gateway = route()
    headers = {"HTTP_X_API_KEY": gateway.key} if key else {}
    response = proxy_client.get(path, HTTP_HOST=HOST, **headers)
    assert response.status_code == status
    assert response["X-Trace-ID"] == response["X-Request-ID"]
    assert len(response["X-Trace-ID"]) == 32


def test_plugin_rejections_carry_x_trace_id(route, proxy_client):
    whitelist = {"name": "ip_whitelist", "stage": "pre_request", "settings": {"ips": ["192.0.2.1"]}}
    gateway = route(required_plugins=[whitelist])
    response = proxy_client.get(
        "/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key, HTTP_X_REQUEST_ID="trace-1"
    )
    assert response.status_code == 403
    assert response["X-Trace-ID"] == "trace-1"


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


def set_cookie_lines(response) -> list[str]:
    """Set-Cookie lines as Django's WSGI handler writes them: headers, then `response.cookies`."""
    lines = [value for name, value in response.items() if name.lower() == "set-cookie"]
    return lines + [cookie.output(header="").strip() for cookie in response.cookies.values()]


def test_each_upstream_cookie_stays_its_own_header(route, proxy_client):
    gateway = route()
    response = proxy_client.get("/cookies", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert set_cookie_lines(response) == ["a=1; Path=/; HttpOnly", "b=2; Max-Age=60"]
    assert "Set-Cookie" not in response.headers


# Attributes and values SimpleCookie does not know: it dropped the first two, and read
# `Priority=High` as a cookie of its own.
TOKEN_LIMIT = {  # runs in post_response too
    "name": "token_rate_limiter",
    "stage": "pre_request",
    "priority": 1,
    "settings": {"limit": 1_000_000, "window": "1m"},
}
UNUSUAL_COOKIES = [
    "sid=abc123; Path=/; Secure; HttpOnly; SameSite=None; Partitioned",
    "pref=dark mode; Path=/",
    "tok=x; Priority=High; Path=/",
]


@pytest.mark.parametrize("streamed", [False, True])
def test_upstream_set_cookie_lines_pass_through_unchanged(route, proxy_client, streamed):
    plugins = [] if streamed else [TOKEN_LIMIT]  # a response-stage plugin makes the body buffered
    gateway = route(required_plugins=plugins)
    query = urlencode([("cookie", cookie) for cookie in UNUSUAL_COOKIES])
    response = proxy_client.get(f"/set-cookies?{query}", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 200
    assert response.streaming is streamed
    assert set_cookie_lines(response) == UNUSUAL_COOKIES
