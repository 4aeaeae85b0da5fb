"""schemathesis against the admin API's own OpenAPI schema, in process over WSGI: no answer
is a 5xx, and every answer (status, content type, body) is one the schema documents."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from gateway_project import env
from gateway_project.wsgi import application
from tests.builders import in_process_post, routed_gateway

# Generated cases per operation, on top of the coverage phase's deterministic ones: about
# 3,500 requests in all, ~75 s of CPU on one core (the suite's longest test).
EXAMPLES_PER_OPERATION = env.read("GATEWAY_FUZZ_EXAMPLES")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def existing(api, db):
    """A routed gateway whose ids replace generated ones, so writes reach real objects too."""
    built = routed_gateway(in_process_post(api), subdomain="fuzz", targets=[("127.0.0.1", 9)])
    key_id = api.get(f"/api/v1/gateways/{built.id}/keys").json()["results"][0]["id"]
    return {
        "gateway": built.id,
        "upstreams": built.upstream["id"],
        "services": built.service["id"],
        "rules": built.rule["id"],
        "keys": key_id,
    }


@pytest.fixture
def keep_test_transaction():
    """Requests over raw WSGI close the DB connection when they end (Django's test client
    prevents that the same way): the test's transaction must survive each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def aim_at_existing_objects(case, existing: dict[str, str]) -> None:
    """Nested paths use the existing gateway; reads and updates use its existing objects
    (deletes keep generated ids, so the objects stay for the whole run)."""
    parameters = case.path_parameters or {}
    path = case.operation.path
    if "gateway_id" in parameters and not (
        path == "/api/v1/gateways/{gateway_id}/" and case.method == "DELETE"
    ):
        parameters["gateway_id"] = existing["gateway"]
    if "object_id" in parameters and case.method != "DELETE":
        kind = path.split("/")[5]
        parameters["object_id"] = existing[kind]


schema = schemathesis.openapi.from_wsgi("/api/v1/schema", application)  # the app gunicorn runs


@schema.parametrize()
@seed(15)
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_admin_api_conforms_to_its_schema(case, api, admin_token, existing, keep_test_transaction):
    aim_at_existing_objects(case, existing)
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS)
