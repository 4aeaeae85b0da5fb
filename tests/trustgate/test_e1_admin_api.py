"""TrustGate E1 admin-API scenarios replayed against the gateway: plugin management, partial
PUT, public keys, list shapes, the version, and TrustGate fields refused loudly."""

from __future__ import annotations

import pytest

from gateway_project import __version__
from gateway_project.serializers import NOT_SUPPORTED_MESSAGE
from tests.gateways.test_routing_api import (
    HOST_TARGET,
    field_errors,
    gateway_url,
    make_gateway,
    make_rule,
    make_service,
    make_upstream,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def gateway(api) -> dict:
    return make_gateway(api, "tg")


# --- partial PUT (update_gateway_test.go, update_rule_test.go) ---


def test_put_changes_only_the_fields_sent(api, gateway):
    url = f"/api/v1/gateways/{gateway['id']}"
    put = api.put(url, {"name": "renamed"}, format="json")
    assert put.status_code == 200, put.json()
    assert (put.json()["name"], put.json()["subdomain"]) == ("renamed", "tg")

    upstream = make_upstream(api, gateway, tags=["a"])
    service = make_service(api, gateway, description="first")
    rule = make_rule(api, gateway, service)
    for kind, body, change in (
        ("upstreams", upstream, {"algorithm": "least-conn"}),
        ("services", service, {"description": "second"}),
        ("rules", rule, {"strip_path": True}),
    ):
        response = api.put(gateway_url(gateway, kind, body["id"]), change, format="json")
        assert response.status_code == 200, (kind, response.json())
        assert {**body, **change, "updated_at": None} == {
            **response.json(),
            "updated_at": None,
        }


def test_put_still_validates_what_it_is_sent(api, gateway):
    url = f"/api/v1/gateways/{gateway['id']}"
    assert field_errors(api.put(url, {"subdomain": "Not A Label!"}, format="json"), "subdomain")


# --- GET /api/v1/version ---


def test_version_names_the_app_version(api):
    response = api.get("/api/v1/version")
    assert response.status_code == 200
    assert response.json() == {"version": __version__}


def test_version_needs_admin_credentials(anonymous_api):
    # Surprise 7: TrustGate served /version outside admin auth.
    assert anonymous_api.get("/api/v1/version").status_code == 401


# --- TrustGate fields not implemented: refused loudly, never dropped ---


@pytest.mark.parametrize(
    ("kind", "payload", "field"),
    [
        (None, {"name": "g", "subdomain": "g2", "telemetry": {"exporters": []}}, "telemetry"),
        (None, {"name": "g", "subdomain": "g2", "client_tls": {}}, "client_tls"),
        (None, {"name": "g", "subdomain": "g2", "security_config": {}}, "security_config"),
        (None, {"name": "g", "subdomain": "g2", "session_config": {}}, "session_config"),
        (
            "upstreams",
            {"name": "u", "targets": [HOST_TARGET], "websocket_config": {}},
            "websocket_config",
        ),
        ("upstreams", {"name": "u", "targets": [HOST_TARGET], "proxy_config": {}}, "proxy_config"),
        ("upstreams", {"name": "u", "targets": [{**HOST_TARGET, "auth": {}}]}, "targets.0.auth"),
        (
            "upstreams",
            {"name": "u", "targets": [{**HOST_TARGET, "insecure_ssl": True}]},
            "targets.0.insecure_ssl",
        ),
        (
            "upstreams",
            {"name": "u", "targets": [HOST_TARGET], "health_checks": {"path": "/health"}},
            "health_checks.path",
        ),
        (
            "services",
            {"name": "s", "type": "endpoint", "host": "h", "port": 1, "retries": 2},
            "retries",
        ),
        ("keys", {"name": "k", "subject_type": "gateway"}, "subject_type"),
        ("keys", {"name": "k", "policies": []}, "policies"),
    ],
)
def test_trustgate_fields_not_implemented_say_so(api, gateway, kind, payload, field):
    url = gateway_url(gateway, kind) if kind else "/api/v1/gateways"
    response = api.post(url, payload, format="json")
    assert field_errors(response, field) == [NOT_SUPPORTED_MESSAGE]


def test_trustgate_rule_fields_not_implemented_say_so(api, gateway):
    service = make_service(api, gateway)
    for field, value in (("trustlens", {}), ("type", "agent"), ("session_config", {})):
        payload = {"path": "/x", "methods": ["GET"], "service_id": service["id"], field: value}
        response = api.post(gateway_url(gateway, "rules"), payload, format="json")
        assert field_errors(response, field) == [NOT_SUPPORTED_MESSAGE]


def test_a_misspelt_field_is_still_an_unknown_field(api, gateway):
    payload = {"name": "u", "targets": [HOST_TARGET], "websocket_confg": {}}
    response = api.post(gateway_url(gateway, "upstreams"), payload, format="json")
    assert field_errors(response, "websocket_confg") == ["Unknown field."]
