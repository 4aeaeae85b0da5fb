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
        (None, {"name": "g", "subdomain": "g2", "client_tls": {}}, "client_tls"),
        (
            "upstreams",
            {"name": "u", "targets": [{**HOST_TARGET, "insecure_ssl": True}]},
            "targets.0.insecure_ssl",
        ),
        ("keys", {"name": "k", "subject_type": "gateway"}, "subject_type"),
        ("keys", {"name": "k", "subject": "00000000-0000-0000-0000-000000000000"}, "subject"),
    ],
)
def test_trustgate_fields_not_implemented_say_so(api, gateway, kind, payload, field):
    url = gateway_url(gateway, kind) if kind else "/api/v1/gateways"
    response = api.post(url, payload, format="json")
    assert field_errors(response, field) == [NOT_SUPPORTED_MESSAGE]


def test_trustgate_rule_fields_not_implemented_say_so(api, gateway):
    service = make_service(api, gateway)
    for field, value in (("trustlens", {}), ("type", "agent")):
        payload = {"path": "/x", "methods": ["GET"], "service_id": service["id"], field: value}
        response = api.post(gateway_url(gateway, "rules"), payload, format="json")
        assert field_errors(response, field) == [NOT_SUPPORTED_MESSAGE]


def test_a_misspelt_field_is_still_an_unknown_field(api, gateway):
    payload = {"name": "u", "targets": [HOST_TARGET], "websocket_confg": {}}
    response = api.post(gateway_url(gateway, "upstreams"), payload, format="json")
    assert field_errors(response, "websocket_confg") == ["Unknown field."]


# --- POST/PUT/DELETE /api/v1/plugins (add_plugins_test.go, delete_plugins_test.go) ---

PLUGINS_URL = "/api/v1/plugins"
BLOCK_LOCALHOST = {
    "name": "ip_blacklist",
    "stage": "pre_request",
    "settings": {"ips": ["127.0.0.1"]},
}
SIZE_LIMIT = {
    "name": "request_size_limiter",
    "stage": "pre_request",
    "settings": {"allowed_payload_size": 1, "size_unit": "megabytes"},
}


def proxied(proxy_client, gateway, subdomain: str) -> int:
    host = f"{subdomain}.localhost"
    return proxy_client.get("/x", HTTP_HOST=host, HTTP_X_TG_API_KEY=gateway.key).status_code


def add_plugins(api, owner: dict, plugins: list[dict]) -> None:
    response = api.post(PLUGINS_URL, {**owner, "plugins": plugins}, format="json")
    assert response.status_code == 204, response.content


def plugins_of(api, kind: str, owner: dict, gateway_id: str) -> list[dict]:
    if kind == "gateway":
        return api.get(f"/api/v1/gateways/{gateway_id}").json()["required_plugins"]
    return api.get(f"/api/v1/gateways/{gateway_id}/rules/{owner['id']}").json()["plugin_chain"]


@pytest.mark.parametrize("kind", ["gateway", "rule"])
def test_plugins_added_and_removed_take_effect_on_the_proxy(route, api, proxy_client, kind):
    gateway = route(subdomain=f"plug-{kind}")
    owner_id = gateway.id if kind == "gateway" else gateway.rule["id"]
    assert proxied(proxy_client, gateway, f"plug-{kind}") == 200

    added = api.post(
        PLUGINS_URL, {"type": kind, "id": owner_id, "plugins": [BLOCK_LOCALHOST]}, format="json"
    )
    assert added.status_code == 204, added.content
    assert added.content == b""
    assert proxied(proxy_client, gateway, f"plug-{kind}") == 403

    removed = api.delete(
        PLUGINS_URL, {"type": kind, "id": owner_id, "plugins": ["ip_blacklist"]}, format="json"
    )
    assert removed.status_code == 204, removed.content
    assert proxied(proxy_client, gateway, f"plug-{kind}") == 200


