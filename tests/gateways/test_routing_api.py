"""The routing model API nested under a gateway: upstreams, services and rules."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db.models.signals import pre_save

from gateways.models import Gateway, Rule, Service, Upstream
from keys.models import ApiKey
from plugins.models import PluginConfig

pytestmark = pytest.mark.django_db

MASK = "********"
UNKNOWN_ID = "4b1c1e59-32f4-4d0c-8a93-0e7d1c6d1e01"
HOST_TARGET = {"host": "10.0.0.1", "port": 8080}
PROVIDER_TARGET = {
    "provider": "openai",
    "credentials": {"api_key": "sk-provider-secret"},
    "models": ["gpt-4o", "gpt-4o-mini"],
    "default_model": "gpt-4o",
}
RATE_LIMITER = {
    "name": "rate_limiter",
    "stage": "pre_request",
    "settings": {"limits": {"per_ip": {"limit": 5, "window": "1m"}}},
}


def gateway_url(gateway: dict, kind: str, object_id: str | None = None) -> str:
    url = f"/api/v1/gateways/{gateway['id']}/{kind}"
    return f"{url}/{object_id}" if object_id else url


def created(api, url: str, payload: dict) -> dict:
    response = api.post(url, payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def field_errors(response, path: str) -> Any:
    """The errors of `response` at a dotted field path such as `targets.0.port`."""
    assert response.status_code == 400, response.json()
    errors = response.json()["fields"]
    for part in path.split("."):
        assert part in errors, (path, response.json())
        errors = errors[part]
    assert errors, (path, response.json())
    return errors


def make_gateway(api, subdomain: str = "routing") -> dict:
    return created(api, "/api/v1/gateways", {"name": subdomain, "subdomain": subdomain})


def make_upstream(api, gateway: dict, **extra: Any) -> dict:
    payload = {"name": "backend", "targets": [HOST_TARGET], **extra}
    return created(api, gateway_url(gateway, "upstreams"), payload)


def make_service(api, gateway: dict, **extra: Any) -> dict:
    payload = {"name": "svc", "type": "endpoint", "host": "10.0.0.2", "port": 9000, **extra}
    return created(api, gateway_url(gateway, "services"), payload)


def make_rule(api, gateway: dict, service: dict, **extra: Any) -> dict:
    payload = {"path": "/v1/*", "methods": ["GET"], "service_id": service["id"], **extra}
    return created(api, gateway_url(gateway, "rules"), payload)


def make_object(api, gateway: dict, kind: str, index: int = 0) -> dict:
    """An unreferenced object of `kind` (a rule comes with its own endpoint service)."""
    if kind == "upstreams":
        return make_upstream(api, gateway, name=f"backend-{index}")
    if kind == "services":
        return make_service(api, gateway, name=f"svc-{index}")
    service = make_service(api, gateway, name=f"for-rule-{index}")
    return make_rule(api, gateway, service, path=f"/r{index}/*")


@pytest.fixture
def gateway(api) -> dict:
    return make_gateway(api)


@pytest.fixture
def other_gateway(api) -> dict:
    return make_gateway(api, "other")


KINDS = ["upstreams", "services", "rules"]


# --- shapes, list, retrieve, delete, 404, 401 (all three kinds) ---


def test_create_upstream_returns_it_with_normalised_targets(api, gateway):
    upstream = make_upstream(
        api,
        gateway,
        algorithm="weighted-round-robin",
        targets=[{**HOST_TARGET, "weight": 3}, {"host": "b.internal", "protocol": "https"}],
        tags=["blue"],
    )
    assert set(upstream) == {
        "id",
        "gateway_id",
        "name",
        "algorithm",
        "targets",
        "health_checks",
        "websocket_config",
        "tags",
        "proxy_config",
        "client_tls",
        "created_at",
        "updated_at",
    }
    assert (upstream["proxy_config"], upstream["client_tls"]) == (None, None)  # none set
    assert upstream["gateway_id"] == gateway["id"]
    assert upstream["algorithm"] == "weighted-round-robin"
    assert upstream["targets"][0] == {
        "host": "10.0.0.1",
        "port": 8080,
        "protocol": "http",
        "path": "",
        "weight": 3,
        "priority": 0,
        "headers": {},
    }
    assert upstream["targets"][1]["port"] == 443  # the protocol's port when none is given
    assert upstream["health_checks"] == {"passive": True, "threshold": 3, "interval": 10}
    assert upstream["tags"] == ["blue"]
    assert Upstream.objects.get(pk=upstream["id"]).gateway_id == uuid.UUID(gateway["id"])


def test_create_endpoint_and_upstream_services(api, gateway):
    endpoint = make_service(api, gateway, protocol="https", path="/base", connect_timeout=2)
    assert set(endpoint) == {
        "id",
        "gateway_id",
        "name",
        "type",
        "description",
        "tags",
        "upstream_id",
        "host",
        "port",
        "protocol",
        "path",
        "headers",
        "credentials",
        "connect_timeout",
        "read_timeout",
        "retries",
        "created_at",
        "updated_at",
    }
    assert endpoint["type"] == "endpoint"
    assert (endpoint["host"], endpoint["port"], endpoint["protocol"]) == ("10.0.0.2", 9000, "https")
    assert endpoint["upstream_id"] is None
    assert endpoint["connect_timeout"] == 2.0

    upstream = make_upstream(api, gateway)
    service = make_service(
        api, gateway, name="pooled", type="upstream", host="", port=None, upstream_id=upstream["id"]
    )
    assert service["upstream_id"] == upstream["id"]
    assert Service.objects.get(pk=service["id"]).upstream_id == uuid.UUID(upstream["id"])


def test_create_rule_returns_it_with_upper_cased_methods(api, gateway):
    service = make_service(api, gateway)
    rule = make_rule(
        api,
        gateway,
        service,
        name="users",
        path="/users/{id}",
        methods=["get", "post", "GET"],
        plugin_chain=[RATE_LIMITER],
    )
    assert set(rule) == {
        "id",
        "gateway_id",
        "name",
        "path",
        "service_id",
        "methods",
        "headers",
        "strip_path",
        "preserve_host",
        "retry_attempts",
        "session_config",
        "plugin_chain",
        "active",
        "public",
        "allowed_models",
        "allowed_tools",
        "created_at",
        "updated_at",
    }
    assert rule["methods"] == ["GET", "POST"]
    assert rule["service_id"] == service["id"]
    assert (rule["active"], rule["public"], rule["retry_attempts"]) == (True, False, 0)
    assert [plugin["name"] for plugin in rule["plugin_chain"]] == ["rate_limiter"]
    assert PluginConfig.objects.get(rule_id=rule["id"]).settings == RATE_LIMITER["settings"]


@pytest.mark.parametrize("kind", KINDS)
def test_list_is_paginated_and_scoped_to_the_gateway(api, gateway, other_gateway, kind):
    mine = [make_object(api, gateway, kind, index)["id"] for index in range(3)]
    make_object(api, other_gateway, kind)

    page = api.get(gateway_url(gateway, kind), {"limit": 2})
    assert page.status_code == 200
    body = page.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert [item["id"] for item in body["results"]] == mine[:2]
    assert body["next"] is not None
    rest = api.get(gateway_url(gateway, kind), {"limit": 2, "offset": 2}).json()
    assert [item["id"] for item in rest["results"]] == mine[2:]


@pytest.mark.parametrize("kind", KINDS)
def test_retrieve_returns_what_create_returned(api, gateway, kind):
    obj = make_object(api, gateway, kind)
    response = api.get(gateway_url(gateway, kind, obj["id"]))
    assert response.status_code == 200
    assert response.json() == obj


@pytest.mark.parametrize("kind", KINDS)
def test_delete_is_a_204_and_the_object_is_gone(api, gateway, kind):
    obj = make_object(api, gateway, kind)
    response = api.delete(gateway_url(gateway, kind, obj["id"]))
    assert response.status_code == 204
    assert api.get(gateway_url(gateway, kind, obj["id"])).status_code == 404
    model = {"upstreams": Upstream, "services": Service, "rules": Rule}[kind]
    assert not model.objects.filter(pk=obj["id"]).exists()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_unknown_object_is_a_404(api, gateway, kind, method):
    for object_id in (UNKNOWN_ID, "not-a-uuid"):
        response = getattr(api, method)(gateway_url(gateway, kind, object_id), {}, format="json")
        assert response.status_code == 404
        assert response.json() == {"error": "Not found."}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("gateway_id", [UNKNOWN_ID, "not-a-uuid"])
def test_unknown_gateway_is_a_404(api, kind, gateway_id):
    url = gateway_url({"id": gateway_id}, kind)
    for response in (api.get(url), api.post(url, {"name": "x"}, format="json")):
        assert response.status_code == 404
        assert response.json() == {"error": "Not found."}


@pytest.mark.parametrize("kind", KINDS)
def test_an_object_of_another_gateway_is_a_404(api, gateway, other_gateway, kind):
    obj = make_object(api, other_gateway, kind)
    assert api.get(gateway_url(gateway, kind, obj["id"])).status_code == 404
    assert api.delete(gateway_url(gateway, kind, obj["id"])).status_code == 404
    assert api.get(gateway_url(other_gateway, kind, obj["id"])).status_code == 200


@pytest.mark.parametrize("kind", KINDS)
def test_credentials_are_required(api, anonymous_api, gateway, kind):
    obj = make_object(api, gateway, kind)
    for response in (
        anonymous_api.get(gateway_url(gateway, kind)),
        anonymous_api.post(gateway_url(gateway, kind), {"name": "x"}, format="json"),
        anonymous_api.get(gateway_url(gateway, kind, obj["id"])),
        anonymous_api.patch(gateway_url(gateway, kind, obj["id"]), {"name": "x"}, format="json"),
        anonymous_api.delete(gateway_url(gateway, kind, obj["id"])),
    ):
        assert response.status_code == 401
        assert response.json() == {"error": "Authentication credentials were not provided."}
    assert api.get(gateway_url(gateway, kind, obj["id"])).json() == obj


# --- PUT and PATCH ---


def test_upstream_put_and_patch_update(api, gateway):
    upstream = make_upstream(api, gateway, tags=["a"])
    url = gateway_url(gateway, "upstreams", upstream["id"])

    patched = api.patch(url, {"algorithm": "least-conn"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["algorithm"] == "least-conn"
    assert patched.json()["targets"] == upstream["targets"]
    assert patched.json()["tags"] == ["a"]

    put = api.put(
        url,
        {"name": "renamed", "targets": [{"host": "c.internal", "port": 81}]},
        format="json",
    )
    assert put.status_code == 200
    assert put.json()["name"] == "renamed"
    assert [(t["host"], t["port"]) for t in put.json()["targets"]] == [("c.internal", 81)]
    assert Upstream.objects.get(pk=upstream["id"]).targets[0]["host"] == "c.internal"

    # PUT is partial, as in TrustGate: the targets left out stay.
    renamed = api.put(url, {"name": "no-targets"}, format="json")
    assert renamed.status_code == 200, renamed.json()
    assert renamed.json()["targets"] == put.json()["targets"]
    field_errors(api.put(url, {"targets": []}, format="json"), "targets")


def test_service_put_replaces_and_patch_updates(api, gateway):
    service = make_service(api, gateway, description="first")
    url = gateway_url(gateway, "services", service["id"])

    patched = api.patch(url, {"port": 9001, "read_timeout": 30}, format="json")
    assert patched.status_code == 200
    assert (patched.json()["port"], patched.json()["read_timeout"]) == (9001, 30.0)
    assert patched.json()["host"] == "10.0.0.2"
    assert patched.json()["description"] == "first"

    put = api.put(
        url, {"name": "svc", "type": "endpoint", "host": "new.internal", "port": 80}, format="json"
    )
    assert put.status_code == 200
    assert (put.json()["host"], put.json()["port"]) == ("new.internal", 80)

    bad = api.patch(url, {"port": 70000}, format="json")
    assert field_errors(bad, "port")
    assert Service.objects.get(pk=service["id"]).port == 80


def test_service_put_can_switch_from_endpoint_to_upstream(api, gateway):
    service = make_service(api, gateway)
    upstream = make_upstream(api, gateway)
    url = gateway_url(gateway, "services", service["id"])

    put = api.put(
        url, {"name": "svc", "type": "upstream", "upstream_id": upstream["id"]}, format="json"
    )
    assert put.status_code == 200, put.json()
    assert put.json()["upstream_id"] == upstream["id"]
    assert (put.json()["host"], put.json()["port"]) == ("", None)
    stored = Service.objects.get(pk=service["id"])
    assert (stored.type, stored.host, stored.port) == ("upstream", "", None)

    back = api.put(url, {"name": "svc", "type": "endpoint", "host": "h", "port": 1}, format="json")
    assert back.status_code == 200, back.json()
    assert back.json()["upstream_id"] is None
    assert api.delete(gateway_url(gateway, "upstreams", upstream["id"])).status_code == 204


def test_service_patch_can_switch_type(api, gateway):
    service = make_service(api, gateway)
    upstream = make_upstream(api, gateway)
    url = gateway_url(gateway, "services", service["id"])

    with_host = api.patch(
        url, {"type": "upstream", "upstream_id": upstream["id"], "host": "h"}, format="json"
    )
    field_errors(with_host, "host")

    switched = api.patch(url, {"type": "upstream", "upstream_id": upstream["id"]}, format="json")
    assert switched.status_code == 200, switched.json()
    assert (switched.json()["type"], switched.json()["host"], switched.json()["port"]) == (
        "upstream",
        "",
        None,
    )

    no_address = api.patch(url, {"type": "endpoint"}, format="json")
    field_errors(no_address, "host")
    assert Service.objects.get(pk=service["id"]).upstream_id == uuid.UUID(upstream["id"])


def test_patch_validates_list_items_whole(api, gateway):
    """A PATCH replaces lists (targets, plugin chains) whole: their items get defaults and
    required-field checks as in a create."""
    upstream = make_upstream(api, gateway)
    url = gateway_url(gateway, "upstreams", upstream["id"])
    patched = api.patch(url, {"targets": [{"host": "h.internal"}]}, format="json")
    assert patched.status_code == 200, patched.json()
    assert Upstream.objects.get(pk=upstream["id"]).targets == [
        {
            "host": "h.internal",
            "port": 80,
            "protocol": "http",
            "path": "",
            "weight": 1,
            "priority": 0,
            "headers": {},
        }
    ]
    field_errors(api.patch(url, {"targets": [{"port": 80}]}, format="json"), "targets.0.host")

    gateway_api_url = f"/api/v1/gateways/{gateway['id']}"
    chain = [{"name": "rate_limiter", "stage": "pre_request", "settings": RATE_LIMITER["settings"]}]
    with_defaults = api.patch(gateway_api_url, {"required_plugins": chain}, format="json")
    assert with_defaults.status_code == 200, with_defaults.json()
    stored = PluginConfig.objects.get(gateway_id=gateway["id"])
    assert (stored.enabled, stored.priority, stored.parallel) == (True, 0, False)
    nameless = api.patch(
        gateway_api_url, {"required_plugins": [{"stage": "pre_request"}]}, format="json"
    )
    field_errors(nameless, "required_plugins.0.name")

    rule = make_rule(api, gateway, make_service(api, gateway))
    stageless = api.patch(
        gateway_url(gateway, "rules", rule["id"]),
        {"plugin_chain": [{"name": "rate_limiter", "settings": RATE_LIMITER["settings"]}]},
        format="json",
    )
    field_errors(stageless, "plugin_chain.0.stage")


def test_rule_put_replaces_and_patch_updates(api, gateway):
    service = make_service(api, gateway)
    rule = make_rule(api, gateway, service, plugin_chain=[RATE_LIMITER])
    url = gateway_url(gateway, "rules", rule["id"])

    patched = api.patch(url, {"methods": ["post"], "strip_path": True}, format="json")
    assert patched.status_code == 200
    assert patched.json()["methods"] == ["POST"]
    assert patched.json()["strip_path"] is True
    assert patched.json()["path"] == "/v1/*"
    assert len(patched.json()["plugin_chain"]) == 1

    put = api.put(
        url,
        {"path": "/v2/{id}", "methods": ["GET"], "service_id": service["id"], "plugin_chain": []},
        format="json",
    )
    assert put.status_code == 200
    assert (put.json()["path"], put.json()["methods"]) == ("/v2/{id}", ["GET"])
    assert put.json()["plugin_chain"] == []
    assert not PluginConfig.objects.filter(rule_id=rule["id"]).exists()


# --- validation: upstreams ---


def provider(**changes: Any) -> dict:
    target = {**PROVIDER_TARGET, **changes}
    return {key: value for key, value in target.items() if value is not None}


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"targets": [HOST_TARGET]}, "name"),
        ({"name": "u"}, "targets"),
        ({"name": "u", "targets": []}, "targets"),
        ({"name": "u", "targets": [{"port": 80}]}, "targets.0.host"),
        ({"name": "u", "targets": [{"host": "h", "port": 0}]}, "targets.0.port"),
        ({"name": "u", "targets": [{"host": "h", "port": 70000}]}, "targets.0.port"),
        ({"name": "u", "targets": [{"host": "h", "protocol": "ftp"}]}, "targets.0.protocol"),
        ({"name": "u", "targets": [HOST_TARGET, {"host": "h", "port": 0}]}, "targets.1.port"),
        ({"name": "u", "targets": [HOST_TARGET], "algorithm": "fastest"}, "algorithm"),
        ({"name": "u", "targets": [provider(host="h")]}, "targets.0.host"),
        ({"name": "u", "targets": [provider(credentials=None)]}, "targets.0.credentials"),
        ({"name": "u", "targets": [provider(credentials={})]}, "targets.0.credentials"),
        ({"name": "u", "targets": [provider(models=None)]}, "targets.0.models"),
        ({"name": "u", "targets": [provider(models=[])]}, "targets.0.models"),
        ({"name": "u", "targets": [provider(default_model="o1")]}, "targets.0.default_model"),
        ({"name": "u", "targets": [provider(provider="acme")]}, "targets.0.provider"),
        (
            {"name": "u", "targets": [HOST_TARGET], "health_checks": {"threshold": 0}},
            "health_checks.threshold",
        ),
        (
            {"name": "u", "targets": [HOST_TARGET], "health_checks": {"interval": -1}},
            "health_checks.interval",
        ),
    ],
)
def test_invalid_upstream_is_a_400_naming_the_field(api, gateway, payload, path):
    response = api.post(gateway_url(gateway, "upstreams"), payload, format="json")
    field_errors(response, path)
    assert response.json()["error"].startswith("invalid request: ")
    assert not Upstream.objects.exists()


def test_provider_target_is_accepted(api, gateway):
    upstream = make_upstream(api, gateway, targets=[PROVIDER_TARGET])
    target = upstream["targets"][0]
    assert (target["provider"], target["default_model"]) == ("openai", "gpt-4o")
    assert "host" not in target


# --- validation: services ---


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"type": "endpoint", "host": "h", "port": 80}, "name"),
        ({"name": "s", "host": "h", "port": 80}, "type"),
        ({"name": "s", "type": "cluster", "host": "h", "port": 80}, "type"),
        ({"name": "s", "type": "upstream"}, "upstream_id"),
        ({"name": "s", "type": "upstream", "upstream_id": UNKNOWN_ID}, "upstream_id"),
        ({"name": "s", "type": "upstream", "upstream_id": "nope"}, "upstream_id"),
        ({"name": "s", "type": "endpoint", "port": 80}, "host"),
        ({"name": "s", "type": "endpoint", "host": "h"}, "port"),
        ({"name": "s", "type": "endpoint", "host": "h", "port": 0}, "port"),
        ({"name": "s", "type": "endpoint", "host": "h", "port": 80, "protocol": "ftp"}, "protocol"),
        (
            {"name": "s", "type": "endpoint", "host": "h", "port": 80, "credentials": {"x": 1}},
            "credentials.x",
        ),
        (
            {
                "name": "s",
                "type": "endpoint",
                "host": "h",
                "port": 80,
                "credentials": {"header_name": "Authorization"},
            },
            "credentials.header_value",
        ),
    ],
)
def test_invalid_service_is_a_400_naming_the_field(api, gateway, payload, path):
    response = api.post(gateway_url(gateway, "services"), payload, format="json")
    field_errors(response, path)
    assert not Service.objects.exists()


def test_service_names_are_unique_per_gateway(api, gateway, other_gateway):
    make_service(api, gateway, name="same")
    duplicate = api.post(
        gateway_url(gateway, "services"),
        {"name": "same", "type": "endpoint", "host": "h", "port": 80},
        format="json",
    )
    assert "exists" in field_errors(duplicate, "name")[0]
    make_service(api, other_gateway, name="same")

    second = make_service(api, gateway, name="second")
    rename = api.patch(
        gateway_url(gateway, "services", second["id"]), {"name": "same"}, format="json"
    )
    field_errors(rename, "name")
    keep = api.patch(
        gateway_url(gateway, "services", second["id"]), {"name": "second"}, format="json"
    )
    assert keep.status_code == 200


def test_a_service_name_only_the_database_sees_taken_is_a_409(api, gateway):
    """The serializer's check passed; a concurrent create took the name before our insert."""

    def concurrent_create(sender, instance: Service, **kwargs) -> None:
        Service.objects.bulk_create([Service(gateway=instance.gateway, name=instance.name)])

    pre_save.connect(concurrent_create, sender=Service, dispatch_uid="concurrent-create")
    try:
        response = api.post(
            gateway_url(gateway, "services"),
            {"name": "same", "type": "endpoint", "host": "h", "port": 80},
            format="json",
        )
    finally:
        pre_save.disconnect(sender=Service, dispatch_uid="concurrent-create")
    assert response.status_code == 409, response.json()
    assert response.json() == {"error": "a service named 'same' exists in this gateway"}


