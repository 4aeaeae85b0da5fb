"""CORS preflights through the proxy: answered by the cors plugin before the key check."""

from __future__ import annotations

import json

HOST = "api.localhost"
APP = "https://app.example.com"
CORS = [
    {
        "name": "cors",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"allowed_origins": [APP], "allowed_methods": ["GET", "POST"], "max_age": 600},
    }
]


def preflight(client, origin: str = APP, method: str = "POST", **headers: str):
    """An OPTIONS request as a browser sends it: Origin, the requested method, no API key."""
    return client.options(
        "/v1/chat",
        HTTP_HOST=HOST,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        **headers,
    )


def test_browser_preflight_is_answered_204_without_a_key(route, upstream, proxy_client):
    gateway = route(methods=("POST",), required_plugins=CORS)
    response = preflight(
        proxy_client, HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, authorization"
    )
    assert response.status_code == 204
    assert response.content == b""
    assert response["Access-Control-Allow-Origin"] == APP
    assert response["Access-Control-Allow-Methods"] == "GET, POST"
    assert response["Access-Control-Allow-Headers"] == "content-type, authorization"
    assert response["Access-Control-Max-Age"] == "600"
    assert "X-Request-ID" in response
    assert upstream.seen == []
    actual = proxy_client.post(
        "/v1/chat",
        b"{}",
        "application/json",
        HTTP_HOST=HOST,
        HTTP_ORIGIN=APP,
        HTTP_X_API_KEY=gateway.key,
    )
    assert actual.status_code == 200
    assert actual["Access-Control-Allow-Origin"] == APP


def test_preflight_from_a_disallowed_origin_gets_no_cors_allow_headers(
    route, upstream, proxy_client
):
    route(methods=("POST",), required_plugins=CORS)
    response = preflight(proxy_client, origin="https://evil.example")
    assert response.status_code == 403
    assert json.loads(response.content)["error"] == "CORS origin not allowed"
    assert not any(name.lower().startswith("access-control-") for name in response.headers)
    assert upstream.seen == []


def test_preflight_for_a_method_the_rule_lacks_is_not_answered_by_another_rule(route, proxy_client):
    route(methods=("POST",), required_plugins=CORS)
    response = preflight(proxy_client, method="DELETE")  # no rule for DELETE: a plain OPTIONS
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_options_that_is_not_a_preflight_still_needs_the_key(route, upstream, proxy_client):
    gateway = route(methods=("POST", "OPTIONS"), required_plugins=CORS)
    refused = proxy_client.options("/v1/chat", HTTP_HOST=HOST, HTTP_ORIGIN=APP)
    assert refused.status_code == 401
    assert json.loads(refused.content) == {"error": "API key required"}
    no_origin = proxy_client.options(
        "/v1/chat", HTTP_HOST=HOST, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert no_origin.status_code == 401
    assert upstream.seen == []
    keyed = proxy_client.options(
        "/v1/chat", HTTP_HOST=HOST, HTTP_ORIGIN=APP, HTTP_X_API_KEY=gateway.key
    )
    assert keyed.status_code == 400  # a preflight without the method it asks for (TrustGate)
    assert keyed["Access-Control-Allow-Origin"] == APP
    assert upstream.seen == []


def test_without_a_cors_plugin_a_preflight_is_routed_as_before(route, upstream, proxy_client):
    route(methods=("POST",))
    assert preflight(proxy_client).status_code == 405
    route(subdomain="opts", methods=("POST", "OPTIONS"))
    unkeyed = proxy_client.options(
        "/v1/chat",
        HTTP_HOST="opts.localhost",
        HTTP_ORIGIN=APP,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert unkeyed.status_code == 401
    assert upstream.seen == []
