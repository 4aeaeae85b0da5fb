"""Answers written by the gateway's gunicorn worker: files, bodiless answers, errors."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import drf_spectacular_sidecar
import pytest
import requests

from tests.builders import routed_gateway
from tests.raw_http import raw_exchange, request_head

pytestmark = pytest.mark.e2e

SWAGGER_CSS = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css"


def test_static_files_are_served_whole(gateway_server):
    path = Path(drf_spectacular_sidecar.__file__).parent / "static" / SWAGGER_CSS
    response = requests.get(f"{gateway_server.base_url}/static/{SWAGGER_CSS}", timeout=10)
    assert response.status_code == 200
    assert response.content == path.read_bytes()


def test_head_request_and_keep_alive_after_it(gateway_server, e2e_upstream):
    gateway = routed_gateway(
        gateway_server.post, subdomain="e2e-head", targets=[("127.0.0.1", e2e_upstream.port)]
    )
    session = requests.Session()
    head = gateway_server.proxy("e2e-head", "/x", method="HEAD", key=gateway.key, session=session)
    assert head.status_code == 200
    assert head.content == b""
    again = gateway_server.proxy("e2e-head", "/y", key=gateway.key, session=session)
    assert again.status_code == 200
    assert again.json()["path"] == "/y"


def test_unauthenticated_answer_is_complete(gateway_server):
    response = requests.get(f"{gateway_server.base_url}/api/v1/gateways", timeout=10)
    assert response.status_code == 401
    assert "error" in response.json()


def test_upstream_set_cookie_lines_arrive_byte_for_byte(gateway_server, e2e_upstream):
    cookies = [
        "sid=abc123; Path=/; Secure; HttpOnly; SameSite=None; Partitioned",
        "pref=dark mode; Path=/",
        "tok=x; Priority=High; Path=/",
    ]
    gateway = routed_gateway(
        gateway_server.post, subdomain="e2e-cookies", targets=[("127.0.0.1", e2e_upstream.port)]
    )
    query = urlencode([("cookie", cookie) for cookie in cookies])
    head = request_head(
        "GET", f"/set-cookies?{query}", "e2e-cookies.localhost", {"X-API-Key": gateway.key}
    )
    response = raw_exchange(gateway_server.port, head)
    assert response.status == 200
    lines = response.head.split(b"\r\n")
    assert [line for line in lines if line.lower().startswith(b"set-cookie:")] == [
        b"Set-Cookie: " + cookie.encode() for cookie in cookies
    ]