def test_service_cannot_use_an_upstream_of_another_gateway(api, gateway, other_gateway):
    foreign = make_upstream(api, other_gateway)
    response = api.post(
        gateway_url(gateway, "services"),
        {"name": "s", "type": "upstream", "upstream_id": foreign["id"]},
        format="json",
    )
    assert field_errors(response, "upstream_id") == ["No such upstream in this gateway."]

    mine = make_service(api, gateway)
    moved = api.patch(
        gateway_url(gateway, "services", mine["id"]),
        {"type": "upstream", "upstream_id": foreign["id"], "host": "", "port": None},
        format="json",
    )
    field_errors(moved, "upstream_id")


def test_upstream_service_refuses_a_host(api, gateway):
    upstream = make_upstream(api, gateway)
    response = api.post(
        gateway_url(gateway, "services"),
        {"name": "s", "type": "upstream", "upstream_id": upstream["id"], "host": "h"},
        format="json",
    )
    field_errors(response, "host")


# --- validation: rules ---


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"path": None}, "path"),
        ({"methods": None}, "methods"),
        ({"methods": []}, "methods"),
        ({"service_id": None}, "service_id"),
        ({"service_id": UNKNOWN_ID}, "service_id"),
        ({"service_id": "nope"}, "service_id"),
        ({"methods": ["GET", "FETCH"]}, "methods"),
        ({"path": "v1/users"}, "path"),
        ({"path": ""}, "path"),
        ({"path": "/a/*/b"}, "path"),
        ({"path": "/a/{x}/{x}"}, "path"),
        ({"path": "/a//b"}, "path"),
        ({"path": "/a b"}, "path"),
        ({"retry_attempts": 11}, "retry_attempts"),
        ({"plugin_chain": [{**RATE_LIMITER, "name": "nope"}]}, "plugin_chain.0.name"),
        ({"plugin_chain": [{**RATE_LIMITER, "stage": "later"}]}, "plugin_chain.0.stage"),
        (
            {"plugin_chain": [{**RATE_LIMITER, "settings": {"limits": {}}}]},
            "plugin_chain.0.settings",
        ),
        ({"plugin_chain": [RATE_LIMITER, RATE_LIMITER]}, "plugin_chain.1.name"),
    ],
)
def test_invalid_rule_is_a_400_naming_the_field(api, gateway, changes, path):
    service = make_service(api, gateway)
    payload = {"path": "/v1/*", "methods": ["GET"], "service_id": service["id"], **changes}
    payload = {key: value for key, value in payload.items() if value is not None}
    response = api.post(gateway_url(gateway, "rules"), payload, format="json")
    field_errors(response, path)
    assert not Rule.objects.exists()


