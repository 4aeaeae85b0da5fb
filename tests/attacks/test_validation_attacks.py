"""Replays of issue 15 items 8-11: a careless operator's admin writes, refused at the edge.

Each replay sends what was accepted before (and then misbehaved or broke the route) and checks
the admin API answers 400 naming the field while the route keeps serving.
"""

from __future__ import annotations

import pytest

from plugins.models import PluginConfig

HOST = "api.localhost"
PER_IP = {"per_ip": {"limit": 5, "window": "1m"}}


def gateway_url(gateway, kind: str, object_id: str | None = None) -> str:
    url = f"/api/v1/gateways/{gateway.id}/{kind}"
    return f"{url}/{object_id}" if object_id else url


def assert_refused(response, *path: str) -> None:
    assert response.status_code == 400, response.json()
    errors = response.json()["fields"]
    for part in path:
        assert part in errors, (path, response.json())
        errors = errors[part]
    assert errors


def assert_route_serves(proxy_client, gateway) -> None:
    response = proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 200


def rate_limiter(settings: dict) -> list[dict]:
    return [{"name": "rate_limiter", "stage": "pre_request", "settings": settings}]


# --- item 8: settings are typed and stored normalised ---


def test_item8_textual_false_does_not_turn_fail_open_on(api, route, proxy_client):
    gateway = route()
    url = f"/api/v1/gateways/{gateway.id}"
    settings = {"limits": PER_IP, "fail_open": "false"}
    response = api.patch(url, {"required_plugins": rate_limiter(settings)}, format="json")
    assert_refused(response, "required_plugins", "0", "settings", "fail_open")
    assert not PluginConfig.objects.exists()
    assert_route_serves(proxy_client, gateway)


def test_item8_string_limit_is_stored_and_enforced_as_a_number(api, route, proxy_client):
    settings = {"limits": {"global": {"limit": "2", "window": "1m"}}}
    gateway = route(required_plugins=rate_limiter(settings))
    assert PluginConfig.objects.get().settings["limits"]["global"]["limit"] == 2
    statuses = [
        proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_item8_cors_methods_are_stored_upper_case(route):
    cors = {"allowed_origins": ["https://app.example.com"], "allowed_methods": ["get"]}
    route(required_plugins=[{"name": "cors", "stage": "pre_request", "settings": cors}])
    assert PluginConfig.objects.get().settings["allowed_methods"] == ["GET"]


# --- item 9: unknown keys, nested or top level ---


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        (
            {"limits": {"global": {"limit": 1, "window": "1m", "burst": 5}}},
            ("limits", "global", "burst"),
        ),
        ({"limits": PER_IP, "actions": {"retry_afterr": 30}}, ("actions", "retry_afterr")),
    ],
)
def test_item9_unknown_nested_settings_are_refused(api, route, proxy_client, settings, path):
    gateway = route()
    url = f"/api/v1/gateways/{gateway.id}"
    response = api.patch(url, {"required_plugins": rate_limiter(settings)}, format="json")
    assert_refused(response, "required_plugins", "0", "settings", *path)
    assert_route_serves(proxy_client, gateway)


def test_item9_unknown_top_level_fields_are_refused(api, route):
    gateway = route()
    response = api.patch(
        f"/api/v1/gateways/{gateway.id}", {"required_plugin": rate_limiter({})}, format="json"
    )
    assert_refused(response, "required_plugin")
    for kind, body, field in [
        ("upstreams", {"name": "u", "targets": [{"host": "h"}], "algoritm": "random"}, "algoritm"),
        ("services", {"name": "s", "type": "endpoint", "host": "h", "port": 1, "tag": []}, "tag"),
        ("keys", {"name": "k", "expire_at": None}, "expire_at"),
    ]:
        assert_refused(api.post(gateway_url(gateway, kind), body, format="json"), field)
    rule = gateway_url(gateway, "rules", gateway.rule["id"])
    assert_refused(api.patch(rule, {"strip": True}, format="json"), "strip")


# --- item 10: a service of type upstream takes nothing it would ignore ---


@pytest.mark.parametrize(
    "extra",
    [
        {"credentials": {"header_name": "X-Auth", "header_value": "secret"}},
        {"headers": {"X-Svc": "1"}},
        {"path": "/prefix"},
    ],
)
def test_item10_upstream_service_refuses_ignored_fields(api, route, extra):
    gateway = route()
    service = gateway_url(gateway, "services", gateway.service["id"])
    assert_refused(api.patch(service, extra, format="json"), *extra)


# --- item 11: header and host syntax checked when written ---


@pytest.mark.parametrize(
    ("kind", "change", "path"),
    [
        ("rules", {"headers": {"X-A": "a\r\nX-Injected: 1"}}, ("headers", "X-A")),
        ("rules", {"headers": {"Bad Name": "v"}}, ("headers", "Bad Name")),
        (
            "upstreams",
            {"targets": [{"host": "127.0.0.1", "headers": {"X-A": "a\nb"}}]},
            ("targets", "0", "headers", "X-A"),
        ),
        ("upstreams", {"targets": [{"host": "evil host", "port": 80}]}, ("targets", "0", "host")),
        ("upstreams", {"targets": [{"host": "h", "port": 70000}]}, ("targets", "0", "port")),
        (
            "upstreams",
            {
                "targets": [
                    {
                        "host": "127.0.0.1",
                        "credentials": {"header_name": "X-Auth:", "header_value": "v"},
                    }
                ]
            },
            ("targets", "0", "credentials", "header_name"),
        ),
    ],
)
def test_item11_broken_headers_and_hosts_never_reach_the_route(
    api, route, proxy_client, kind, change, path
):
    gateway = route()
    object_id = gateway.rule["id"] if kind == "rules" else gateway.upstream["id"]
    response = api.patch(gateway_url(gateway, kind, object_id), change, format="json")
    assert_refused(response, *path)
    assert_route_serves(proxy_client, gateway)
