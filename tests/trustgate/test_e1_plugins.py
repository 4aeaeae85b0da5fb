"""TrustGate E1 plugin scenarios replayed through the admin API and the proxy: cors, ip_whitelist
and request_size_limiter with the settings TrustGate clients send, X-Trace-ID on every answer."""

from __future__ import annotations

import json
import logging

import pytest

ALLOWED = "https://allowed.com"
CORS_GATEWAY_PLUGIN = {  # cors_test.go, as sent
    "name": "cors",
    "enabled": True,
    "stage": "pre_request",
    "priority": 1,
    "settings": {
        "allowed_origins": [ALLOWED],
        "allowed_methods": ["GET", "POST"],
        "allow_credentials": False,
        "max_age": "600s",
        "expose_headers": ["X-Test"],
        "log_violations": True,
    },
}


def cors_plugin(**settings: object) -> dict:
    return {**CORS_GATEWAY_PLUGIN, "settings": {**CORS_GATEWAY_PLUGIN["settings"], **settings}}


def call(client, subdomain: str, path: str, key: str, method: str = "GET", **headers: str):
    """A proxied call as TrustGate's functional tests make it: Host and X-TG-API-Key."""
    return client.generic(
        method, path, HTTP_HOST=f"{subdomain}.localhost", HTTP_X_TG_API_KEY=key, **headers
    )


def assert_traced(response) -> None:
    assert response["X-Trace-ID"] == response["X-Request-ID"]


@pytest.fixture
def cors_gateway(route):
    """cors_test.go's setup: the plugin on the gateway, rule /cors-test for GET, POST, OPTIONS."""

    def build(subdomain: str, plugin: dict):
        return route(
            subdomain=subdomain,
            path="/cors-test",
            methods=("GET", "POST", "OPTIONS"),
            strip_path=True,
            required_plugins=[plugin],
        )

    return build