def test_unknown_plugin_in_a_chain_names_the_known_ones(api, gateway):
    service = make_service(api, gateway)
    response = api.post(
        gateway_url(gateway, "rules"),
        {
            "path": "/x",
            "methods": ["GET"],
            "service_id": service["id"],
            "plugin_chain": [{"name": "nope", "stage": "pre_request"}],
        },
        format="json",
    )
    message = field_errors(response, "plugin_chain.0.name")[0]
    assert "Unknown plugin 'nope'" in message
    assert "rate_limiter" in message
    assert not PluginConfig.objects.exists()


def test_rule_cannot_use_a_service_of_another_gateway(api, gateway, other_gateway):
    foreign = make_service(api, other_gateway)
    response = api.post(
        gateway_url(gateway, "rules"),
        {"path": "/x", "methods": ["GET"], "service_id": foreign["id"]},
        format="json",
    )
    assert field_errors(response, "service_id") == ["No such service in this gateway."]


def test_duplicate_active_route_is_refused(api, gateway):
    service = make_service(api, gateway)
    first = make_rule(api, gateway, service, path="/u/{id}", methods=["GET", "POST"])
    url = gateway_url(gateway, "rules")
    same = {"path": "/u/{key}", "methods": ["get"], "service_id": service["id"]}

    duplicate = api.post(url, same, format="json")
    assert first["id"] in field_errors(duplicate, "path")[0]

    other_method = make_rule(api, gateway, service, path="/u/{key}", methods=["DELETE"])
    other_service = make_service(api, gateway, name="other")
    make_rule(api, gateway, other_service, path="/u/{key}", methods=["GET"])
    inactive = make_rule(api, gateway, service, **{**same, "active": False})
    assert Rule.objects.count() == 4

    reactivate = api.patch(f"{url}/{inactive['id']}", {"active": True}, format="json")
    field_errors(reactivate, "path")
    widen = api.patch(f"{url}/{other_method['id']}", {"methods": ["GET"]}, format="json")
    field_errors(widen, "path")
    itself = api.patch(f"{url}/{first['id']}", {"path": "/u/{user}"}, format="json")
    assert itself.status_code == 200


