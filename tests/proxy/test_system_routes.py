"""TrustGate's system routes on the proxy plane: /health and /__/health on every host before any
gateway is resolved; /__/ping and /__/mirror only with GATEWAY_ECHO_ROUTES (off by default)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest


@pytest.fixture
def echo_routes(settings):
    settings.GATEWAY = {**settings.GATEWAY, "ECHO_ROUTES": True}


@pytest.mark.parametrize("path", ["/health", "/__/health"])
@pytest.mark.parametrize("host", ["sys.localhost", "admin.example.org"])
def test_health_aliases_answer_before_the_gateway(route, upstream, proxy_client, path, host):
    route(subdomain="sys")  # a rule `/*` that would forward the path
    response = proxy_client.get(path, HTTP_HOST=host)
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert datetime.fromisoformat(body["time"]).tzinfo is not None  # RFC 3339
    assert upstream.seen == []


@pytest.mark.parametrize("path", ["/__/ping", "/__/mirror"])
def test_echo_routes_are_off_by_default(route, upstream, proxy_client, path):
    gateway = route(subdomain="sys")
    response = proxy_client.post(path, b"x", "text/plain", HTTP_HOST="sys.localhost")
    assert response.status_code == 401  # the gateway's: no API key
    response = proxy_client.post(
        path, b"x", "text/plain", HTTP_HOST="sys.localhost", HTTP_X_TG_API_KEY=gateway.key
    )
    assert json.loads(b"".join(response.streaming_content))["path"] == path  # forwarded
    assert proxy_client.get(path, HTTP_HOST="localhost").status_code == 404  # admin plane


def test_ping_answers_pong_with_the_query(echo_routes, proxy_client):
    plain = proxy_client.get("/__/ping", HTTP_HOST="any.localhost")
    assert (plain.status_code, json.loads(plain.content)) == (200, {"message": "pong"})
    posted = proxy_client.post("/__/ping?a=1&b=two", HTTP_HOST="127.0.0.1")
    assert json.loads(posted.content) == {"message": "pong", "query_params": {"a": "1", "b": "two"}}
    assert proxy_client.delete("/__/ping", HTTP_HOST="127.0.0.1").status_code == 405


def test_mirror_echoes_the_raw_body(echo_routes, proxy_client):
    raw = '{"credit_card": "4111 1111 1111 1111", "ü": 1}'
    response = proxy_client.post("/__/mirror", raw, "application/json", HTTP_HOST="m.localhost")
    assert (response.status_code, json.loads(response.content)) == (200, {"body": raw})
    assert proxy_client.get("/__/mirror", HTTP_HOST="m.localhost").status_code == 405
    big = b"x" * (1024 * 1024 + 1)
    too_big = proxy_client.post("/__/mirror", big, "text/plain", HTTP_HOST="m.localhost")
    assert too_big.status_code == 413
