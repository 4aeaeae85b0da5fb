"""Gateway resolution, rule matching, API keys and config propagation on the proxy path."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from proxy.snapshot import snapshots

HOST = "api.localhost"


def error_of(response) -> str:
    return json.loads(response.content)["error"]


def test_unknown_and_inactive_gateways_are_404(route, api, proxy_client):
    gateway = route()
    assert error_of(proxy_client.get("/x", HTTP_HOST="nope.localhost")) == "Gateway not found"
    api.patch(f"/api/v1/gateways/{gateway.id}", {"status": "inactive"}, format="json")
    response = proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 404
    assert error_of(response) == "Gateway not found"


def test_admin_urls_are_not_reachable_through_a_gateway_host(route, proxy_client, admin_token):
    route(path="/exact")
    response = proxy_client.get(
        "/api/v1/gateways", HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Bearer {admin_token}"
    )
    assert response.status_code == 404
    assert error_of(response) == "no matching rule found"


def test_method_not_allowed_lists_allowed_methods(route, proxy_client):
    gateway = route(path="/items", methods=("GET", "POST"))
    response = proxy_client.delete("/items", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"


def test_most_specific_rule_wins(route, api, upstreams, proxy_client):
    other = upstreams.start()
    gateway = route(path="/users/*")
    base = f"/api/v1/gateways/{gateway.id}"
    upstream = api.post(
        f"{base}/upstreams",
        {"name": "me", "targets": [{"host": "127.0.0.1", "port": other.port}]},
        format="json",
    ).json()
    service = api.post(
        f"{base}/services",
        {"name": "me", "type": "upstream", "upstream_id": upstream["id"]},
        format="json",
    ).json()
    api.post(
        f"{base}/rules",
        {"path": "/users/me", "methods": ["GET"], "service_id": service["id"]},
        format="json",
    )
    assert (
        proxy_client.get("/users/me", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key).status_code == 200
    )
    assert other.seen[-1].path == "/users/me"
    proxy_client.get("/users/42", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert len(other.seen) == 1


def test_missing_and_wrong_keys_are_401(route, proxy_client):
    route()
    missing = proxy_client.get("/x", HTTP_HOST=HOST)
    assert (missing.status_code, error_of(missing)) == (401, "API key required")
    wrong = proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY="gk_wrong")
    assert (wrong.status_code, error_of(wrong)) == (401, "invalid API key")


def test_public_rules_need_no_key(route, upstream, proxy_client):
    route(public=True)
    assert proxy_client.get("/x", HTTP_HOST=HOST).status_code == 200


def test_key_of_another_gateway_is_refused(route, api, proxy_client):
    route()
    other = route(subdomain="other")
    assert proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=other.key).status_code == 401


def test_revoked_and_rotated_keys_stop_working(route, api, proxy_client):
    gateway = route()
    keys_url = f"/api/v1/gateways/{gateway.id}/keys"
    key_id = api.get(keys_url).json()["results"][0]["id"]
    assert proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key).status_code == 200
    new_key = api.post(f"{keys_url}/{key_id}/rotate").json()["key"]
    assert proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key).status_code == 401
    assert proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=new_key).status_code == 200
    api.delete(f"{keys_url}/{key_id}")
    assert proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=new_key).status_code == 401


def test_rule_changes_apply_at_once(route, api, proxy_client):
    gateway = route(path="/old")
    rule_url = f"/api/v1/gateways/{gateway.id}/rules/{gateway.rule['id']}"
    assert proxy_client.get("/old", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key).status_code == 200
    api.patch(rule_url, {"path": "/new"}, format="json")
    assert proxy_client.get("/old", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key).status_code == 404
    assert proxy_client.get("/new", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key).status_code == 200


def test_proxy_path_runs_no_query_on_a_warm_cache(route, proxy_client):
    gateway = route()
    snapshots.clear()
    proxy_client.get("/warm", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            response = proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
            assert response.status_code == 200
    assert len(queries) == 0


@pytest.mark.django_db
def test_no_query_with_django_assert_num_queries(route, proxy_client, django_assert_num_queries):
    gateway = route(subdomain="warm")
    snapshots.clear()  # the warm-up also does the periodic database check
    proxy_client.get("/warm", HTTP_HOST="warm.localhost", HTTP_X_API_KEY=gateway.key)
    with django_assert_num_queries(0):
        assert (
            proxy_client.get(
                "/x", HTTP_HOST="warm.localhost", HTTP_X_API_KEY=gateway.key
            ).status_code
            == 200
        )