# --- deletes ---


def test_deleting_an_upstream_in_use_is_a_conflict(api, gateway):
    upstream = make_upstream(api, gateway)
    service = make_service(
        api, gateway, type="upstream", host="", port=None, upstream_id=upstream["id"]
    )
    response = api.delete(gateway_url(gateway, "upstreams", upstream["id"]))
    assert response.status_code == 409
    assert response.json() == {"error": "upstream is used by 1 service(s)"}
    assert Upstream.objects.filter(pk=upstream["id"]).exists()

    assert api.delete(gateway_url(gateway, "services", service["id"])).status_code == 204
    assert api.delete(gateway_url(gateway, "upstreams", upstream["id"])).status_code == 204


def test_deleting_a_service_in_use_is_a_conflict(api, gateway):
    service = make_service(api, gateway)
    rule = make_rule(api, gateway, service)
    response = api.delete(gateway_url(gateway, "services", service["id"]))
    assert response.status_code == 409
    assert response.json() == {"error": "service is used by 1 rule(s)"}
    assert Service.objects.filter(pk=service["id"]).exists()

    assert api.delete(gateway_url(gateway, "rules", rule["id"])).status_code == 204
    assert api.delete(gateway_url(gateway, "services", service["id"])).status_code == 204


def test_deleting_a_rule_deletes_its_plugin_chain(api, gateway):
    rule = make_rule(api, gateway, make_service(api, gateway), plugin_chain=[RATE_LIMITER])
    assert api.delete(gateway_url(gateway, "rules", rule["id"])).status_code == 204
    assert not PluginConfig.objects.exists()