@pytest.mark.parametrize(
    ("name", "method", "headers", "status", "allow_origin"),
    [
        ("valid origin simple request", "GET", {"HTTP_ORIGIN": ALLOWED}, 200, ALLOWED),
        ("invalid origin simple request", "GET", {"HTTP_ORIGIN": "https://evil.com"}, 403, None),
        (
            "valid preflight",
            "OPTIONS",
            {"HTTP_ORIGIN": ALLOWED, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"},
            204,
            ALLOWED,
        ),
        (
            "invalid preflight method",
            "OPTIONS",
            {"HTTP_ORIGIN": ALLOWED, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "DELETE"},
            405,
            None,
        ),
        ("missing Access-Control-Request-Method", "OPTIONS", {"HTTP_ORIGIN": ALLOWED}, 400, None),
        (
            "invalid preflight origin",
            "OPTIONS",
            {"HTTP_ORIGIN": "https://evil.com", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"},
            403,
            None,
        ),
    ],
)
def test_cors_scenarios(
    cors_gateway, upstream, proxy_client, name, method, headers, status, allow_origin
):
    gateway = cors_gateway("cors", CORS_GATEWAY_PLUGIN)
    response = call(proxy_client, "cors", "/cors-test", gateway.key, method, **headers)
    assert response.status_code == status, (name, response.content)
    if allow_origin:
        assert response["Access-Control-Allow-Origin"] == allow_origin
    if status >= 400:
        assert set(json.loads(response.content)) == {"error", "retry_after"}  # TrustGate's shape
    assert_traced(response)
    assert len(upstream.seen) == (1 if status == 200 else 0)


def test_cors_preflight_refusals_carry_trustgates_messages(cors_gateway, proxy_client):
    gateway = cors_gateway("cors", CORS_GATEWAY_PLUGIN)
    method = call(
        proxy_client,
        "cors",
        "/cors-test",
        gateway.key,
        "OPTIONS",
        HTTP_ORIGIN=ALLOWED,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="DELETE",
    )
    assert json.loads(method.content)["error"] == "CORS preflight: method not allowed"
    assert method["Allow"] == "GET, POST"
    missing = call(proxy_client, "cors", "/cors-test", gateway.key, "OPTIONS", HTTP_ORIGIN=ALLOWED)
    assert json.loads(missing.content)["error"] == (
        "CORS preflight missing Access-Control-Request-Method header"
    )


def test_cors_without_origin_is_403_only_when_origin_is_required(cors_gateway, proxy_client):
    """TrustGate refuses every call without Origin; ours does when `require_origin` is true
    (server-to-server callers pass by default: surprise 10 stays fixed)."""
    default = cors_gateway("cors", CORS_GATEWAY_PLUGIN)
    assert call(proxy_client, "cors", "/cors-test", default.key).status_code == 200
    strict = cors_gateway("strict", cors_plugin(require_origin=True))
    refused = call(proxy_client, "strict", "/cors-test", strict.key)
    assert refused.status_code == 403
    assert json.loads(refused.content)["error"] == "invalid origin"
    assert_traced(refused)


def test_cors_log_violations_logs_the_refused_origin(cors_gateway, proxy_client, caplog):
    gateway = cors_gateway("cors", CORS_GATEWAY_PLUGIN)
    with caplog.at_level(logging.WARNING, logger="plugins.builtin.cors"):
        call(proxy_client, "cors", "/cors-test", gateway.key, HTTP_ORIGIN="https://evil.com")
    [line] = [r.getMessage() for r in caplog.records if r.name == "plugins.builtin.cors"]
    assert "'https://evil.com'" in line
    assert gateway.key not in line


IP_WHITELIST = {  # ip_whitelist_test.go, as sent
    "name": "ip_whitelist",
    "enabled": True,
    "stage": "pre_request",
    "priority": 0,
    "settings": {"enabled": True, "ips": ["127.0.0.1"]},
}


@pytest.mark.parametrize(("real_ip", "status"), [("127.0.0.1", 200), ("10.9.9.9", 403)])
def test_ip_whitelist_scenario_behind_a_trusted_proxy(
    route, proxy_client, settings, real_ip, status
):
    settings.GATEWAY = {**settings.GATEWAY, "TRUSTED_PROXIES": ["127.0.0.1/32"]}
    gateway = route(
        subdomain="ipwl", path="/ipwl", methods=("GET",), required_plugins=[IP_WHITELIST]
    )
    response = call(proxy_client, "ipwl", "/ipwl", gateway.key, HTTP_X_REAL_IP=real_ip)
    assert response.status_code == status
    assert_traced(response)
    if status == 403:
        assert json.loads(response.content)["error"] == "forbidden"


def test_ip_whitelist_ignores_x_real_ip_from_an_untrusted_peer(route, proxy_client, settings):
    """Surprise 11 stays fixed: without trusted proxies the header cannot spoof the client."""
    settings.GATEWAY = {**settings.GATEWAY, "TRUSTED_PROXIES": []}
    only_other = {**IP_WHITELIST, "settings": {"enabled": True, "ips": ["10.9.9.9"]}}
    gateway = route(subdomain="ipwl", path="/ipwl", methods=("GET",), required_plugins=[only_other])
    response = call(proxy_client, "ipwl", "/ipwl", gateway.key, HTTP_X_REAL_IP="10.9.9.9")
    assert response.status_code == 403


def test_ip_whitelist_disabled_passes_through(route, proxy_client):
    disabled = {**IP_WHITELIST, "settings": {"enabled": False, "ips": ["10.9.9.9"]}}
    gateway = route(subdomain="ipwl", path="/ipwl", methods=("GET",), required_plugins=[disabled])
    assert call(proxy_client, "ipwl", "/ipwl", gateway.key).status_code == 200


SIZE_LIMITER = {
    "name": "request_size_limiter",
    "enabled": True,
    "stage": "pre_request",
    "priority": 1,
    "settings": {
        "allowed_payload_size": 10,
        "size_unit": "bytes",
        "max_chars_per_request": 8,
        "require_content_length": False,
    },
}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"tiny", 200, None),
        (b"x" * 11, 413, "Request size limit exceeded. Received: 11 bytes"),
        (b"123456789", 413, "Character limit exceeded. Received: 9 characters"),
    ],
)
def test_request_size_limiter_scenarios(route, proxy_client, body, status, error):
    gateway = route(subdomain="size", required_plugins=[SIZE_LIMITER])
    response = proxy_client.post(
        "/size",
        body,
        content_type="text/plain",
        HTTP_HOST="size.localhost",
        HTTP_X_TG_API_KEY=gateway.key,
    )
    assert response.status_code == status
    assert_traced(response)
    if error:
        assert json.loads(response.content) == {"error": error, "retry_after": None}
    else:
        assert response["X-Request-Size-Bytes"] == "4"
        assert response["X-Size-Limit-Bytes"] == "10"
        assert response["X-Request-Size-Chars"] == "4"
        assert response["X-Size-Limit-Chars"] == "8"
