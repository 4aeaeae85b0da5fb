"""The gateway admin API: the seed walkthrough and its 400/401/404/409 cases."""

from __future__ import annotations

import pytest

from gateways.models import Gateway
from plugins.models import PluginConfig

pytestmark = pytest.mark.django_db


def test_seed_walkthrough_create_get_list(api, seed_gateway_payload):
    created = api.post("/api/v1/gateways", seed_gateway_payload, format="json")
    assert created.status_code == 201, created.json()
    gateway = created.json()
    assert gateway["subdomain"] == "api"
    assert gateway["status"] == "active"
    assert gateway["required_plugins"][0]["name"] == "rate_limiter"
    assert gateway["required_plugins"][0]["settings"]["limits"]["per_ip"] == {
        "limit": 5,
        "window": "1m",
    }

    fetched = api.get(f"/api/v1/gateways/{gateway['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == gateway

    listed = api.get("/api/v1/gateways")
    assert listed.status_code == 200
    assert listed.json()["count"] == 1
    assert listed.json()["results"][0]["id"] == gateway["id"]

    key = api.post(
        f"/api/v1/gateways/{gateway['id']}/keys",
        {"name": "test-key", "expires_at": "2099-12-31T23:59:59Z"},
        format="json",
    )
    assert key.status_code == 201
    assert key.json()["key"].startswith("gk_")


def test_admin_api_needs_credentials(anonymous_api, db):
    response = anonymous_api.get("/api/v1/gateways")
    assert response.status_code == 401
    assert response.json() == {"error": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == "Bearer"


def test_admin_api_refuses_a_wrong_token(anonymous_api, admin_token):
    anonymous_api.credentials(HTTP_AUTHORIZATION="Bearer gat_not-a-token")
    response = anonymous_api.get("/api/v1/gateways")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid token"}


def test_duplicate_subdomain_is_a_conflict(api, seed_gateway_payload):
    assert api.post("/api/v1/gateways", seed_gateway_payload, format="json").status_code == 201
    again = api.post("/api/v1/gateways", {**seed_gateway_payload, "name": "other"}, format="json")
    assert again.status_code == 409
    assert "already taken" in again.json()["error"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"subdomain": "api"}, "name"),
        ({"name": "x"}, "subdomain"),
        ({"name": "x", "subdomain": "not a label"}, "subdomain"),
        ({"name": "x", "subdomain": "-api"}, "subdomain"),
        ({"name": "x", "subdomain": "api", "status": "paused"}, "status"),
    ],
)
def test_invalid_gateway_is_a_400_naming_the_field(api, payload, field):
    response = api.post("/api/v1/gateways", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_subdomain_is_lower_cased(api):
    response = api.post("/api/v1/gateways", {"name": "x", "subdomain": "MyApi"}, format="json")
    assert response.status_code == 201
    assert response.json()["subdomain"] == "myapi"


def test_unparseable_json_is_a_400(api):
    response = api.post("/api/v1/gateways", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid JSON payload"}


def test_unknown_gateway_is_a_404(api):
    for url in ("/api/v1/gateways/4b1c1e59-32f4-4d0c-8a93-0e7d1c6d1e01", "/api/v1/gateways/nope"):
        response = api.get(url)
        assert response.status_code == 404
        assert response.json() == {"error": "Not found."}


def test_put_replaces_and_patch_updates(api, seed_gateway_payload):
    gateway = api.post("/api/v1/gateways", seed_gateway_payload, format="json").json()
    url = f"/api/v1/gateways/{gateway['id']}"
    patched = api.patch(url, {"status": "inactive"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["status"] == "inactive"
    assert len(patched.json()["required_plugins"]) == 1

    put = api.put(
        url, {"name": "renamed", "subdomain": "api2", "required_plugins": []}, format="json"
    )
    assert put.status_code == 200
    assert put.json()["name"] == "renamed"
    assert put.json()["required_plugins"] == []
    assert not PluginConfig.objects.filter(gateway_id=gateway["id"]).exists()


def test_update_to_a_taken_subdomain_is_a_conflict(api):
    api.post("/api/v1/gateways", {"name": "a", "subdomain": "a"}, format="json")
    b = api.post("/api/v1/gateways", {"name": "b", "subdomain": "b"}, format="json").json()
    response = api.patch(f"/api/v1/gateways/{b['id']}", {"subdomain": "a"}, format="json")
    assert response.status_code == 409


def test_delete_cascades(api, seed_gateway_payload):
    gateway = api.post("/api/v1/gateways", seed_gateway_payload, format="json").json()
    api.post(f"/api/v1/gateways/{gateway['id']}/keys", {"name": "k"}, format="json")
    response = api.delete(f"/api/v1/gateways/{gateway['id']}")
    assert response.status_code == 204
    assert not Gateway.objects.exists()
    assert not PluginConfig.objects.exists()
    assert api.get(f"/api/v1/gateways/{gateway['id']}").status_code == 404


def test_list_is_paginated_with_limit_and_offset(api):
    for index in range(3):
        api.post("/api/v1/gateways", {"name": f"g{index}", "subdomain": f"g{index}"}, format="json")
    page = api.get("/api/v1/gateways?limit=2&offset=1").json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert page["previous"] is not None


def test_openapi_schema_is_served(api):
    response = api.get("/api/v1/schema")
    assert response.status_code == 200
    assert b"/api/v1/gateways" in response.content


def test_browsable_docs_are_served_without_a_cdn(admin_client):
    response = admin_client.get("/api/v1/docs")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    assert b"cdn.jsdelivr" not in response.content