def test_deleting_the_gateway_cascades_everything(api, gateway, other_gateway):
    api.patch(
        f"/api/v1/gateways/{gateway['id']}", {"required_plugins": [RATE_LIMITER]}, format="json"
    )
    upstream = make_upstream(api, gateway)
    service = make_service(
        api, gateway, type="upstream", host="", port=None, upstream_id=upstream["id"]
    )
    make_rule(api, gateway, service, plugin_chain=[RATE_LIMITER])
    make_rule(api, gateway, make_service(api, gateway, name="direct"), path="/direct")
    created(api, gateway_url(gateway, "keys"), {"name": "k"})
    make_rule(api, other_gateway, make_service(api, other_gateway))
    assert PluginConfig.objects.count() == 2

    response = api.delete(f"/api/v1/gateways/{gateway['id']}")
    assert response.status_code == 204
    gateway_id = gateway["id"]
    assert not Gateway.objects.filter(pk=gateway_id).exists()
    for model in (Upstream, Service, Rule, ApiKey):
        assert not model.objects.filter(gateway_id=gateway_id).exists(), model
    assert not PluginConfig.objects.exists()
    assert Rule.objects.filter(gateway_id=other_gateway["id"]).count() == 1


# --- secrets ---


def test_service_credentials_are_masked(api, gateway):
    service = make_service(
        api,
        gateway,
        credentials={
            "header_name": "Authorization",
            "header_value": "Bearer sk-header-secret",
            "param_name": "key",
            "param_value": "param-secret",
            "api_key": "sk-api-secret",
        },
    )
    expected = {
        "header_name": "Authorization",
        "header_value": MASK,
        "param_name": "key",
        "param_value": MASK,
        "param_location": "query",
        "api_key": MASK,
    }
    assert service["credentials"] == expected
    url = gateway_url(gateway, "services", service["id"])
    assert api.get(url).json()["credentials"] == expected
    assert api.get(gateway_url(gateway, "services")).json()["results"][0]["credentials"] == expected
    assert api.patch(url, {"port": 9001}, format="json").json()["credentials"] == expected
    assert b"secret" not in api.get(url).content
    stored = Service.objects.get(pk=service["id"]).credentials
    assert stored["header_value"] == "Bearer sk-header-secret"
    assert stored["api_key"] == "sk-api-secret"


