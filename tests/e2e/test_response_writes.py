"""Answers written by the gateway's gunicorn worker: files, bodiless answers, errors."""

from __future__ import annotations

from pathlib import Path

import drf_spectacular_sidecar
import pytest
import requests

from tests.builders import routed_gateway

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
