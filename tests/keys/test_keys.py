"""API keys: shown once, stored hashed, expiry and revocation; admin tokens and their command."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from keys.models import AdminToken, ApiKey
from keys.selectors import api_key_verify, verified_keys_of_gateway

pytestmark = pytest.mark.django_db


@pytest.fixture
def gateway(api):
    return api.post("/api/v1/gateways", {"name": "g", "subdomain": "g"}, format="json").json()


def keys_url(gateway) -> str:
    return f"/api/v1/gateways/{gateway['id']}/keys"


def test_key_is_shown_once_and_stored_hashed(api, gateway):
    created = api.post(
        keys_url(gateway), {"name": "test-key", "expires_at": "2099-12-31T23:59:59Z"}, format="json"
    )
    assert created.status_code == 201
    body = created.json()
    secret = body["key"]
    assert body["prefix"] == secret[:10]
    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(stored.__dict__)
    listed = api.get(keys_url(gateway)).json()["results"]
    fetched = api.get(f"{keys_url(gateway)}/{body['id']}").json()
    for shown in (listed[0], fetched):
        assert "key" not in shown
        assert shown["prefix"] == body["prefix"]


def test_key_without_expiry_never_expires(api, gateway):
    secret = api.post(keys_url(gateway), {"name": "forever"}, format="json").json()["key"]
    keys = verified_keys_of_gateway(gateway_id=gateway["id"])
    assert api_key_verify(keys=keys, presented=secret) is not None
    assert api_key_verify(keys=keys, presented=secret + "x") is None


def test_expired_key_no_longer_verifies(api, gateway):
    body = api.post(keys_url(gateway), {"name": "soon"}, format="json").json()
    ApiKey.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    keys = verified_keys_of_gateway(gateway_id=gateway["id"])
    assert api_key_verify(keys=keys, presented=body["key"]) is None
    assert api.get(f"{keys_url(gateway)}/{body['id']}").json()["active"] is False


def test_revoked_key_no_longer_verifies(api, gateway):
    body = api.post(keys_url(gateway), {"name": "k"}, format="json").json()
    assert api.delete(f"{keys_url(gateway)}/{body['id']}").status_code == 204
    assert (
        api_key_verify(
            keys=verified_keys_of_gateway(gateway_id=gateway["id"]), presented=body["key"]
        )
        is None
    )
    assert api.get(f"{keys_url(gateway)}/{body['id']}").status_code == 404


def test_rotation_replaces_the_secret(api, gateway):
    body = api.post(keys_url(gateway), {"name": "k"}, format="json").json()
    rotated = api.post(f"{keys_url(gateway)}/{body['id']}/rotate").json()
    assert rotated["id"] == body["id"]
    assert rotated["key"] != body["key"]
    keys = verified_keys_of_gateway(gateway_id=gateway["id"])
    assert api_key_verify(keys=keys, presented=body["key"]) is None
    assert api_key_verify(keys=keys, presented=rotated["key"]).id == body["id"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "k", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "k", "expires_at": "someday"}, "expires_at"),
    ],
)
def test_invalid_key_requests_are_400(api, gateway, payload, field):
    response = api.post(keys_url(gateway), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_keys_of_unknown_gateway_are_404(api):
    url = "/api/v1/gateways/4b1c1e59-32f4-4d0c-8a93-0e7d1c6d1e01/keys"
    assert api.post(url, {"name": "k"}, format="json").status_code == 404
    assert api.get(url).status_code == 404


def test_keys_need_admin_credentials(anonymous_api, api, gateway):
    assert anonymous_api.get(keys_url(gateway)).status_code == 401
    assert anonymous_api.post(keys_url(gateway), {"name": "k"}, format="json").status_code == 401


def test_create_admin_token_prints_only_the_token():
    out = StringIO()
    call_command("create_admin_token", "--username", "ops", stdout=out)
    token = out.getvalue().strip()
    assert token.startswith("gat_")
    assert "\n" not in token
    stored = AdminToken.objects.get(user__username="ops")
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.user.is_staff


def test_non_staff_token_is_forbidden(anonymous_api):
    out = StringIO()
    call_command("create_admin_token", "--username", "ops", stdout=out)
    AdminToken.objects.get().user.__class__.objects.filter(username="ops").update(is_staff=False)
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}")
    assert anonymous_api.get("/api/v1/gateways").status_code == 401
