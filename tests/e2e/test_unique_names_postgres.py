"""Duplicates only the database sees (a concurrent create, not yet committed when the API's
checks run) on PostgreSQL: refused, never a 500 nor a second copy."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from tests.builders import created
from tests.e2e.server import GatewayServer
from tests.e2e.services import PostgresServer, require_services, wait_until

pytestmark = pytest.mark.e2e

SERVICE = {"name": "billing", "type": "endpoint", "host": "10.0.0.1", "port": 80}
INSERT_SERVICE = (
    "INSERT INTO gateways_service (id, gateway_id, name, type, description, tags, host,"
    " protocol, path, headers, credentials, retries, created_at, updated_at) VALUES (%s, %s,"
    " %s, 'endpoint', '', '[]', 'h', 'http', '', '{}', '{}', 0, now(), now())"
)
INSERT_RULE = (
    "INSERT INTO gateways_rule (id, gateway_id, service_id, name, path, methods, headers,"
    " strip_path, preserve_host, retry_attempts, active, public, session_config,"
    " allowed_models, created_at, updated_at) VALUES (%s, %s, %s, '', %s, %s, '{}', false,"
    " false, 0, true, false, '{}', '[]', now(), now())"
)
WAITING_ON_A_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'"
)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    require_services()
    postgres = PostgresServer(max_connections=20).start()
    server = GatewayServer(
        tmp_path_factory.mktemp("unique"), None, workers=1, database_url=postgres.url
    )
    try:
        yield server.start(), postgres
    finally:
        if server.process:
            server.stop()
        postgres.stop()


def post_racing(
    node: tuple[GatewayServer, PostgresServer],
    concurrent: psycopg.Connection,
    path: str,
    payload: dict,
) -> tuple[int, Any]:
    """POST while `concurrent` holds its uncommitted write; commit it once the API waits."""
    server, postgres = node
    with ThreadPoolExecutor(max_workers=1) as pool, postgres.connect() as monitor:
        monitor.autocommit = True  # else pg_stat_activity is read once per transaction
        answer = pool.submit(server.post, path, payload)
        wait_until(
            lambda: monitor.execute(WAITING_ON_A_LOCK, [postgres.database]).fetchone()[0],
            timeout=10,
        )
        concurrent.commit()
        return answer.result(timeout=10)


def test_a_service_name_taken_by_a_concurrent_create_is_a_409(node):
    server, postgres = node
    gateway = created(server.post, "/api/v1/gateways", {"name": "g", "subdomain": "names"})
    services = f"/api/v1/gateways/{gateway['id']}/services"
    with postgres.connect() as concurrent:
        concurrent.execute(INSERT_SERVICE, [uuid.uuid4(), gateway["id"], SERVICE["name"]])
        status, body = post_racing(node, concurrent, services, SERVICE)
    assert status == 409, body
    assert body == {"error": "a service named 'billing' exists in this gateway"}
    status, body = server.post(services, SERVICE)
    assert status == 400  # seen by the serializer's check: a 400 naming the field
    assert "name" in body["fields"]


def test_a_route_taken_by_a_concurrent_create_is_refused(node):
    server, postgres = node
    gateway = created(server.post, "/api/v1/gateways", {"name": "g", "subdomain": "routes"})
    service = created(server.post, f"/api/v1/gateways/{gateway['id']}/services", SERVICE)
    rule = {"path": "/v1/chat", "service_id": service["id"], "methods": ["GET"]}
    with postgres.connect() as concurrent:  # a rule write of this gateway, as the API does
        concurrent.execute(
            "SELECT 1 FROM gateways_gateway WHERE id = %s FOR UPDATE", [gateway["id"]]
        )
        concurrent.execute(
            INSERT_RULE, [uuid.uuid4(), gateway["id"], service["id"], "/v1/chat", '["GET"]']
        )
        status, body = post_racing(
            node, concurrent, f"/api/v1/gateways/{gateway['id']}/rules", rule
        )
    assert status == 400, body
    assert "already routes GET /v1/chat" in body["fields"]["path"][0]