def test_adding_appends_and_keeps_the_plugins_already_there(api, gateway):
    body = {"type": "gateway", "id": gateway["id"], "plugins": [SIZE_LIMIT]}
    assert api.post(PLUGINS_URL, body, format="json").status_code == 204
    first = plugins_of(api, "gateway", gateway, gateway["id"])
    body["plugins"] = [BLOCK_LOCALHOST]
    assert api.post(PLUGINS_URL, body, format="json").status_code == 204
    chain = plugins_of(api, "gateway", gateway, gateway["id"])
    assert [plugin["name"] for plugin in chain] == ["request_size_limiter", "ip_blacklist"]
    assert chain[0]["id"] == first[0]["id"]  # untouched plugins keep their id (and buckets)


def test_the_same_plugin_at_the_same_stage_is_refused(api, gateway):
    body = {"type": "gateway", "id": gateway["id"], "plugins": [SIZE_LIMIT]}
    assert api.post(PLUGINS_URL, body, format="json").status_code == 204
    again = api.post(PLUGINS_URL, body, format="json")
    assert field_errors(again, "plugins.0.name") == ["plugin already exists for stage pre_request"]
    assert "plugin already exists for stage pre_request" in again.json()["error"]
    assert len(plugins_of(api, "gateway", gateway, gateway["id"])) == 1


@pytest.mark.parametrize("method", ["post", "put", "delete"])
@pytest.mark.parametrize("kind", ["gateway", "rule"])
def test_an_unknown_gateway_or_rule_is_a_404(api, method, kind):
    bodies = {
        "post": {"plugins": [SIZE_LIMIT]},
        "put": {"updates": [{"operation": "add", "plugin": SIZE_LIMIT}]},
        "delete": {"plugins": ["cors"]},
    }
    body = {"type": kind, "id": "4b1c1e59-32f4-4d0c-8a93-0e7d1c6d1e01", **bodies[method]}
    response = getattr(api, method)(PLUGINS_URL, body, format="json")
    assert response.status_code == 404
    assert response.json() == {"error": f"{kind} not found"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "service", "plugins": [SIZE_LIMIT]}, "type"),
        ({"type": "gateway", "id": "nope", "plugins": [SIZE_LIMIT]}, "id"),
        ({"type": "gateway", "plugins": []}, "plugins"),
        ({"type": "gateway", "plugins": [SIZE_LIMIT], "plugin": []}, "plugin"),
        ({"type": "gateway", "plugins": [{**SIZE_LIMIT, "stages": []}]}, "plugins.0.stages"),
        ({"type": "gateway", "plugins": [{**SIZE_LIMIT, "settings": {}}]}, "plugins.0.settings"),
        ({"type": "gateway", "plugins": [{**SIZE_LIMIT, "name": "nope"}]}, "plugins.0.name"),
        ({"type": "gateway", "plugins": [SIZE_LIMIT, SIZE_LIMIT]}, "plugins.1.name"),
    ],
)
def test_invalid_add_bodies_are_400_naming_the_field(api, gateway, body, field):
    response = api.post(PLUGINS_URL, {"id": gateway["id"], **body}, format="json")
    assert field_errors(response, field)
    assert plugins_of(api, "gateway", gateway, gateway["id"]) == []


