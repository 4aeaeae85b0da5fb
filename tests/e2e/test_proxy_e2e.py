"""End to end through gunicorn with several workers and a real upstream server."""

from __future__ import annotations

import json
import time

import psutil
import pytest
import requests

from tests.builders import routed_gateway
from tests.upstream import SSE_EVENTS, SSE_INTERVAL

pytestmark = pytest.mark.e2e


def test_walkthrough_through_gunicorn(gateway_server, e2e_upstream):
    gateway = routed_gateway(
        gateway_server.post, subdomain="e2e-walk", targets=[("127.0.0.1", e2e_upstream.port)]
    )
    response = gateway_server.proxy(
        "e2e-walk",
        "/v1/echo?q=1",
        method="POST",
        key=gateway.key,
        data=b"ping",
        headers={"X-Trace": "t"},
    )
    assert response.status_code == 200
    assert response.json()["path"] == "/v1/echo"
    assert response.headers["X-Upstream"] == "echo"
    assert "X-Request-ID" in response.headers
    seen = e2e_upstream.seen[-1]
    assert (seen.method, seen.path, seen.query, seen.body) == ("POST", "/v1/echo", "q=1", b"ping")
    assert seen.headers["X-Trace"] == "t"
    assert "X-API-Key" not in seen.headers


def test_sse_streams_through_gunicorn(gateway_server, e2e_upstream):
    gateway = routed_gateway(
        gateway_server.post, subdomain="e2e-sse", targets=[("127.0.0.1", e2e_upstream.port)]
    )
    with gateway_server.proxy("e2e-sse", "/sse", key=gateway.key, stream=True) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith(b"data: "))
        first_received = time.time()
        events = [json.loads(first[6:])] + [
            json.loads(line[6:]) for line in lines if line.startswith(b"data: ")
        ]
    assert [e["index"] for e in events] == list(range(SSE_EVENTS))
    assert first_received < events[-1]["sent_at"] - (SSE_EVENTS - 3) * SSE_INTERVAL


def test_revoked_key_is_refused_by_every_worker_within_a_second(gateway_server, e2e_upstream):
    gateway = routed_gateway(
        gateway_server.post, subdomain="e2e-revoke", targets=[("127.0.0.1", e2e_upstream.port)]
    )
    session = requests.Session()
    for _ in range(12):  # warm every worker's snapshot
        assert (
            gateway_server.proxy("e2e-revoke", "/x", key=gateway.key, session=session).status_code
            == 200
        )
    keys_url = f"{gateway_server.base_url}/api/v1/gateways/{gateway.id}/keys"
    key_id = gateway_server.admin.get(keys_url).json()["results"][0]["id"]
    assert gateway_server.admin.delete(f"{keys_url}/{key_id}").status_code == 204
    revoked_at = time.monotonic()
    time.sleep(1.0)
    statuses = {
        gateway_server.proxy("e2e-revoke", "/x", key=gateway.key).status_code for _ in range(20)
    }
    assert statuses == {401}
    assert time.monotonic() - revoked_at < 2.0


def test_rule_change_is_honoured_by_every_worker_within_a_second(gateway_server, e2e_upstream):
    gateway = routed_gateway(
        gateway_server.post,
        subdomain="e2e-rule",
        path="/before",
        targets=[("127.0.0.1", e2e_upstream.port)],
    )
    for _ in range(12):
        assert gateway_server.proxy("e2e-rule", "/before", key=gateway.key).status_code == 200
    rule_url = f"{gateway_server.base_url}/api/v1/gateways/{gateway.id}/rules/{gateway.rule['id']}"
    assert gateway_server.admin.patch(rule_url, json={"path": "/after"}).status_code == 200
    time.sleep(1.0)
    assert {
        gateway_server.proxy("e2e-rule", "/after", key=gateway.key).status_code for _ in range(20)
    } == {200}
    assert {
        gateway_server.proxy("e2e-rule", "/before", key=gateway.key).status_code for _ in range(20)
    } == {404}


def database_files_open(server) -> list[str]:
    """The database files (SQLite's, WAL included) the server's workers hold open."""
    database = str(server.var_dir / "gateway.sqlite3")
    workers = psutil.Process(server.process.pid).children()
    return [
        opened.path
        for worker in workers
        for opened in worker.open_files()
        if opened.path.startswith(database)
    ]


def test_a_proxied_request_leaves_no_database_connection_open(gateway_server, e2e_upstream):
    """The first request to a new gateway reads its config from the database; no connection is
    left open once the answer is sent (CONN_MAX_AGE 0), while the client's connection, and the
    worker's greenlet that serves it, stay open (without request_finished: ProxyAnswer)."""
    gateway = routed_gateway(
        gateway_server.post, subdomain="e2e-dbclose", targets=[("127.0.0.1", e2e_upstream.port)]
    )
    with requests.Session() as session:  # kept alive: one worker, one greenlet
        response = gateway_server.proxy("e2e-dbclose", "/x", key=gateway.key, session=session)
        assert response.status_code == 200
        deadline = time.monotonic() + 5
        while (opened := database_files_open(gateway_server)) and time.monotonic() < deadline:
            time.sleep(0.05)  # the answer is closed just after its last bytes are sent
        assert opened == []
