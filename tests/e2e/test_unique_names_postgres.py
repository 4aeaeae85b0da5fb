"""A duplicate service name that only the database sees (a concurrent create) on PostgreSQL."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.builders import created
from tests.e2e.server import GatewayServer
from tests.e2e.services import PostgresServer, require_services, wait_until

pytestmark = pytest.mark.e2e

SERVICE = {"name": "billing", "type": "endpoint", "host": "10.0.0.1", "port": 80}
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


def test_a_service_name_taken_by_a_concurrent_create_is_a_409(node):
    server, postgres = node
    gateway = created(server.post, "/api/v1/gateways", {"name": "g", "subdomain": "unique"})
    with postgres.connect() as concurrent, ThreadPoolExecutor(max_workers=1) as pool:
        # The concurrent create: inserted, not committed yet, so the API's check passes.
        concurrent.execute(
            "INSERT INTO gateways_service (id, gateway_id, name, type, description, tags,"
            " host, protocol, path, headers, credentials, created_at, updated_at)"
            " VALUES (%s, %s, 'billing', 'endpoint', '', '[]', 'h', 'http', '', '{}', '{}',"
            " now(), now())",
            [uuid.uuid4(), gateway["id"]],
        )
        answer = pool.submit(server.post, f"/api/v1/gateways/{gateway['id']}/services", SERVICE)
        with postgres.connect() as monitor:  # the API's insert waits for our transaction
            monitor.autocommit = True  # else pg_stat_activity is read once per transaction
            wait_until(
                lambda: monitor.execute(WAITING_ON_A_LOCK, [postgres.database]).fetchone()[0],
                timeout=10,
            )
        concurrent.commit()
        status, body = answer.result(timeout=10)
    assert status == 409, body
    assert body == {"error": "a service named 'billing' exists in this gateway"}
    status, body = server.post(f"/api/v1/gateways/{gateway['id']}/services", SERVICE)
    assert status == 400  # seen by the serializer's check: a 400 naming the field
    assert "name" in body["fields"]