def test_target_credentials_are_masked(api, gateway):
    upstream = make_upstream(
        api,
        gateway,
        targets=[
            PROVIDER_TARGET,
            {**HOST_TARGET, "credentials": {"header_name": "X-Auth", "header_value": "secret"}},
        ],
    )
    assert upstream["targets"][0]["credentials"] == {"api_key": MASK}
    assert upstream["targets"][1]["credentials"] == {"header_name": "X-Auth", "header_value": MASK}
    for response in (
        api.get(gateway_url(gateway, "upstreams", upstream["id"])),
        api.get(gateway_url(gateway, "upstreams")),
    ):
        assert b"secret" not in response.content
    stored = Upstream.objects.get(pk=upstream["id"]).targets
    assert stored[0]["credentials"]["api_key"] == "sk-provider-secret"
    assert stored[1]["credentials"]["header_value"] == "secret"


def test_sending_back_the_mask_keeps_the_stored_secret(api, gateway):
    service = make_service(
        api, gateway, credentials={"header_name": "X-Auth", "header_value": "s3cret"}
    )
    upstream = make_upstream(api, gateway, targets=[PROVIDER_TARGET, HOST_TARGET])

    service_url = gateway_url(gateway, "services", service["id"])
    fetched = api.get(service_url).json()
    fields = {key: fetched[key] for key in ("name", "type", "host", "port", "credentials")}
    assert api.put(service_url, fields, format="json").status_code == 200
    assert Service.objects.get(pk=service["id"]).credentials["header_value"] == "s3cret"

    upstream_url = gateway_url(gateway, "upstreams", upstream["id"])
    fetched = api.get(upstream_url).json()
    put = api.put(upstream_url, {"name": "renamed", "targets": fetched["targets"]}, format="json")
    assert put.status_code == 200, put.json()
    stored = Upstream.objects.get(pk=upstream["id"]).targets
    assert stored[0]["credentials"]["api_key"] == "sk-provider-secret"
    reordered = api.patch(upstream_url, {"targets": fetched["targets"][::-1]}, format="json")
    assert reordered.status_code == 200, reordered.json()
    stored = Upstream.objects.get(pk=upstream["id"]).targets
    assert stored[1]["credentials"]["api_key"] == "sk-provider-secret"

    replaced = api.patch(
        service_url,
        {"credentials": {"header_name": "X-Auth", "header_value": "new"}},
        format="json",
    )
    assert replaced.status_code == 200
    assert Service.objects.get(pk=service["id"]).credentials["header_value"] == "new"


def test_the_mask_is_refused_where_no_secret_is_stored(api, gateway):
    response = api.post(
        gateway_url(gateway, "services"),
        {
            "name": "s",
            "type": "endpoint",
            "host": "h",
            "port": 80,
            "credentials": {"header_name": "X-Auth", "header_value": MASK},
        },
        format="json",
    )
    field_errors(response, "credentials.header_value")
    upstream = api.post(
        gateway_url(gateway, "upstreams"),
        {"name": "u", "targets": [{**PROVIDER_TARGET, "credentials": {"api_key": MASK}}]},
        format="json",
    )
    field_errors(upstream, "targets.0.credentials.api_key")
