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


def test_a_wrong_method_is_a_json_405(api):
    response = api.put("/api/v1/plugins", {}, format="json")
    assert response.status_code == 405
    assert response.json() == {"error": 'Method "PUT" not allowed.'}


def test_form_bodies_are_refused_with_415(api):
    response = api.post("/api/v1/gateways", {"name": "x", "subdomain": "x"})  # multipart
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["error"]
