"""Replays of the admin-plane attacks of issue 15 (item 12 and the operator-facing items)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db


def nested(depth: int) -> str:
    return '{"name": ' + "[" * depth + "]" * depth + "}"


@pytest.fixture
def two_gateways(api, seed_gateway_payload):
    for subdomain in ("one", "two"):
        payload = {**seed_gateway_payload, "name": subdomain, "subdomain": subdomain}
        assert api.post("/api/v1/gateways", payload, format="json").status_code == 201


@pytest.mark.parametrize("limit", ["99999999999999999999999", str(2**63), "501"])
def test_a_huge_limit_is_clamped_to_the_max_page_size(api, two_gateways, limit):
    response = api.get(f"/api/v1/gateways?limit={limit}")
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 2


def test_a_huge_offset_is_an_empty_page(api, two_gateways):
    response = api.get("/api/v1/gateways?offset=99999999999999999999999")
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deeply_nested_json_is_a_400_naming_the_problem(api, depth):
    response = api.generic(
        "POST", "/api/v1/gateways", nested(depth), content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json() == {"error": "request body too deeply nested"}


def test_a_10_mb_admin_body_is_a_413_json(api):
    body = json.dumps({"name": "x" * (10 * 1024 * 1024), "subdomain": "big"})
    response = api.generic("POST", "/api/v1/gateways", body, content_type="application/json")
    assert response.status_code == 413, response.content
    assert response["Content-Type"] == "application/json"
    assert "too large" in response.json()["error"]


@pytest.mark.parametrize("path", ["/no-such-page", "/api/v1/no-such-page", "/static/x.css"])
def test_an_unknown_admin_path_is_a_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Not found."}


def test_a_host_outside_allowed_hosts_is_a_json_400(api):
    response = api.get("/api/v1/gateways", HTTP_HOST="attacker.example")
    assert response.status_code == 400
    assert response.json() == {"error": "bad request"}


def test_a_wrong_method_is_a_json_405(api):
    response = api.patch("/api/v1/plugins", {}, format="json")
    assert response.status_code == 405
    assert response.json() == {"error": 'Method "PATCH" not allowed.'}


def test_form_bodies_are_refused_with_415(api):
    response = api.post("/api/v1/gateways", {"name": "x", "subdomain": "x"}, format="multipart")
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["error"]


@pytest.fixture(scope="module")
def gunicorn_gateway(tmp_path_factory, django_db_blocker):
    """A real gunicorn gateway (one gevent worker) for errors gunicorn itself answers."""
    import os

    from tests.e2e.server import GatewayServer

    with django_db_blocker.unblock():
        server = GatewayServer(
            tmp_path_factory.mktemp("admin-attacks"), os.environ["TEST_REDIS_URL"], workers=1
        ).start()
    yield server
    server.stop()


def raw_exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the answer until the server closes: (status, headers, body)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (x.partition(":") for x in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "message"),
    [
        (
            b"GET /api/v1/gateways HTTP/1.1\r\nHost: localhost\r\nX-Big: "
            + b"a" * 9000
            + b"\r\n\r\n",
            431,
            "request header fields too large",
        ),
        (
            b"GET /api/v1/gateways HTTP/1.1\r\nHost: localhost\r\n"
            + b"".join(b"X-H%d: 1\r\n" % i for i in range(120))
            + b"\r\n",
            431,
            "request header fields too large",
        ),
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414, "uri too long"),
        (b"NOT A REQUEST\r\n\r\n", 400, "bad request"),
        (b"GET / HTTP/1.1\r\nHost: localhost\r\nBad Name: x\r\n\r\n", 400, "bad request"),
    ],
    ids=["header-too-large", "too-many-headers", "request-line-too-long", "garbage", "bad-name"],
)
def test_gunicorn_errors_are_json(gunicorn_gateway, request_bytes, status, message):
    got_status, headers, body = raw_exchange(gunicorn_gateway.port, request_bytes)
    assert (got_status, headers["content-type"]) == (status, "application/json")
    assert json.loads(body) == {"error": message}
    assert headers["content-length"] == str(len(body))


def test_a_10_mb_admin_body_through_gunicorn_is_a_413_json(gunicorn_gateway):
    body = json.dumps({"name": "x" * (10 * 1024 * 1024), "subdomain": "big"}).encode()
    response = gunicorn_gateway.admin.post(
        gunicorn_gateway.base_url + "/api/v1/gateways",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large"}


def test_deep_json_through_gunicorn_is_a_400(gunicorn_gateway):
    response = gunicorn_gateway.admin.post(
        gunicorn_gateway.base_url + "/api/v1/gateways",
        data=nested(5000),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json() == {"error": "request body too deeply nested"}