def test_granular_updates_apply_in_order(api, gateway):
    service = make_service(api, gateway)
    rule = make_rule(api, gateway, service)
    owner = {"type": "rule", "id": rule["id"]}
    assert (
        api.post(PLUGINS_URL, {**owner, "plugins": [SIZE_LIMIT]}, format="json").status_code == 204
    )
    kept_id = plugins_of(api, "rule", rule, gateway["id"])[0]["id"]
    larger = {**SIZE_LIMIT, "settings": {"allowed_payload_size": 5, "size_unit": "megabytes"}}
    updates = [
        {"operation": "add", "plugin": BLOCK_LOCALHOST},
        {"operation": "edit", "plugin": larger},
        {"operation": "delete", "plugin_name": "ip_blacklist"},
        {"operation": "add", "plugin": {**BLOCK_LOCALHOST, "name": "ip_whitelist"}},
    ]
    response = api.put(PLUGINS_URL, {**owner, "updates": updates}, format="json")
    assert response.status_code == 204, response.content
    chain = plugins_of(api, "rule", rule, gateway["id"])
    assert [plugin["name"] for plugin in chain] == ["request_size_limiter", "ip_whitelist"]
    assert chain[0]["id"] == kept_id
    assert chain[0]["settings"]["allowed_payload_size"] == 5

    renamed = {"operation": "edit", "old_plugin_name": "ip_whitelist", "plugin": BLOCK_LOCALHOST}
    response = api.put(PLUGINS_URL, {**owner, "updates": [renamed]}, format="json")
    assert response.status_code == 204, response.content
    chain = plugins_of(api, "rule", rule, gateway["id"])
    assert [plugin["name"] for plugin in chain] == ["request_size_limiter", "ip_blacklist"]


@pytest.mark.parametrize(
    ("update", "field", "message"),
    [
        ({"operation": "add", "plugin": SIZE_LIMIT}, "updates.1.plugin.name", "plugin already"),
        ({"operation": "edit", "plugin": BLOCK_LOCALHOST}, "updates.1.plugin.name", "No plugin"),
        (
            {"operation": "edit", "old_plugin_name": "cors", "plugin": SIZE_LIMIT},
            "updates.1.old_plugin_name",
            "No plugin",
        ),
        ({"operation": "delete", "plugin_name": "cors"}, "updates.1.plugin_name", "No plugin"),
        ({"operation": "delete"}, "updates.1.plugin_name", "Required"),
        ({"operation": "add"}, "updates.1.plugin", "Required"),
        ({"operation": "move", "plugin": SIZE_LIMIT}, "updates.1.operation", ""),
        ({"operation": "add", "plugin": SIZE_LIMIT, "index": 1}, "updates.1.index", "Unknown"),
    ],
)
def test_a_refused_update_refuses_them_all(api, gateway, update, field, message):
    owner = {"type": "gateway", "id": gateway["id"]}
    assert (
        api.post(PLUGINS_URL, {**owner, "plugins": [SIZE_LIMIT]}, format="json").status_code == 204
    )
    before = plugins_of(api, "gateway", gateway, gateway["id"])
    allowed = {**BLOCK_LOCALHOST, "name": "ip_whitelist"}
    updates = [{"operation": "add", "plugin": allowed}, update]  # the first one is valid
    response = api.put(PLUGINS_URL, {**owner, "updates": updates}, format="json")
    assert field_errors(response, field)[0].startswith(message)
    assert plugins_of(api, "gateway", gateway, gateway["id"]) == before


def test_a_delete_may_name_its_plugin_as_trustgate_clients_do(api, gateway):
    owner = {"type": "gateway", "id": gateway["id"]}
    assert (
        api.post(PLUGINS_URL, {**owner, "plugins": [SIZE_LIMIT]}, format="json").status_code == 204
    )
    update = {"operation": "delete", "plugin": {"name": "request_size_limiter"}}
    response = api.put(PLUGINS_URL, {**owner, "updates": [update]}, format="json")
    assert response.status_code == 204, response.content
    assert plugins_of(api, "gateway", gateway, gateway["id"]) == []


def test_deleting_a_plugin_that_is_not_there_is_refused(api, gateway):
    body = {"type": "gateway", "id": gateway["id"], "plugins": ["cors"]}
    response = api.delete(PLUGINS_URL, body, format="json")
    assert field_errors(response, "plugins.0") == ["No plugin named 'cors' in this chain."]


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("put", {"updates": [{"operation": "delete", "plugin_name": "cors"}], "update": []}),
        ("delete", {"plugins": ["cors"], "plugin": "cors"}),
    ],
)
def test_unknown_keys_of_plugin_writes_are_named(api, gateway, method, body):
    response = getattr(api, method)(
        PLUGINS_URL, {"type": "gateway", "id": gateway["id"], **body}, format="json"
    )
    extra = next(key for key in body if key not in {"updates", "plugins"})
    assert field_errors(response, extra) == ["Unknown field."]


