"""rate_limiter through the in-process proxy with a real Redis: windows, scopes, identities."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import SEED_RATE_LIMITER

HOST = "api.localhost"


def limiter(limits: dict, **settings) -> dict:
    return {
        "name": "rate_limiter",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"limits": limits, **settings},
    }


def call(client, gateway, **headers):
    return client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key, **headers)


def test_millisecond_window_slides(route, proxy_client):
    gateway = route(required_plugins=[limiter({"per_key": {"limit": 2, "window": "400ms"}})])
    assert [call(proxy_client, gateway).status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(0.45)
    assert call(proxy_client, gateway).status_code == 200


def test_real_retry_after_without_configured_value(route, proxy_client):
    gateway = route(required_plugins=[limiter({"global": {"limit": 1, "window": "1d"}})])
    assert call(proxy_client, gateway).status_code == 200
    rejected = call(proxy_client, gateway)
    assert rejected.status_code == 429
    assert 86390 <= int(rejected["Retry-After"]) <= 86400
    assert json.loads(rejected.content)["retry_after"] == int(rejected["Retry-After"])


def test_a_rejected_request_consumes_nothing(route, proxy_client):
    gateway = route(
        required_plugins=[
            limiter(
                {
                    "per_user": {"limit": 1, "window": "1m"},
                    "global": {"limit": 3, "window": "1m"},
                },
                user_header="X-User-ID",
            )
        ]
    )
    assert call(proxy_client, gateway, HTTP_X_USER_ID="alice").status_code == 200
    for _ in range(5):  # alice is over her limit: these must not eat the global budget
        assert call(proxy_client, gateway, HTTP_X_USER_ID="alice").status_code == 429
    assert call(proxy_client, gateway, HTTP_X_USER_ID="bob").status_code == 200
    assert call(proxy_client, gateway, HTTP_X_USER_ID="carol").status_code == 200
    assert call(proxy_client, gateway, HTTP_X_USER_ID="dave").status_code == 429


def test_per_user_falls_back_to_the_key(route, proxy_client):
    gateway = route(required_plugins=[limiter({"per_user": {"limit": 1, "window": "1m"}})])
    assert call(proxy_client, gateway).status_code == 200
    assert call(proxy_client, gateway).status_code == 429


def test_gateway_and_rule_instances_count_separately(route, proxy_client):
    gateway = route(
        required_plugins=[limiter({"global": {"limit": 3, "window": "1m"}})],
        plugin_chain=[limiter({"global": {"limit": 2, "window": "1m"}})],
    )
    statuses = [call(proxy_client, gateway).status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    assert call(proxy_client, gateway)["X-RateLimit-global-Remaining"] == "0"


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(route, proxy_client):
    gateway = route(required_plugins=[limiter({"per_ip": {"limit": 1, "window": "1m"}})])
    assert call(proxy_client, gateway, HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 200
    assert call(proxy_client, gateway, HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429


def test_forwarded_for_from_a_trusted_proxy_is_honoured(route, proxy_client, settings):
    settings.GATEWAY = {**settings.GATEWAY, "TRUSTED_PROXIES": ["127.0.0.0/8"]}
    gateway = route(required_plugins=[limiter({"per_ip": {"limit": 1, "window": "1m"}})])
    assert call(proxy_client, gateway, HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 200
    assert call(proxy_client, gateway, HTTP_X_FORWARDED_FOR="2.2.2.2, 127.0.0.5").status_code == 200
    assert call(proxy_client, gateway, HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 429


def test_block_action_blocks_for_retry_after(route, proxy_client):
    gateway = route(
        required_plugins=[
            limiter(
                {"per_key": {"limit": 1, "window": "300ms"}},
                actions={"type": "block", "retry_after": 1},
            )
        ]
    )
    assert call(proxy_client, gateway).status_code == 200
    assert call(proxy_client, gateway).status_code == 429
    time.sleep(0.4)  # the window has slid, but the block holds
    assert call(proxy_client, gateway).status_code == 429
    time.sleep(0.7)
    assert call(proxy_client, gateway).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"limits": {"global": {"limit": 0, "window": "1m"}}}, "limit"),
        ({"limits": {"global": {"limit": 5, "window": "1 minute"}}}, "window"),
        ({"limits": {"global": {"limit": 5, "window": "0s"}}}, "window"),
        ({"limits": {"per_planet": {"limit": 5, "window": "1m"}}}, "per_planet"),
        ({"limits": {}}, "limits"),
        (
            {"limits": {"global": {"limit": 5, "window": "1m"}}, "actions": {"type": "explode"}},
            "type",
        ),
        (
            {"limits": {"global": {"limit": 5, "window": "1m"}}, "actions": {"type": "block"}},
            "retry_after",
        ),
        ({"limits": {"global": {"limit": 5, "window": "1m"}}, "colour": "red"}, "colour"),
    ],
)
def test_invalid_settings_are_400_naming_the_field(api, settings, field):
    plugin = {**SEED_RATE_LIMITER, "settings": settings}
    response = api.post(
        "/api/v1/gateways",
        {"name": "g", "subdomain": "g", "required_plugins": [plugin]},
        format="json",
    )
    assert response.status_code == 400
    assert field in json.dumps(response.json()["fields"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("plugin", "field"),
    [
        ({**SEED_RATE_LIMITER, "name": "teleporter"}, "name"),
        ({**SEED_RATE_LIMITER, "stage": "post_response"}, "stage"),
        ({**SEED_RATE_LIMITER, "stage": "someday"}, "stage"),
        ({**SEED_RATE_LIMITER, "priority": -1}, "priority"),
    ],
)
def test_invalid_plugin_entries_are_400_naming_the_field(api, plugin, field):
    response = api.post(
        "/api/v1/gateways",
        {"name": "g", "subdomain": "g", "required_plugins": [plugin]},
        format="json",
    )
    assert response.status_code == 400
    assert field in response.json()["fields"]["required_plugins"]["0"]


@pytest.mark.django_db
@pytest.mark.parametrize("window", ["500ms", "30s", "1m", "1h", "1d", "1h30m"])
def test_windows_of_every_unit_are_accepted(api, window):
    plugin = {
        **SEED_RATE_LIMITER,
        "settings": {"limits": {"global": {"limit": 5, "window": window}}},
    }
    response = api.post(
        "/api/v1/gateways",
        {"name": "g", "subdomain": "g", "required_plugins": [plugin]},
        format="json",
    )
    assert response.status_code == 201
    assert (
        response.json()["required_plugins"][0]["settings"]["limits"]["global"]["window"] == window
    )