def test_plugin_writes_need_admin_credentials(anonymous_api, gateway):
    body = {"type": "gateway", "id": gateway["id"], "plugins": [SIZE_LIMIT]}
    assert anonymous_api.post(PLUGINS_URL, body, format="json").status_code == 401


# --- list shapes (list_gateway_test.go) and public keys (list_api_keys_public_handler.go) ---


def test_gateways_list_in_trustgate_shape_on_request(api):
    for name in ("one", "two", "three"):
        make_gateway(api, name)
    default = api.get("/api/v1/gateways").json()
    assert set(default) == {"count", "next", "previous", "results"}
    by_query = api.get("/api/v1/gateways?format=trustgate&limit=2&offset=1")
    assert by_query.status_code == 200
    assert by_query["Content-Type"] == "application/json"
    body = by_query.json()
    assert (set(body), body["count"], body["offset"], body["limit"]) == (
        {"gateways", "count", "offset", "limit"},
        3,
        1,
        2,
    )
    assert [g["name"] for g in body["gateways"]] == ["two", "one"]  # newest first
    by_accept = api.get("/api/v1/gateways", HTTP_ACCEPT="application/json; profile=trustgate")
    assert by_accept.status_code == 200
    assert (len(by_accept.json()["gateways"]), by_accept.json()["limit"]) == (3, 10)


def test_keys_list_in_trustgate_shape_on_request(api, gateway):
    keys = [
        api.post(gateway_url(gateway, "keys"), {"name": f"k{i}"}, format="json").json()
        for i in range(12)
    ]
    body = api.get(gateway_url(gateway, "keys") + "?format=trustgate").json()
    assert set(body) == {"api_keys", "count"}
    assert (len(body["api_keys"]), body["count"]) == (12, 12)  # whole, as TrustGate lists them
    assert {key["id"] for key in body["api_keys"]} == {key["id"] for key in keys}
    assert all("key" not in key for key in body["api_keys"])
    assert len(api.get(gateway_url(gateway, "keys")).json()["results"]) == 10


def test_public_keys_show_only_the_prefix(api, anonymous_api, gateway):
    created = api.post(gateway_url(gateway, "keys"), {"name": "k"}, format="json").json()
    response = api.get(gateway_url(gateway, "public-keys"))
    assert response.status_code == 200
    assert response.json()["count"] == 1
    [listed] = response.json()["api_keys"]
    assert listed["key"] == f"{created['prefix']}..."
    assert created["key"] not in response.content.decode()
    assert created["key"][len(created["prefix"]) :] not in response.content.decode()
    assert (listed["id"], listed["name"], listed["gateway_id"]) == (
        created["id"],
        "k",
        gateway["id"],
    )
    assert anonymous_api.get(gateway_url(gateway, "public-keys")).status_code == 401
    unknown = "/api/v1/gateways/4b1c1e59-32f4-4d0c-8a93-0e7d1c6d1e01/public-keys"
    assert api.get(unknown).status_code == 404


def test_a_body_sent_to_rotate_is_refused_not_ignored(api, gateway):
    key = api.post(gateway_url(gateway, "keys"), {"name": "k"}, format="json").json()
    url = gateway_url(gateway, "keys", key["id"]) + "/rotate"
    response = api.post(url, {"expires_at": "2099-01-01T00:00:00Z"}, format="json")
    assert field_errors(response, "expires_at") == ["Unknown field."]
    assert api.post(url).status_code == 200


def test_an_unknown_format_is_ignored_not_a_404(api):
    response = api.get("/api/v1/gateways?format=xml")
    assert response.status_code == 200
    assert "results" in response.json()
